"""Checks the exercise tests share: the tutorial's shapes, tolerances, and how to compare.

Tolerances, and why:
* Accuracy is a count of correct digits over a fixed set: compared as a
  count, so any correct way of computing it passes (a graph's float32 mean of
  1841/2000 is 0.92049998, numpy's is 0.9205; both are 1841 digits).
* Probabilities after reload are compared with an absolute tolerance of
  1e-5. Correct answers spread by up to about 2e-6 (measured on the trained
  models of exercises 1, 2, 3 and 5, 2,000 test digits): the same model
  predicting one image at a time instead of a batch differs by up to 7.5e-7
  (oneDNN picks another kernel), mathematically equal softmaxes (exp of
  log_softmax, exp over its sum, float64 then cast) by up to 3e-7, and pixels
  multiplied by 1/255 instead of divided by 255 by up to 1.6e-6; one export
  was once rejected at 1.01e-6. 1e-5 is five times the worst of these
  together, while a real loss moves them by far more (weights rounded to
  float16: 1.8e-3; pixels divided by 256: 2.2e-3).
* A student's architecture is compared with the reference's at 1e-5: the
  same layers written another way round differently, a wrong layer is off
  by far more.
* Trained by the tutorial's loop from the reference's initial weights, a
  student's model must reach the reference's test accuracy within 1 point.
  Starting from the same weights matters: over initialisation seeds the
  same architecture ends anywhere between 84 and 94 %.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from savedmodel_kata.kinds.base import Kind, Loaded, Score, Trained, saved_model_file
from savedmodel_kata.plugin.hypothesis_profiles import examples  # noqa: F401 (tests use it)

if TYPE_CHECKING:  # the fixtures' types, for annotations only: no imports at run time
    from savedmodel_kata.code_under_test import StudentCode
    from savedmodel_kata.mnist import Digits
    from savedmodel_kata.plugin.fixtures import BeforeSave

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
PROBABILITY_TOLERANCE = 1e-5  # measured: see the module docstring
ARCHITECTURE_TOLERANCE = 1e-5
ACCURACY_MARGIN_VS_REFERENCE = 0.01
SAVED_MODEL_INIT_OP = "__saved_model_init_op"
PREDICT_METHOD = "tensorflow/serving/predict"

# Subsets of the 2,000 test digits for evaluate's property test: one digit,
# and 286 spread over the set (more than any fixed slice a mistake might take).
SUBSET_EXAMPLES = ([0], list(range(0, 2000, 7)))


def key_id(key: str) -> str:
    """A parametrized test's id for a signature key: never an exercise function's name, so
    `pytest -k evaluate` selects evaluate's tests, not save's test of the 'evaluate' signature."""
    return "accuracy-signature" if key == "evaluate" else key


def digits_counted(accuracy: object, total: int) -> int | None:
    """The number of correct digits `accuracy` stands for, over `total`; None if it stands
    for none."""
    score = Score.from_accuracy(accuracy, total)
    return None if score is None else score.correct


def same_count(accuracy: object, expected: Score) -> bool:
    return Score.from_accuracy(accuracy, expected.total) == expected


CHANCE = 0.15  # ten digits: an untrained model gets about one in ten right


def accuracy_problem(
    accuracy: object,
    expected: Score,
    elsewhere: Score | None = None,
    source: str = "evaluate returned",
) -> str:
    """Why `accuracy` is not the share `expected`, from what the value itself shows
    (`elsewhere`: the score of another set of digits, that a kept answer would repeat;
    `source`: who gave the value). Shares are shown exact (263/286 = 0.9195804195804196):
    a rounded one could read as the value returned."""
    what = (
        f"{source} {accuracy!r}; of these {expected.total} digits the model gets "
        f"{_exact_share(expected)}"
    )
    if not isinstance(accuracy, float):
        return (
            f"{what}, and {type(accuracy).__name__} is not a Python float: return "
            "float(value) (it converts a numpy or TensorFlow scalar)"
        )
    if 1 < accuracy <= 100:
        return f"{what}: this looks like a percentage, drop the * 100 (a fraction is in [0, 1])"
    places = _rounded_places(accuracy, expected)
    if places is not None:
        return (
            f"{source} {accuracy!r}, which looks rounded to {places} "
            f"place{'s' if places > 1 else ''}: the exact share is {_exact_share(expected)} (the "
            f"model gets {expected.correct} of these {expected.total} digits). Return the "
            "fraction as computed, not rounded: the tests compare counts of digits, so no "
            "rounding is needed"
        )
    if elsewhere is not None and Score.from_accuracy(accuracy, elsewhere.total) == elsewhere:
        return (
            f"{what}, and {accuracy!r} is the accuracy of other digits "
            f"({_exact_share(elsewhere)}): every call computes its own images' accuracy, never "
            "one kept from an earlier call"
        )
    counted = Score.from_accuracy(accuracy, expected.total)
    if counted is None:
        return (
            f"{what}, and {accuracy!r} is not a whole number of digits out of "
            f"{expected.total} ({accuracy!r} * {expected.total} = "
            f"{accuracy * expected.total:.6g}): the fraction was taken over another number of "
            "images (one dropped?), or per-batch accuracies were averaged over a ragged last "
            "batch. Count the correct predictions of all the images, then divide once by their "
            "number"
        )
    if counted.correct <= CHANCE * expected.total < expected.correct:
        return (
            f"{what}, and {counted.correct} right is chance: either the labels do not match the "
            "images (shifted, reordered, one-hot rows built wrong), or the weights are untrained "
            "(an initializer run after loading resets them)"
        )
    return (
        f"{what}, and {accuracy!r} stands for {counted.correct} right. Is every image given "
        "counted, and are the labels in the same order as the images?"
    )


ROUNDED_PLACES = range(1, 7)  # round(accuracy, n) for these n is recognised as rounding


def _exact_share(score: Score) -> str:
    """1841/2000 = 0.9205, 263/286 = 0.9195804195804196: the fraction, every digit of it."""
    return f"{score.correct}/{score.total} = {score.accuracy!r}"


def _rounded_places(accuracy: float, expected: Score) -> int | None:
    """The fewest decimal places that round the exact share (in float64, or float32 as a
    graph computes it) to `accuracy`, when rounding changed it; else None."""
    exact = expected.accuracy
    if not 0 < accuracy < 1 or same_count(accuracy, expected):
        return None
    for places in ROUNDED_PLACES:
        if accuracy in (round(exact, places), round(float(np.float32(exact)), places)):
            return places
    return None


def check_accuracy(accuracy: object, expected: Score, elsewhere: Score | None = None) -> None:
    """Assert that `accuracy` is a Python float that stands for exactly `expected` digits."""
    assert isinstance(accuracy, float) and same_count(accuracy, expected), accuracy_problem(
        accuracy, expected, elsewhere
    )


def check_a_fraction(accuracy: object) -> None:
    """Assert that `accuracy` is a Python float in [0, 1] (naming a percentage as one)."""
    assert isinstance(accuracy, float), (
        f"evaluate returned {type(accuracy).__name__} {accuracy!r}; expected a Python float "
        "(float(value) converts a numpy scalar)"
    )
    assert 0.0 <= accuracy <= 1.0, (
        f"evaluate returned {accuracy!r}; an accuracy is a fraction in [0, 1]"
        + (": this looks like a percentage, drop the * 100" if 1 < accuracy <= 100 else "")
    )


def check_counts_correct(
    accuracy: object,
    probabilities: np.ndarray,
    labels: np.ndarray,
    elsewhere: Score | None = None,
) -> None:
    """Assert that `accuracy` is the share of rows whose most likely digit is the label."""
    expected = Score(int(np.sum(np.argmax(probabilities, axis=1) == labels)), len(labels))
    check_accuracy(accuracy, expected, elsewhere)


def check_a_savedmodel_folder(export_dir: Path, no_model: str, no_variables: str | None) -> None:
    """Assert that `export_dir` holds a SavedModel proto (else `no_model`) and, unless
    `no_variables` is None, its variables (else `no_variables`). The messages are templates:
    {export_dir}, and {held} for what the folder holds."""
    export_dir = Path(export_dir)
    held = sorted(p.name for p in export_dir.iterdir()) if export_dir.is_dir() else "nothing"
    assert saved_model_file(export_dir) is not None, no_model.format(
        export_dir=export_dir, held=held
    )
    if no_variables is not None:
        assert (export_dir / "variables" / "variables.index").is_file(), no_variables.format(
            export_dir=export_dir, held=held
        )


def read_saved_model(export_dir: Path) -> Any:
    """The SavedModel protocol buffer, read from saved_model.pb (or saved_model.pbtxt)."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    path = saved_model_file(export_dir)
    assert path is not None, (
        f"there is no saved_model.pb in the export folder ({Path(export_dir).name}): the "
        "SavedModel was not written there (simple_save writes it; with a Builder, builder.save() "
        "does)"
    )
    proto = saved_model_pb2.SavedModel()
    if path.suffix == ".pbtxt":
        text_format.Parse(path.read_text(), proto)
    else:
        proto.ParseFromString(path.read_bytes())
    return proto


