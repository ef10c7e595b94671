"""Checks the exercise tests share: the tutorial's shapes, tolerances, and how to compare.

Tolerances, and why:
* Accuracy is a count of correct digits over a fixed set: compared as a
  count, so any correct way of computing it passes (a graph's float32 mean of
  1841/2000 is 0.92049998, numpy's is 0.9205; both are 1841 digits).
* Probabilities after reload are bit-identical on CPU (same graph, same
  weights, same kernels). They are compared with an absolute tolerance of
  1e-6, room for float32 rounding only should a platform pick another
  kernel, while any real loss (a layer re-initialised, a weight rounded)
  moves them by far more.
* A student's architecture is compared with the reference's at 1e-5: the
  same layers written another way round differently, a wrong layer is off
  by far more.
* Trained by the tutorial's loop from the reference's initial weights, a
  student's model must reach the reference's test accuracy within 1 point.
  Starting from the same weights matters: over initialisation seeds the
  same architecture ends anywhere between 84 and 94 %.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from savedmodel_kata.kinds.base import Score
from savedmodel_kata.plugin.hypothesis_profiles import examples  # noqa: F401 (tests use it)

EXPECTED_PARAMETERS = 2830
# The tutorial's layers: conv1, conv2, conv3 (kernel, bias), dense 32, dense 10.
EXPECTED_VARIABLE_SHAPES = sorted(
    [
        (3, 3, 1, 8),
        (8,),
        (3, 3, 8, 16),
        (16,),
        (1, 1, 16, 4),
        (4,),
        (36, 32),
        (32,),
        (32, 10),
        (10,),
    ]
)
PROBABILITY_TOLERANCE = 1e-6
ARCHITECTURE_TOLERANCE = 1e-5
ACCURACY_MARGIN_VS_REFERENCE = 0.01
SAVED_MODEL_INIT_OP = "__saved_model_init_op"
PREDICT_METHOD = "tensorflow/serving/predict"

# Subsets of the 2,000 test digits for evaluate's property test: one digit,
# and 286 spread over the set (more than any fixed slice a mistake might take).
SUBSET_EXAMPLES = ([0], list(range(0, 2000, 7)))


def digits_counted(accuracy: object, total: int) -> int | None:
    """The number of correct digits `accuracy` stands for, over `total`; None if it stands
    for none."""
    score = Score.from_accuracy(accuracy, total)
    return None if score is None else score.correct


def same_count(accuracy: object, expected: Score) -> bool:
    return Score.from_accuracy(accuracy, expected.total) == expected


def check_counts_correct(accuracy, probabilities, labels) -> None:
    """Assert that `accuracy` is the share of rows whose most likely digit is the label."""
    expected = Score(int(np.sum(np.argmax(probabilities, axis=1) == labels)), len(labels))
    assert isinstance(accuracy, float) and same_count(accuracy, expected), (
        f"on {expected.total} digits of which the model gets {expected.correct} right, evaluate "
        f"returned {accuracy!r}; expected {expected}. Is every image given counted, and are the "
        "labels in the same order as the images?"
    )


def read_saved_model(export_dir: Path):
    """The SavedModel protocol buffer, read straight from saved_model.pb."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(export_dir) / "saved_model.pb").read_bytes())
    return proto


def shape_of(tensor_info) -> list[int]:
    return [dim.size for dim in tensor_info.tensor_shape.dim]


def parameter_report(shapes: list[tuple], names: list[str]) -> str | None:
    """None if `shapes` are the tutorial's, else a message listing what was found."""
    found = sorted(shapes)
    total = sum(int(np.prod(shape)) for shape in found)
    if total == EXPECTED_PARAMETERS and found == EXPECTED_VARIABLE_SHAPES:
        return None
    listing = (
        "\n".join(f"    {name}: {list(shape)}" for name, shape in zip(names, shapes, strict=False))
        or "    (none)"
    )
    return (
        f"the model has {total} trainable parameters in these variables:\n{listing}\n"
        f"expected {EXPECTED_PARAMETERS}: kernels 3x3x1x8, 3x3x8x16, 1x1x16x4, 36x32 and 32x10, "
        "each with a bias. A wrong count usually means a wrong filter number, 'VALID' convolution "
        "padding, or a missing pooling layer (the flattened size must be 3*3*4 = 36)."
    )


def describe_check(description, key) -> None:
    """Assert that a TF2 signature description has the shape exercises 2 and 4 ask for."""
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    tf = import_tensorflow()
    assert isinstance(description, dict) and {"inputs", "outputs", "function", "loaded"} <= set(
        description
    ), (
        f"load_signature_tensors(export_dir, {key!r}) returned {description!r}; expected a dict "
        "with 'inputs', 'outputs', 'function' and 'loaded'"
    )
    for side in ("inputs", "outputs"):
        specs = description[side]
        assert isinstance(specs, dict) and all(
            isinstance(s, tf.TensorSpec) for s in specs.values()
        ), f"description[{side!r}] is {specs!r}; expected a dict from names to tf.TensorSpec" + (
            " (a TF1 export's structured_outputs are tensors: tf.TensorSpec.from_tensor)"
            if side == "outputs"
            else ""
        )
    assert callable(description["function"]), "description['function'] is not callable"


@contextmanager
def opened(kind, model):
    """`model` for the block, closed after it (a graph model's session)."""
    try:
        yield model
    finally:
        kind.close(model)


@contextmanager
def loaded_with(kind, load_signature_tensors, directory, key):
    """An export reloaded by `load_signature_tensors`, closed after the block."""
    loaded = kind.load(load_signature_tensors, directory, key)
    try:
        yield loaded
    finally:
        loaded.close()
