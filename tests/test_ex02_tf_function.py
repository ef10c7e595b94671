"""Tests of exercise 2: a tf.Module exported with named tf.function signatures.

Each test grades one function (its `function` mark) and takes the other
three from solutions/. The reference is trained once (TF2 loop in
savedmodel_kata.training_eager) and cached; student code always works on a
private copy of the trained model. Tolerances as in exercise 1
(savedmodel_kata.testing): accuracy exact, probabilities 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from savedmodel_kata import training_eager
from savedmodel_kata.testing import (
    SUBSET_EXAMPLES,
    check_counts_correct,
    examples,
    ACCURACY_MARGIN_VS_REFERENCE,
    ARCHITECTURE_TOLERANCE,
    PROBABILITY_TOLERANCE,
    SAVED_MODEL_INIT_OP,
    describe_check,
    new_export_dir,
    parameter_report,
    read_saved_model,
    shape_of,
)
from savedmodel_kata.tf_setup import import_tensorflow
from savedmodel_kata.training import ModelError

tf = import_tensorflow()

SIGNATURES = {"serving_default", "evaluate"}
EXPECTED_SIGNATURES = {
    "serving_default": (
        {"input": (tf.float32, [-1, 28, 28, 1])},
        {"prediction": (tf.float32, [-1, 10])},
    ),
    "evaluate": (
        {"input": (tf.float32, [-1, 28, 28, 1]), "label": (tf.int64, [-1])},
        {"accuracy": (tf.float32, [])},
    ),
}


class Trained:
    """A trained tf.Module and its training stats (short repr for Hypothesis reports)."""

    def __init__(self, model, stats):
        self.model, self.stats = model, stats

    def __repr__(self):
        return f"<trained model, test accuracy {self.stats['test_accuracy']:.4f}>"

    def _repr_pretty_(self, printer, cycle):
        printer.text(repr(self))


# --- fixtures: the reference, trained once -----------------------------------


@pytest.fixture(scope="module")
def reference_trained(reference, mnist) -> Trained:
    model = training_eager.make_model(reference.create_model)
    return Trained(model, training_eager.train(model, mnist))


@pytest.fixture(scope="module")
def trained_weights(reference_trained):
    """A snapshot of the trained weights, taken before any student code runs."""
    return training_eager.weights_by_shape(reference_trained.model)


@pytest.fixture(scope="module")
def trained_copy(reference, trained_weights):
    """Make a private copy of the trained model, so student code cannot change the shared one."""

    def copy():
        model = training_eager.make_model(reference.create_model)
        training_eager.assign_by_shape(model, trained_weights)
        return model

    return copy


@pytest.fixture(scope="module")
def reference_export(reference, trained_copy, tmp_path_factory):
    export_dir = new_export_dir(tmp_path_factory)
    reference.save(trained_copy(), str(export_dir))
    return export_dir


@pytest.fixture(scope="module")
def before_save(reference_trained, mnist):
    """Probabilities and accuracy of the trained model on the test digits, before any export."""
    model = reference_trained.model
    return (
        training_eager.probabilities(model, mnist[2]),
        training_eager.accuracy(model, mnist[2], mnist[3]),
    )


@pytest.fixture(scope="module")
def student_export(student, trained_copy, memo, tmp_path_factory):
    def export():
        export_dir = new_export_dir(tmp_path_factory)
        student.save(trained_copy(), str(export_dir))
        return export_dir

    return lambda: memo.remember("student_export", export)


@pytest.fixture(scope="module")
def student_model(student, memo):
    return lambda: memo.remember("student_model", lambda: training_eager.make_model(student.create_model))


def call_model(model, images):
    try:
        return np.asarray(model(tf.constant(images)))
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        pytest.fail(
            f"calling your model on a batch of {len(images)} images failed: "
            f"{type(error).__name__}: {str(error).splitlines()[0]}\n"
            "__call__(x) must take float32 [batch, 28, 28, 1] for any batch (use -1 in tf.reshape).",
            pytrace=False,
        )


def reloaded_output(loaded, key, output, **inputs):
    """Call a reloaded signature; a missing signature or output fails with its name."""
    if key not in loaded.signatures:
        pytest.fail(f"the reloaded export has no signature {key!r} (it has {sorted(loaded.signatures)})", pytrace=False)
    outputs = loaded.signatures[key](**{name: tf.constant(value) for name, value in inputs.items()})
    if output not in outputs:
        pytest.fail(
            f"the reloaded {key!r} signature returns {sorted(outputs)}, not {output!r}: return a dict "
            f"with the key {output!r} from the tf.function",
            pytrace=False,
        )
    return outputs[output].numpy()


def signature_of(proto, key):
    return proto.meta_graphs[0].signature_def[key]


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_tf_module(student_model):
    model = student_model()
    assert isinstance(model, tf.Module), (
        f"create_model returned {type(model).__name__}; expected a tf.Module (subclass tf.Module "
        "and call super().__init__()), so tf.saved_model.save can find its variables"
    )
    assert callable(model), "the model is not callable: define __call__(self, x) returning the logits"


@pytest.mark.function("create_model")
@settings(max_examples=examples(8))
@given(batch_size=st.integers(min_value=1, max_value=64))
@example(batch_size=1)
@example(batch_size=33)
def test_create_model_output_shape_for_any_batch_size(student_model, batch_size):
    images = np.random.default_rng(batch_size).random((batch_size, 28, 28, 1), dtype=np.float32)
    logits = call_model(student_model(), images)
    assert logits.shape == (batch_size, 10) and logits.dtype == np.float32, (
        f"a batch of {batch_size} images gave {logits.dtype} logits shaped {logits.shape}; "
        f"expected float32 ({batch_size}, 10)"
    )


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_model):
    variables = list(student_model().trainable_variables)
    problem = parameter_report([tuple(v.shape) for v in variables], [v.name for v in variables])
    assert problem is None, (
        f"create_model: {problem}"
        + ("\nNo variables at all? Assign each tf.Variable to an attribute of the module." if not variables else "")
    )


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(student_model):
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    scores = call_model(student_model(), images)
    looks_like_probabilities = np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)
    assert not looks_like_probabilities, (
        "the model's outputs are non-negative and every row sums to 1: those are probabilities. "
        "Return the logits of the last dense layer; the signatures add the softmax."
    )


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(student, trained_weights, before_save, mnist):
    model = training_eager.make_model(student.create_model)
    try:
        training_eager.assign_by_shape(model, trained_weights)
    except ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    probabilities = tf.nn.softmax(call_model(model, mnist[2])).numpy()
    worst = float(np.max(np.abs(probabilities - before_save[0])))
    assert worst <= ARCHITECTURE_TOLERANCE, (
        f"with the reference's trained weights in your variables, your model's probabilities differ "
        f"from the reference's by up to {worst:.3g}. Check the layer order (conv, ReLU, pool), 'SAME' "
        "convolutions, 'VALID' 2x2 pools with stride 2, ReLU on dense 32 and none on dense 10."
    )


@pytest.mark.function("create_model")
def test_create_model_trains_like_the_reference(student, reference, reference_trained, mnist, memo):
    try:
        stats = train_student_from_reference_start(student, reference, mnist, memo).stats
    except ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    expected = reference_trained.stats["test_accuracy"]
    assert abs(stats["test_accuracy"] - expected) <= ACCURACY_MARGIN_VS_REFERENCE, (
        f"trained from the reference's initial weights, your model reaches {100 * stats['test_accuracy']:.1f} % "
        f"test accuracy; the reference reaches {100 * expected:.1f} %. Check the activations."
    )


def train_student_from_reference_start(student, reference, mnist, memo) -> Trained:
    def train():
        start = training_eager.weights_by_shape(training_eager.make_model(reference.create_model))
        model = training_eager.make_model(student.create_model)
        return Trained(model, training_eager.train(model, mnist, start_from=start))

    return memo.remember("student_trained", train)


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_savedmodel_folder(student_export):
    export_dir = student_export()
    assert (export_dir / "saved_model.pb").is_file(), f"save wrote no saved_model.pb into {export_dir}"
    assert (export_dir / "variables" / "variables.index").is_file(), (
        f"{export_dir} has no variables/: tf.saved_model.save writes the variables it can reach from the "
        "object you pass it. Pass the model itself."
    )


@pytest.mark.function("save")
def test_save_writes_the_two_named_signatures(student_export):
    signatures = set(read_saved_model(student_export()).meta_graphs[0].signature_def) - {SAVED_MODEL_INIT_OP}
    assert signatures == SIGNATURES, (
        f"the export has signatures {sorted(signatures)}; expected {sorted(SIGNATURES)}. Pass both to "
        "tf.saved_model.save(..., signatures={'serving_default': ..., 'evaluate': ...})."
    )


@pytest.mark.function("save")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES))
def test_save_signature_inputs_and_outputs_are_named_and_typed(student_export, key):
    proto = read_saved_model(student_export())
    assert key in proto.meta_graphs[0].signature_def, f"the export has no signature {key!r}"
    signature = signature_of(proto, key)
    expected_inputs, expected_outputs = EXPECTED_SIGNATURES[key]
    outputs = set(signature.outputs)
    assert not any(name.startswith("output_") for name in outputs), (
        f"signature {key!r} has outputs {sorted(outputs)}: TensorFlow names an unnamed output 'output_0'. "
        "Return a dict from the tf.function, e.g. {'prediction': ...}, so the output has a name."
    )
    assert set(signature.inputs) == set(expected_inputs), (
        f"signature {key!r} has inputs {sorted(signature.inputs)}; expected {sorted(expected_inputs)}. "
        "Input keys are the tf.function's argument names."
    )
    assert set(expected_outputs) <= outputs, f"signature {key!r} has outputs {sorted(outputs)}; expected {sorted(expected_outputs)}"
    for side, expected in (("inputs", expected_inputs), ("outputs", expected_outputs)):
        for name, (dtype, shape) in expected.items():
            info = getattr(signature, side)[name]
            assert info.dtype == dtype.as_datatype_enum and shape_of(info) == shape, (
                f"{key!r} {side[:-1]} {name!r} is {tf.dtypes.as_dtype(info.dtype).name} {shape_of(info)}; expected "
                f"{dtype.name} {shape}" + (" (-1: any batch size; use None in the TensorSpec)" if shape else "")
            )


@pytest.mark.function("save")
def test_save_exports_the_trained_weights(student_export, trained_weights):
    reader = tf.train.load_checkpoint(str(student_export() / "variables" / "variables"))
    saved = {
        tuple(shape): reader.get_tensor(name)
        for name, shape in reader.get_variable_to_shape_map().items()
        if name.endswith(".ATTRIBUTES/VARIABLE_VALUE")
    }
    for shape, value in trained_weights.items():
        assert shape in saved, f"the export holds no variable shaped {list(shape)}: was the model passed to save?"
        assert np.array_equal(saved[shape], value), (
            f"the exported variable shaped {list(shape)} differs from the trained one: "
            "export the model you were given, as it is (do not make a new one)."
        )


@pytest.mark.function("save")
def test_save_reload_gives_the_same_probabilities_and_accuracy(student_export, before_save, mnist):
    loaded = tf.saved_model.load(str(student_export()))
    probabilities = reloaded_output(loaded, "serving_default", "prediction", input=mnist[2])
    worst = float(np.max(np.abs(probabilities - before_save[0])))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"after reload, 'prediction' differs from the probabilities before save by up to {worst:.3g}: "
        "is it the softmax of the model's logits?"
    )
    accuracy = float(reloaded_output(loaded, "evaluate", "accuracy", input=mnist[2], label=mnist[3]))
    assert accuracy == before_save[1], (
        f"after reload, 'evaluate' gives accuracy {accuracy!r}; before save the model scored {before_save[1]!r}. "
        "Compare argmax of the logits with the int64 labels and take the float32 mean."
    )


@pytest.mark.function("save")
@settings(max_examples=examples(5))
@given(batch_size=st.integers(min_value=1, max_value=50))
@example(batch_size=1)
@example(batch_size=7)
def test_save_serves_batch_sizes_never_seen_at_export(student_export, mnist, batch_size):
    loaded = tf.saved_model.load(str(student_export()))
    try:
        prediction = reloaded_output(loaded, "serving_default", "prediction", input=mnist[2][:batch_size])
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        pytest.fail(
            f"the reloaded serving_default rejects a batch of {batch_size}: {str(error).splitlines()[0]}. "
            "Declare the batch dimension None in the input_signature.",
            pytrace=False,
        )
    assert prediction.shape == (batch_size, 10), f"a batch of {batch_size} gave predictions shaped {prediction.shape}"


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES))
def test_load_describes_the_signature(student, reference_export, key):
    description = student.load_signature_tensors(str(reference_export), key)
    describe_check(description, key)
    expected_inputs, expected_outputs = EXPECTED_SIGNATURES[key]
    for side, expected in (("inputs", expected_inputs), ("outputs", expected_outputs)):
        found = {name: (spec.dtype, spec.shape.as_list()) for name, spec in description[side].items()}
        wanted = {name: (dtype, [None if d == -1 else d for d in shape]) for name, (dtype, shape) in expected.items()}
        assert found == wanted, f"for signature {key!r}, {side} are {found}; the export says {wanted}"


@pytest.mark.function("load_signature_tensors")
def test_load_function_takes_keywords_and_restores_the_weights(student, reference_export, before_save, mnist):
    description = student.load_signature_tensors(str(reference_export), "serving_default")
    describe_check(description, "serving_default")
    outputs = description["function"](input=tf.constant(mnist[2]))
    worst = float(np.max(np.abs(outputs["prediction"].numpy() - before_save[0])))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"the function you returned predicts other probabilities (by up to {worst:.3g}): return "
        "loaded.signatures[signature_key] itself"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_reads_names_from_the_export_not_from_assumptions(student, trained_copy, tmp_path_factory):
    # Another exporter, other names: 'pixels' in, 'scores' out.
    model = trained_copy()
    serve = tf.function(
        lambda pixels: {"scores": model(pixels)},
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="pixels")],
    )
    export_dir = new_export_dir(tmp_path_factory)
    tf.saved_model.save(model, str(export_dir), signatures={"classify": serve})
    description = student.load_signature_tensors(str(export_dir), "classify")
    describe_check(description, "classify")
    assert set(description["inputs"]) == {"pixels"} and set(description["outputs"]) == {"scores"}, (
        f"for an export whose 'classify' signature maps 'pixels' to 'scores', you returned inputs "
        f"{sorted(description['inputs'])} and outputs {sorted(description['outputs'])}: read them from the "
        "function (structured_input_signature, structured_outputs), never assume them"
    )


# --- evaluate ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_signature(reference, reference_export):
    """Load the reference export's 'evaluate' signature afresh for each call."""
    return lambda: reference.load_signature_tensors(str(reference_export), "evaluate")