def shape_of(tensor_info: Any) -> list[int]:
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
    transposed = [
        f"{name} is {list(shape)}, the tutorial's {list(shape[::-1])} transposed"
        for name, shape in zip(names, shapes, strict=False)
        if len(shape) == 2
        and shape not in EXPECTED_VARIABLE_SHAPES
        and shape[::-1] in EXPECTED_VARIABLE_SHAPES
    ]
    if transposed:
        return (
            f"the model's trainable variables are:\n{listing}\n" + "; ".join(transposed) + ": a "
            "kernel stored transposed (used with transpose_b) computes the same, but keep the "
            "tutorial's layout, [inputs, units] for a dense kernel: the harness sets and reads "
            "weights by shape, to start your model where the reference starts."
        )
    missing = [list(shape) for shape in EXPECTED_VARIABLE_SHAPES if shape not in found]
    hint = (
        f"\nMissing: {missing}. Every weight must be a variable the model owns (a tf.Variable "
        "attribute, a get_variable, a layer's weight): a plain tensor is a constant, never "
        "trained and never saved."
        if len(found) < len(EXPECTED_VARIABLE_SHAPES)
        else ""
    )
    return (
        f"the model has {total} trainable parameters in these variables:\n{listing}\n"
        f"expected {EXPECTED_PARAMETERS}: kernels 3x3x1x8, 3x3x8x16, 1x1x16x4, 36x32 and 32x10, "
        "each with a bias. A wrong count usually means a wrong filter number, 'VALID' convolution "
        "padding, or a missing pooling layer (the flattened size must be 3*3*4 = 36)." + hint
    )


