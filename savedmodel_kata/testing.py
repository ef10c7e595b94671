"""What the exercise test modules share: the tutorial's expected shapes,
tolerances, reading saved_model.pb, and per-module memoisation."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

EXPECTED_PARAMETERS = 2830
# The tutorial's layers: conv1, conv2, conv3 (kernel, bias), dense 32, dense 10.
EXPECTED_VARIABLE_SHAPES = sorted(
    [(3, 3, 1, 8), (8,), (3, 3, 8, 16), (16,), (1, 1, 16, 4), (4,), (36, 32), (32,), (32, 10), (10,)]
)
# Probabilities after reload are bit-identical on CPU; 1e-6 leaves room for
# float32 rounding only, should a platform pick another kernel.
PROBABILITY_TOLERANCE = 1e-6
# The same layers written another way round differently, a wrong layer by far more.
ARCHITECTURE_TOLERANCE = 1e-5
# Trained from the same initial weights, the same architecture lands within a point.
ACCURACY_MARGIN_VS_REFERENCE = 0.01
SAVED_MODEL_INIT_OP = "__saved_model_init_op"


def examples(count: int) -> int:
    """`count` Hypothesis examples, or fewer if the loaded profile asks for fewer (kata-watch does)."""
    from hypothesis import settings

    return min(count, settings.default.max_examples)


# Subsets of the 2,000 test digits for evaluate's property test: one digit,
# and 286 spread over the set (more than any fixed slice a mistake might take).
SUBSET_EXAMPLES = ([0], list(range(0, 2000, 7)))


def check_counts_correct(accuracy, probabilities, labels) -> None:
    """Assert that `accuracy` is the share of rows whose most likely digit is the label."""
    correct = int(np.sum(np.argmax(probabilities, axis=1) == labels))
    assert isinstance(accuracy, float) and abs(accuracy * len(labels) - correct) < 1e-3, (
        f"on {len(labels)} digits of which the model gets {correct} right, evaluate returned {accuracy!r}; "
        f"expected {correct}/{len(labels)} = {correct / len(labels)!r}. Is every image given counted, and "
        "are the labels in the same order as the images?"
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
    listing = "\n".join(f"    {name}: {list(shape)}" for name, shape in zip(names, shapes)) or "    (none)"
    return (
        f"the model has {total} trainable parameters in these variables:\n{listing}\n"
        f"expected {EXPECTED_PARAMETERS}: kernels 3x3x1x8, 3x3x8x16, 1x1x16x4, 36x32 and 32x10, "
        "each with a bias. A wrong count usually means a wrong filter number, 'VALID' convolution "
        "padding, or a missing pooling layer (the flattened size must be 3*3*4 = 36)."
    )


class Memo(dict):
    """Results computed inside tests (so a stub fails the test, not a fixture), kept per module."""

    def remember(self, key: str, compute):
        if key not in self:
            self[key] = compute()
        return self[key]

    def __repr__(self) -> str:  # Hypothesis prints fixtures with a falsifying example
        return f"<memo of {', '.join(self) or 'nothing yet'}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


_counter = itertools.count()


def new_export_dir(tmp_path_factory) -> Path:
    """A path that does not exist yet (SavedModel exporters refuse existing folders)."""
    return tmp_path_factory.mktemp("export") / f"model-{next(_counter)}"


# --- graph mode (exercises 1 and 4) ------------------------------------------


def load_into_new_session(load_signature_tensors, export_dir, *args, **kwargs):
    """Run a TF1-style loader in a fresh graph and session, as a server would; return (session, result)."""
    from savedmodel_kata.tf_setup import import_tensorflow

    tf = import_tensorflow()
    session = tf.compat.v1.Session(graph=tf.Graph())
    with session.graph.as_default():
        result = load_signature_tensors(session, str(export_dir), *args, **kwargs)
    return session, result


def export_with(save, model, export_dir: Path) -> Path:
    """Call a graph-mode save(sess, export_dir, x, y, y_pred, acc) on a training.GraphModel."""
    with model.graph.as_default():
        save(model.session, str(export_dir), model.x, model.y, model.prediction, model.accuracy)
    return export_dir


def describe_check(description, key) -> None:
    """Assert that a TF2 signature description has the shape exercises 2 and 4 ask for."""
    from savedmodel_kata.tf_setup import import_tensorflow

    tf = import_tensorflow()
    assert isinstance(description, dict) and {"inputs", "outputs", "function", "loaded"} <= set(description), (
        f"load_signature_tensors(export_dir, {key!r}) returned {description!r}; expected a dict with "
        "'inputs', 'outputs', 'function' and 'loaded'"
    )
    for side in ("inputs", "outputs"):
        specs = description[side]
        assert isinstance(specs, dict) and all(isinstance(s, tf.TensorSpec) for s in specs.values()), (
            f"description[{side!r}] is {specs!r}; expected a dict from names to tf.TensorSpec"
            + (" (a TF1 export's structured_outputs are tensors: tf.TensorSpec.from_tensor)" if side == "outputs" else "")
        )
    assert callable(description["function"]), "description['function'] is not callable"