@pytest.mark.function("evaluate")
def test_evaluate_returns_a_fraction(student, reference_signature, mnist):
    accuracy = student.evaluate(reference_signature(), mnist[2], mnist[3])
    assert isinstance(accuracy, float), f"evaluate returned {type(accuracy).__name__}; expected a Python float"
    assert 0.0 <= accuracy <= 1.0, f"evaluate returned {accuracy!r}; an accuracy is a fraction in [0, 1]"


@pytest.mark.function("evaluate")
def test_evaluate_equals_the_accuracy_before_save(student, reference, reference_signature, before_save, mnist):
    accuracy = student.evaluate(reference_signature(), mnist[2], mnist[3])
    by_reference = reference.evaluate(reference_signature(), mnist[2], mnist[3])
    assert accuracy == before_save[1] == by_reference, (
        f"evaluate returned {accuracy!r}; the model scored {before_save[1]!r} before save and the reference "
        f"evaluate gives {by_reference!r}. Call the 'evaluate' signature on all images and labels."
    )


@pytest.mark.function("evaluate")
@settings(max_examples=examples(8))
@given(rows=st.lists(st.integers(0, 1999), min_size=1, max_size=300, unique=True))
@example(rows=SUBSET_EXAMPLES[0])
@example(rows=SUBSET_EXAMPLES[1])
def test_evaluate_counts_correct_predictions_on_any_subset(student, reference_signature, before_save, mnist, rows):
    rows = np.array(rows)
    accuracy = student.evaluate(reference_signature(), mnist[2][rows], mnist[3][rows])
    check_counts_correct(accuracy, before_save[0][rows], mnist[3][rows])


# --- all four together -------------------------------------------------------


@pytest.mark.end_to_end
def test_end_to_end_with_all_your_functions(student, reference, reference_trained, mnist, memo, tmp_path_factory):
    try:
        trained = train_student_from_reference_start(student, reference, mnist, memo)
    except ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    before = training_eager.accuracy(trained.model, mnist[2], mnist[3])
    export_dir = new_export_dir(tmp_path_factory)
    student.save(trained.model, str(export_dir))
    after = student.evaluate(student.load_signature_tensors(str(export_dir), "evaluate"), mnist[2], mnist[3])
    assert after == before, (
        f"your model scored {before!r} before save and {after!r} after your save, load and evaluate: "
        "something was lost on the way; the per-function tests say where"
    )
    assert after >= reference_trained.stats["test_accuracy"] - ACCURACY_MARGIN_VS_REFERENCE