def describe_check(description: Any, key: str) -> None:
    """Assert that a TF2 signature description has the shape exercises 2 and 4 ask for."""
    assert isinstance(description, dict) and {"inputs", "outputs", "function", "loaded"} <= set(
        description
    ), (
        f"load_signature_tensors(export_dir, {key!r}) returned {description!r}; expected a dict "
        "with 'inputs', 'outputs', 'function' and 'loaded'"
    )
    check_sides_are_specs(
        description,
        lambda side, specs: (
            f"description[{side!r}] is {specs!r}; expected a dict from names to tf.TensorSpec"
            + (
                " (a TF1 export's structured_outputs are tensors: tf.TensorSpec.from_tensor)"
                if side == "outputs"
                else ""
            )
        ),
    )
    assert callable(description["function"]), "description['function'] is not callable"


def are_tensor_specs(specs: object) -> bool:
    """Whether `specs` is what a loader returns for a signature's side: {name: tf.TensorSpec}."""
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    tf = import_tensorflow()
    return isinstance(specs, dict) and all(isinstance(s, tf.TensorSpec) for s in specs.values())


def check_sides_are_specs(described: Mapping[str, Any], problem: Callable[[str, Any], str]) -> None:
    """Assert that `described`'s 'inputs' and 'outputs' are each {name: tf.TensorSpec};
    `problem(side, specs)` says what one is instead."""
    for side in ("inputs", "outputs"):
        specs = described[side]
        assert are_tensor_specs(specs), problem(side, specs)


def _as_loaded(
    declared: tuple[Any, Sequence[int]] | Sequence[int],
) -> tuple[Any, list[int | None]] | list[int | None]:
    """A declared spec ((dtype, shape) or a shape, -1 for any batch as the proto stores it) as a
    loaded tf.TensorSpec shows it: None for any batch."""
    if isinstance(declared, tuple):
        dtype, shape = declared
        return dtype, [None if d == -1 else d for d in shape]
    return [None if d == -1 else d for d in declared]


