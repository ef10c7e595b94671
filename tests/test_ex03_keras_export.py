"""Tests of exercise 3: Keras 3's two formats, ExportArchive endpoints and TFSMLayer.

Each test grades one function and takes the other three from solutions/.
The reference is trained once with compile / train_on_batch (cached, with
its optimizer state) and saved to a .keras file; student code always gets a
private copy loaded from that file. Tolerances as in exercise 1.
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
    new_export_dir,
    parameter_report,
    read_saved_model,
    shape_of,
)
from savedmodel_kata.tf_setup import import_tensorflow
from savedmodel_kata.training import ModelError

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)

ENDPOINTS = {
    "serve": ({"input": (tf.float32, [-1, 28, 28, 1])}, {"prediction": (tf.float32, [-1, 10])}),
    "evaluate": (
        {"input": (tf.float32, [-1, 28, 28, 1]), "label": (tf.int64, [-1])},
        {"accuracy": (tf.float32, [])},
    ),
}


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_keras_file(reference, mnist, tmp_path_factory):
    """The trained reference, compiled, saved with its optimizer state."""
    model = training_eager.make_model(reference.create_model)
    stats = training_eager.train(model, mnist)
    path = tmp_path_factory.mktemp("reference") / "trained.keras"
    model.save(path)
    return path, stats


@pytest.fixture(scope="module")
def trained_copy(reference_keras_file):
    return lambda: keras.models.load_model(reference_keras_file[0])


@pytest.fixture(scope="module")
def before_save(trained_copy, mnist):
    model = trained_copy()
    return (
        training_eager.probabilities(model, mnist[2]),
        training_eager.accuracy(model, mnist[2], mnist[3]),
        training_eager.weights_by_shape(model),
        int(model.optimizer.iterations.numpy()),
    )


def export_pair(save, model, tmp_path_factory):
    export_dir = new_export_dir(tmp_path_factory)
    keras_file = export_dir.parent / "model.keras"
    save(model, str(export_dir), str(keras_file))
    return export_dir, keras_file


@pytest.fixture(scope="module")
def reference_export(reference, trained_copy, tmp_path_factory):
    return export_pair(reference.save, trained_copy(), tmp_path_factory)[0]


@pytest.fixture(scope="module")
def student_export(student, trained_copy, memo, tmp_path_factory):
    return lambda: memo.remember("student_export", lambda: export_pair(student.save, trained_copy(), tmp_path_factory))


@pytest.fixture(scope="module")
def student_model(student, memo):
    return lambda: memo.remember("student_model", lambda: training_eager.make_model(student.create_model))


def logits_of(model, images):
    try:
        return np.asarray(model(tf.constant(images)))
    except Exception as error:  # Keras wraps shape errors in several types
        pytest.fail(
            f"calling your model on a batch of {len(images)} images failed: {type(error).__name__}: "
            f"{str(error).strip().splitlines()[0]}",
            pytrace=False,
        )


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_keras_model(student_model):
    model = student_model()
    assert isinstance(model, keras.Model), (
        f"create_model returned {type(model).__name__}; expected a Keras 3 model (keras.Sequential, say)"
    )


@pytest.mark.function("create_model")
@settings(max_examples=examples(6))
@given(batch_size=st.integers(min_value=1, max_value=64))
@example(batch_size=1)
@example(batch_size=33)
def test_create_model_output_shape_for_any_batch_size(student_model, batch_size):
    images = np.random.default_rng(batch_size).random((batch_size, 28, 28, 1), dtype=np.float32)
    logits = logits_of(student_model(), images)
    assert logits.shape == (batch_size, 10), f"a batch of {batch_size} gave logits shaped {logits.shape}"


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_model):
    variables = list(student_model().trainable_variables)
    problem = parameter_report([tuple(v.shape) for v in variables], [v.path for v in variables])
    assert problem is None, f"create_model: {problem}"


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(student_model):
    scores = logits_of(student_model(), np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32))
    assert not (np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)), (
        "the model's outputs are probabilities (non-negative rows summing to 1): the last Dense layer "
        "takes no activation; the 'serve' endpoint adds the softmax"
    )


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(student, before_save, mnist):
    model = training_eager.make_model(student.create_model)
    try:
        training_eager.assign_by_shape(model, before_save[2])
    except ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    worst = float(np.max(np.abs(tf.nn.softmax(logits_of(model, mnist[2])).numpy() - before_save[0])))
    assert worst <= ARCHITECTURE_TOLERANCE, (
        f"with the reference's trained weights, your model's probabilities differ by up to {worst:.3g}: "
        "check the layer order, 'same' padding on the convolutions and the activations"
    )


def train_student_from_reference_start(student, reference, mnist, memo):
    """(model, stats): the student's model trained from the reference's initial weights, once per module."""

    def train():
        start = training_eager.weights_by_shape(training_eager.make_model(reference.create_model))
        model = training_eager.make_model(student.create_model)
        return model, training_eager.train(model, mnist, start_from=start)

    return memo.remember("student_trained", train)


@pytest.mark.function("create_model")
def test_create_model_trains_like_the_reference(student, reference, reference_keras_file, mnist, memo):
    try:
        _, stats = train_student_from_reference_start(student, reference, mnist, memo)
    except ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    expected = reference_keras_file[1]["test_accuracy"]
    assert abs(stats["test_accuracy"] - expected) <= ACCURACY_MARGIN_VS_REFERENCE, (
        f"trained from the reference's initial weights, your model reaches {100 * stats['test_accuracy']:.1f} %; "
        f"the reference {100 * expected:.1f} %"
    )


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_savedmodel_and_a_keras_file(student_export):
    export_dir, keras_file = student_export()
    assert (export_dir / "saved_model.pb").is_file(), (
        f"no SavedModel in {export_dir}: write it with keras.export.ExportArchive (or model.export)"
    )
    assert keras_file.is_file(), f"no {keras_file.name}: write it with model.save(keras_file)"


@pytest.mark.function("save")
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_save_endpoints_are_named_and_typed(student_export, endpoint):
    signatures = read_saved_model(student_export()[0]).meta_graphs[0].signature_def
    assert endpoint in signatures, (
        f"the SavedModel has endpoints {sorted(signatures)}; expected {endpoint!r}. "
        "model.export makes only 'serve' (and its outputs are unnamed): add both with ExportArchive."
    )
    assert "serving_default" in signatures, "the SavedModel has no 'serving_default' (ExportArchive aliases its first endpoint)"
    signature = signatures[endpoint]
    inputs, outputs = ENDPOINTS[endpoint]
    assert not any(name.startswith("output_") for name in signature.outputs), (
        f"endpoint {endpoint!r} has outputs {sorted(signature.outputs)}: return a dict, e.g. {{'prediction': ...}}"
    )
    found = (
        {k: (v.dtype, shape_of(v)) for k, v in signature.inputs.items()},
        {k: (v.dtype, shape_of(v)) for k, v in signature.outputs.items()},
    )
    wanted = tuple({k: (d.as_datatype_enum, s) for k, (d, s) in side.items()} for side in (inputs, outputs))
    assert found == wanted, (
        f"endpoint {endpoint!r} maps {found[0]} to {found[1]}; expected {wanted[0]} to {wanted[1]} "
        "(dtype enums, shapes with -1 for any batch; input keys are the TensorSpecs' names)"
    )


@pytest.mark.function("save")
def test_save_savedmodel_serves_what_the_model_computed(student_export, before_save, mnist):
    loaded = tf.saved_model.load(str(student_export()[0]))
    probabilities = loaded.signatures["serve"](input=tf.constant(mnist[2]))["prediction"].numpy()
    assert np.max(np.abs(probabilities - before_save[0])) <= PROBABILITY_TOLERANCE, (
        "after reload, 'serve' gives other probabilities than the model before save"
    )
    accuracy = float(loaded.signatures["evaluate"](input=tf.constant(mnist[2]), label=tf.constant(mnist[3]))["accuracy"])
    assert accuracy == before_save[1], f"after reload, 'evaluate' gives {accuracy!r}; before save {before_save[1]!r}"


@pytest.mark.function("save")
def test_save_keras_file_resumes_training_with_its_optimizer_state(student_export, before_save, mnist):
    restored = keras.models.load_model(student_export()[1])
    for shape, value in before_save[2].items():
        assert any(tuple(v.shape) == shape and np.array_equal(np.asarray(v), value) for v in restored.trainable_variables), (
            f"the .keras file's weights shaped {list(shape)} differ from the trained ones"
        )
    assert restored.optimizer is not None and int(restored.optimizer.iterations.numpy()) == before_save[3], (
        "the .keras file has no optimizer state: save the trained, compiled model with model.save(keras_file)"
    )
    restored.train_on_batch(mnist[0][:32], mnist[1][:32])  # it can go on training
    assert int(restored.optimizer.iterations.numpy()) == before_save[3] + 1


@pytest.mark.function("save")
def test_save_formats_do_not_mix_in_keras_3(student_export):
    # Pinned lesson: load_model does not read a SavedModel in Keras 3.
    with pytest.raises(ValueError, match="TFSMLayer"):
        keras.models.load_model(str(student_export()[0]))


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_load_returns_a_tfsm_layer_and_the_endpoint_specs(student, reference_export, endpoint):
    reloaded = student.load_signature_tensors(str(reference_export), endpoint)
    assert isinstance(reloaded, dict) and {"layer", "inputs", "outputs"} <= set(reloaded), (
        f"load_signature_tensors returned {reloaded!r}; expected a dict with 'layer', 'inputs', 'outputs'"
    )
    assert isinstance(reloaded["layer"], keras.layers.TFSMLayer), (
        f"'layer' is {type(reloaded['layer']).__name__}; expected keras.layers.TFSMLayer (load_model cannot "
        "read a SavedModel in Keras 3)"
    )
    inputs, outputs = ENDPOINTS[endpoint]
    for side, expected in (("inputs", inputs), ("outputs", outputs)):
        found = {k: (s.dtype, s.shape.as_list()) for k, s in reloaded[side].items()}
        wanted = {k: (d, [None if x == -1 else x for x in shape]) for k, (d, shape) in expected.items()}
        assert found == wanted, f"endpoint {endpoint!r}: your {side} are {found}; the export says {wanted}"


@pytest.mark.function("load_signature_tensors")
def test_load_layer_serves_the_trained_probabilities(student, reference_export, before_save, mnist):
    reloaded = student.load_signature_tensors(str(reference_export), "serve")
    probabilities = np.asarray(reloaded["layer"](tf.constant(mnist[2]))["prediction"])
    assert np.max(np.abs(probabilities - before_save[0])) <= PROBABILITY_TOLERANCE, (
        "the reloaded layer predicts other probabilities: call_endpoint must be the endpoint asked for"
    )


# --- evaluate ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_reloaded(reference, reference_export):
    return lambda: reference.load_signature_tensors(str(reference_export), "evaluate")


@pytest.mark.function("evaluate")
def test_evaluate_returns_the_accuracy_before_save(student, reference, reference_reloaded, before_save, mnist):
    accuracy = student.evaluate(reference_reloaded(), mnist[2], mnist[3])
    assert isinstance(accuracy, float) and 0.0 <= accuracy <= 1.0, f"evaluate returned {accuracy!r}; expected a float in [0, 1]"
    assert accuracy == before_save[1] == reference.evaluate(reference_reloaded(), mnist[2], mnist[3]), (
        f"evaluate returned {accuracy!r}; the model scored {before_save[1]!r} before save"
    )


@pytest.mark.function("evaluate")
@settings(max_examples=examples(6))
@given(rows=st.lists(st.integers(0, 1999), min_size=1, max_size=300, unique=True))
@example(rows=SUBSET_EXAMPLES[0])
@example(rows=SUBSET_EXAMPLES[1])
def test_evaluate_counts_correct_predictions_on_any_subset(student, reference_reloaded, before_save, mnist, rows):
    rows = np.array(rows)
    accuracy = student.evaluate(reference_reloaded(), mnist[2][rows], mnist[3][rows])
    check_counts_correct(accuracy, before_save[0][rows], mnist[3][rows])


# --- all four together -------------------------------------------------------


@pytest.mark.end_to_end
def test_end_to_end_with_all_your_functions(student, reference, mnist, memo, tmp_path_factory):
    try:
        model, _ = train_student_from_reference_start(student, reference, mnist, memo)
    except ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    before = training_eager.accuracy(model, mnist[2], mnist[3])
    export_dir, _ = export_pair(student.save, model, tmp_path_factory)
    after = student.evaluate(student.load_signature_tensors(str(export_dir), "evaluate"), mnist[2], mnist[3])
    assert after == before, f"your model scored {before!r} before save and {after!r} after: something was lost"