def check_specs_as_exported(
    described: Mapping[str, Any],
    declared: Sequence[Mapping[str, Any]],
    where: str,
    *,
    with_dtypes: bool = True,
    no_inputs: str = "",
) -> None:
    """Assert that `described`'s 'inputs' and 'outputs' ({name: tf.TensorSpec}) are the
    `declared` pair's ({name: (dtype, shape)}, or {name: shape} without `with_dtypes`).
    `where` begins the message; `no_inputs` ends it when no input was described."""
    for side, expected in zip(("inputs", "outputs"), declared, strict=True):
        found = {
            name: (spec.dtype, spec.shape.as_list()) if with_dtypes else spec.shape.as_list()
            for name, spec in described[side].items()
        }
        wanted = {name: _as_loaded(spec) for name, spec in expected.items()}
        assert found == wanted, f"{where}{side} are {found}; the export says {wanted}" + (
            no_inputs if side == "inputs" and not found else ""
        )


@contextmanager
def opened(kind: Kind, model: Any) -> Iterator[Any]:
    """`model` for the block, closed after it (a graph model's session)."""
    try:
        yield model
    finally:
        kind.close(model)


@contextmanager
def loaded_with(
    kind: Kind, load_signature_tensors: Callable[..., Any], directory: Path, key: str
) -> Iterator[Loaded]:
    """An export reloaded by `load_signature_tensors`, closed after the block."""
    loaded = kind.load(load_signature_tensors, directory, key)
    try:
        yield loaded
    finally:
        loaded.close()


def _count_through(
    kind: Kind,
    load_signature_tensors: Callable[..., Any],
    evaluate: Callable[..., Any],
    directory: Path,
    data: Digits,
) -> Score | None:
    """The count of correct test digits an export gives through a loader and an evaluate."""
    with loaded_with(kind, load_signature_tensors, directory, kind.evaluate_key) as loaded:
        accuracy = kind.evaluate(evaluate, loaded, data.test_images, data.test_labels)
    return Score.from_accuracy(accuracy, len(data.test_labels))


def broken_link(
    kind: Kind,
    student: StudentCode,
    reference: ModuleType,
    directory: Path,
    data: Digits,
    expected: Score,
) -> str:
    """Which of the student's save, load_signature_tensors and evaluate broke the chain:
    swap the reference's functions in one at a time and see where the count goes wrong."""

    def counted(load_signature_tensors: Callable[..., Any]) -> Score | None:
        return _count_through(kind, load_signature_tensors, reference.evaluate, directory, data)

    try:
        by_reference = counted(reference.load_signature_tensors)
    except Exception as error:  # the reference's loader cannot use the student's export
        return f"save() (the reference's loader fails on your export: {type(error).__name__})"
    if by_reference != expected:
        return "save() (the reference's loader and evaluate get another count from your export)"
    try:
        by_yours = counted(student.load_signature_tensors)
    except Exception as error:
        return (
            "load_signature_tensors() (the reference's evaluate fails on what it returns: "
            f"{type(error).__name__})"
        )
    if by_yours != expected:
        return "load_signature_tensors() (the reference's evaluate gets another count through it)"
    return "evaluate() (the reference's loader and evaluate get the right count from your export)"


def check_end_to_end(
    kind: Kind,
    student: StudentCode,
    reference: ModuleType,
    trained: Trained,
    data: Digits,
    directory: Path,
) -> None:
    """Your four functions chained: trained, exported, reloaded and scored, nothing lost."""
    before = kind.score(trained.model, data.test_images, data.test_labels)
    with loaded_with(kind, student.load_signature_tensors, directory, kind.evaluate_key) as loaded:
        after = kind.evaluate(student.evaluate, loaded, data.test_images, data.test_labels)
    if not same_count(after, before):
        culprit = broken_link(kind, student, reference, directory, data, before)
        raise AssertionError(
            f"your model got {before} of the test digits right before save, and your evaluate "
            f"gives {after!r} after your save and your load: something was lost on the way. "
            f"The chain breaks at your {culprit}."
        )


# Own-initialised, the tutorial's network reaches 84 to 94 % after 5 epochs (by seed);
# zero or huge initial weights leave it near chance.
OWN_START_MIN_ACCURACY = 0.80


def glorot_limit(shape: tuple) -> float:
    """The glorot uniform bound of a kernel: sqrt(6 / (fan_in + fan_out))."""
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


def spread_tolerance(size: int) -> float:
    """How far the root mean square of `size` uniform draws may stray from the uniform's
    deviation, relatively: 6 standard errors. The mean square of n draws of uniform(-a, a) has
    relative deviation sqrt(0.8 / n), its root half that. The smallest kernel (64 values) gets
    +-34 %, well inside glorot normal's constant used as a bound (-42 %)."""
    return 6 * 0.5 * float(np.sqrt(0.8 / size))


def initial_values_problem(named: list[tuple[str, np.ndarray]]) -> str | None:
    """None if kernels look glorot uniform and biases are zero, else what is off and where."""
    problems = []
    for name, value in named:
        value = np.asarray(value)
        if value.ndim == 1:
            if np.any(value != 0):
                problems.append(f"{name} starts at {value[:3]}...: biases start at zero")
            continue
        limit = glorot_limit(value.shape)
        expected = limit / np.sqrt(3)  # the standard deviation of uniform(-limit, limit)
        spread = float(np.sqrt(np.mean(np.square(value))))
        if float(np.max(np.abs(value))) > limit * (1 + 1e-5):
            problems.append(
                f"{name} has values up to {np.max(np.abs(value)):.3g}, beyond the glorot uniform "
                f"bound {limit:.3g} of its shape"
            )
        elif spread < 0.5 * expected:
            problems.append(
                f"{name} starts with a spread of {spread:.3g} (glorot uniform: about "
                f"{expected:.3g}): zero or constant kernels never learn"
            )
        elif abs(spread / expected - 1) > spread_tolerance(value.size):
            problems.append(
                f"{name} starts with a spread of {spread:.3g}; glorot uniform over "
                f"[-{limit:.3g}, {limit:.3g}] gives about {expected:.3g}: draw uniformly up to "
                "sqrt(6 / (fan_in + fan_out)) (sqrt(2 / ...) is glorot normal's deviation, "
                "not a uniform's bound)"
            )
    if not problems:
        return None
    return (
        "the model's initial weights are not the tutorial's (glorot uniform kernels, zero "
        "biases):\n  " + "\n  ".join(problems[:6])
    )


def check_a_new_model_each_call(first: Any, second: Any) -> None:
    """Two calls of create_model give two models that share no variable."""
    assert second is not first, (
        "create_model returned the same object twice: each call must build a new, untrained "
        "model (a model kept in a global carries its training into the next test)"
    )
    shared = {id(v) for v in first.trainable_variables} & {
        id(v) for v in second.trainable_variables
    }
    assert not shared, (
        f"two models from create_model share {len(shared)} variables: make the variables "
        "inside create_model (or the class), never once at import time"
    )


ARCHITECTURE_PROBLEM = (
    "with the reference's trained weights in your variables, your model's probabilities "
    "differ from the reference's by up to {worst:.3g}. The layers compute something else: "
    "check the order (conv, ReLU, pool), 'SAME' convolutions, 'VALID' 2x2 pools with stride "
    "2, the ReLU on dense 32 and none on dense 10, that flatten keeps the [batch, 3, 3, 4] "
    "order, and that there are no other layers (no dropout)."
)


def looks_like_probabilities(scores: np.ndarray) -> bool:
    """Whether a model's outputs are non-negative rows that each sum to 1."""
    return bool(np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3))


def check_model_type(model: Any, expected_type: type, expected: str) -> None:
    """Assert that create_model's `model` is an `expected_type` (`expected` describes it)."""
    assert isinstance(model, expected_type), (
        f"create_model returned {type(model).__name__}; expected {expected}"
    )


def check_computes_the_tutorials_function(
    kind: Kind,
    create_model: Callable[..., Any],
    before_save: BeforeSave,
    images: np.ndarray,
    *,
    predict: Callable[[Any, np.ndarray], np.ndarray] | None = None,
    problem: str = ARCHITECTURE_PROBLEM,
) -> None:
    """Given the reference's trained weights, the model computes the reference's probabilities:
    `predict(model, images)` computes them (by default the kind's), `problem` says what is
    wrong ({worst}: the largest difference)."""
    with opened(kind, kind.new_model(create_model, for_training=False)) as model:
        kind.assign(model, before_save.weights)
        probabilities = (predict or kind.predict)(model, images)
    worst = float(np.max(np.abs(probabilities - before_save.probabilities)))
    assert worst <= ARCHITECTURE_TOLERANCE, problem.format(worst=worst)


def check_trains_like_the_reference(student_trained: Trained, reference_trained: Trained) -> None:
    reached = student_trained.stats.test.accuracy
    expected = reference_trained.stats.test.accuracy
    assert abs(reached - expected) <= ACCURACY_MARGIN_VS_REFERENCE, (
        f"trained by the tutorial's loop from the reference's initial weights, your model "
        f"reaches {100 * reached:.1f} % test accuracy; the reference reaches "
        f"{100 * expected:.1f} %. Check the activations (ReLU after each conv and the first "
        "dense layer, none on the last) and that there are no other layers: a softmax in "
        "create_model, for one, trains badly."
    )


def check_trains_from_its_own_start(student_trained_own: Trained) -> None:
    reached = student_trained_own.stats.test.accuracy
    assert reached >= OWN_START_MIN_ACCURACY, (
        f"trained by the tutorial's loop from its own initial weights, your model reaches "
        f"{100 * reached:.1f} % test accuracy (the tutorial's network: 84 to 94 %). Check the "
        "initial values: glorot uniform kernels, zero biases."
    )


def check_the_loaded_objects_own_signature(description: Any, key: str) -> None:
    """'loaded' is what tf.saved_model.load returned, and 'function' its signatures[key] itself."""
    describe_check(description, key)
    loaded = description["loaded"]
    signatures = getattr(loaded, "signatures", None)
    assert signatures is not None and key in signatures, (
        f"'loaded' is {type(loaded).__name__}, not the object tf.saved_model.load returned: keep "
        "that object (it owns the variables the signature reads)"
    )
    assert description["function"] is signatures[key], (
        f"'function' is not loaded.signatures[{key!r}]: return loaded.signatures[signature_key] "
        "itself, from the same load as 'loaded'"
    )


def batches_for_one_load(
    probabilities: np.ndarray, labels: np.ndarray
) -> list[tuple[np.ndarray, Score]]:
    """Two batches of test digits (rows, and what the model gets of them) to feed one reloaded
    'evaluate' in turn: 286 spread over the test set, then 16 of which it gets 4 right. Neither
    is the test set's size nor its accuracy, so an accuracy divided by 2,000, or counted across
    calls (a Keras metric, tf.Variables never reset), answers one of them wrongly."""
    right = np.argmax(probabilities, axis=1) == labels
    batches = [
        np.array(SUBSET_EXAMPLES[1]),
        np.concatenate([np.flatnonzero(~right)[:12], np.flatnonzero(right)[:4]]),
    ]
    return [(rows, Score(int(np.sum(right[rows])), len(rows))) for rows in batches]


def check_answers_each_batch(
    accuracy_of: Callable[[np.ndarray, np.ndarray], object],
    before_save: BeforeSave,
    data: Digits,
    source: str,
) -> None:
    """An export's accuracy, loaded once and fed batches_for_one_load's batches in turn as a
    client feeds it: `accuracy_of(images, labels)` is what it gives; `source` says who gives
    it ({call}: the first or second call)."""
    earlier: list[Score] = []
    batches = batches_for_one_load(before_save.probabilities, data.test_labels)
    for call, (rows, expected) in zip(("first", "second"), batches, strict=True):
        accuracy = accuracy_of(data.test_images[rows], data.test_labels[rows])
        problem = batch_accuracy_problem(accuracy, expected, earlier, source.format(call=call))
        assert problem is None, problem
        earlier.append(expected)


def batch_accuracy_problem(
    accuracy: object, expected: Score, earlier: list[Score], source: str
) -> str | None:
    """None if `accuracy` stands for `expected`, else why not, from what the value shows: the
    accuracy of this batch and of the `earlier` calls' batches together (a count kept between
    calls), or this batch's count over a fixed number of digits (the test set's 2,000)."""
    if same_count(accuracy, expected):
        return None
    what = f"{source} {accuracy!r} for {expected.total} digits of which the model gets {expected}"
    together = Score(
        expected.correct + sum(s.correct for s in earlier),
        expected.total + sum(s.total for s in earlier),
    )
    if earlier and same_count(accuracy, together):
        return (
            f"{what}: {accuracy!r} is the accuracy of this batch and the earlier calls' together "
            f"({together}). It keeps a count between calls (a Keras metric, tf.Variables): "
            "compute each call's accuracy from its own batch only (tf.reduce_mean over it)"
        )
    if isinstance(accuracy, float) and accuracy > 0 and expected.correct >= 10:
        divisor = expected.correct / accuracy
        if abs(divisor - round(divisor)) < 1e-2 and round(divisor) != expected.total:
            return (
                f"{what}: {accuracy!r} is {expected.correct}/{round(divisor)}, its right digits "
                f"over {round(divisor)}, not over the {expected.total} given. Divide by the "
                "batch's own size, never a fixed one such as the test set's (tf.reduce_mean "
                "over the batch)"
            )
    return accuracy_problem(accuracy, expected, source=source)
