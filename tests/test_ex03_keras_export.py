"""Tests of exercise 3: Keras 3's two formats, ExportArchive endpoints and TFSMLayer.

Each test grades one function and takes the other three from solutions/.
The shared fixtures (savedmodel_kata/plugin/fixtures.py) train the reference
once with compile / train_on_batch, cache it with its optimizer state, and
give student code a private copy. Tolerances: see
savedmodel_kata/plugin/checks.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from savedmodel_kata.plugin.checks import (
    ACCURACY_MARGIN_VS_REFERENCE,
    ARCHITECTURE_TOLERANCE,
    PROBABILITY_TOLERANCE,
    SUBSET_EXAMPLES,
    check_counts_correct,
    digits_counted,
    examples,
    loaded_with,
    opened,
    parameter_report,
    read_saved_model,
    same_count,
    shape_of,
)
from savedmodel_kata.tensorflow_setup import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)

ENDPOINTS = {
    "serve": ({"input": (tf.float32, [-1, 28, 28, 1])}, {"prediction": (tf.float32, [-1, 10])}),
    "evaluate": (
        {"input": (tf.float32, [-1, 28, 28, 1]), "label": (tf.int64, [-1])},
        {"accuracy": (tf.float32, [])},
    ),
}


# --- helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_iterations(reference_trained) -> int:
    """The optimizer's step count after training: a .keras file that resumes must keep it."""
    return int(reference_trained.model.optimizer.iterations.numpy())


def logits_of(model, images):
    try:
        return np.asarray(model(tf.constant(images)))
    except Exception as error:  # Keras wraps shape errors in several types
        pytest.fail(
            f"calling your model on a batch of {len(images)} images failed: "
            f"{type(error).__name__}: {str(error).strip().splitlines()[0]}",
            pytrace=False,
        )


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_keras_model(student_model):
    model = student_model()
    assert isinstance(model, keras.Model), (
        f"create_model returned {type(model).__name__}; "
        "expected a Keras 3 model (keras.Sequential, say)"
    )


@pytest.mark.function("create_model")
@settings(max_examples=examples(6))
@given(batch_size=st.integers(min_value=1, max_value=64))
@example(batch_size=1)
@example(batch_size=33)
def test_create_model_output_shape_for_any_batch_size(student_model, batch_size):
    images = np.random.default_rng(batch_size).random((batch_size, 28, 28, 1), dtype=np.float32)
    logits = logits_of(student_model(), images)
    assert logits.shape == (batch_size, 10), (
        f"a batch of {batch_size} gave logits shaped {logits.shape}"
    )


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_model):
    variables = list(student_model().trainable_variables)
    problem = parameter_report([tuple(v.shape) for v in variables], [v.path for v in variables])
    assert problem is None, f"create_model: {problem}"


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(student_model):
    scores = logits_of(
        student_model(), np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    )
    assert not (np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)), (
        "the model's outputs are probabilities (non-negative rows summing to 1): "
        "the last Dense layer takes no activation; the 'serve' endpoint adds the softmax"
    )


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(kind, student, before_save, mnist):
    with opened(kind, kind.new_model(student.create_model)) as model:
        kind.assign(model, before_save.weights)
        probabilities = tf.nn.softmax(logits_of(model, mnist.test_images)).numpy()
    worst = float(np.max(np.abs(probabilities - before_save.probabilities)))
    assert worst <= ARCHITECTURE_TOLERANCE, (
        "with the reference's trained weights, your model's probabilities differ by up to "
        f"{worst:.3g}: check the layer order, 'same' padding on the convolutions and the "
        "activations"
    )


@pytest.mark.function("create_model")
def test_create_model_trains_like_the_reference(student_trained, reference_trained):
    reached = student_trained().stats.test.accuracy
    expected = reference_trained.stats.test.accuracy
    assert abs(reached - expected) <= ACCURACY_MARGIN_VS_REFERENCE, (
        f"trained from the reference's initial weights, your model reaches {100 * reached:.1f} %; "
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
    signatures = read_saved_model(student_export().directory).meta_graphs[0].signature_def
    assert endpoint in signatures, (
        f"the SavedModel has endpoints {sorted(signatures)}; expected {endpoint!r}. "
        "model.export makes only 'serve' (and its outputs are unnamed): "
        "add both with ExportArchive."
    )
    assert "serving_default" in signatures, (
        "the SavedModel has no 'serving_default' (ExportArchive aliases its first endpoint)"
    )
    signature = signatures[endpoint]
    inputs, outputs = ENDPOINTS[endpoint]
    assert not any(name.startswith("output_") for name in signature.outputs), (
        f"endpoint {endpoint!r} has outputs {sorted(signature.outputs)}: "
        "return a dict, e.g. {'prediction': ...}"
    )
    found = (
        {k: (v.dtype, shape_of(v)) for k, v in signature.inputs.items()},
        {k: (v.dtype, shape_of(v)) for k, v in signature.outputs.items()},
    )
    wanted = tuple(
        {k: (d.as_datatype_enum, s) for k, (d, s) in side.items()} for side in (inputs, outputs)
    )
    assert found == wanted, (
        f"endpoint {endpoint!r} maps {found[0]} to {found[1]}; expected {wanted[0]} to {wanted[1]} "
        "(dtype enums, shapes with -1 for any batch; input keys are the TensorSpecs' names)"
    )


@pytest.mark.function("save")
def test_save_savedmodel_reloaded_elsewhere_serves_what_the_model_computed(
    student_export, fresh_process, before_save, mnist
):
    directory = student_export().directory
    serve = fresh_process.run(
        directory, "tf2", "serve", {"input": mnist.test_images}, ["prediction"]
    )
    assert (
        np.max(np.abs(serve["prediction"] - before_save.probabilities)) <= PROBABILITY_TOLERANCE
    ), "reloaded in a fresh process, 'serve' gives other probabilities than the model before save"
    feeds = {"input": mnist.test_images, "label": mnist.test_labels}
    accuracy = float(
        fresh_process.run(directory, "tf2", "evaluate", feeds, ["accuracy"])["accuracy"]
    )
    assert same_count(accuracy, before_save.score), (
        f"reloaded in a fresh process, 'evaluate' gives {accuracy!r}; before save the model got "
        f"{before_save.score}"
    )


@pytest.mark.function("save")
def test_save_keras_file_resumes_training_with_its_optimizer_state(
    student_export, before_save, trained_iterations, mnist
):
    restored = keras.models.load_model(student_export().keras_file)
    for shape, value in before_save.weights.items():
        assert any(
            tuple(v.shape) == shape and np.array_equal(np.asarray(v), value)
            for v in restored.trainable_variables
        ), f"the .keras file's weights shaped {list(shape)} differ from the trained ones"
    assert (
        restored.optimizer is not None
        and int(restored.optimizer.iterations.numpy()) == trained_iterations
    ), (
        "the .keras file has no optimizer state: save the trained, compiled model with "
        "model.save(keras_file)"
    )
    restored.train_on_batch(mnist.train_images[:32], mnist.train_labels[:32])  # it goes on training
    assert int(restored.optimizer.iterations.numpy()) == trained_iterations + 1


@pytest.mark.function("save")
def test_save_formats_do_not_mix_in_keras_3(student_export):
    # Pinned lesson: load_model does not read a SavedModel in Keras 3.
    with pytest.raises(ValueError, match="TFSMLayer"):
        keras.models.load_model(str(student_export().directory))


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_load_returns_a_tfsm_layer_and_the_endpoint_specs(student, reference_export, endpoint):
    reloaded = student.load_signature_tensors(str(reference_export.directory), endpoint)
    assert isinstance(reloaded, dict) and {"layer", "inputs", "outputs"} <= set(reloaded), (
        f"load_signature_tensors returned {reloaded!r}; "
        "expected a dict with 'layer', 'inputs', 'outputs'"
    )
    assert isinstance(reloaded["layer"], keras.layers.TFSMLayer), (
        f"'layer' is {type(reloaded['layer']).__name__}; "
        "expected keras.layers.TFSMLayer (load_model cannot read a SavedModel in Keras 3)"
    )
    inputs, outputs = ENDPOINTS[endpoint]
    for side, expected in (("inputs", inputs), ("outputs", outputs)):
        found = {k: (s.dtype, s.shape.as_list()) for k, s in reloaded[side].items()}
        wanted = {
            k: (d, [None if x == -1 else x for x in shape]) for k, (d, shape) in expected.items()
        }
        assert found == wanted, (
            f"endpoint {endpoint!r}: your {side} are {found}; the export says {wanted}"
        )


@pytest.mark.function("load_signature_tensors")
def test_load_layer_serves_the_trained_probabilities(student, reference_export, before_save, mnist):
    reloaded = student.load_signature_tensors(str(reference_export.directory), "serve")
    probabilities = np.asarray(reloaded["layer"](tf.constant(mnist.test_images))["prediction"])
    assert np.max(np.abs(probabilities - before_save.probabilities)) <= PROBABILITY_TOLERANCE, (
        "the reloaded layer predicts other probabilities: "
        "call_endpoint must be the endpoint asked for"
    )


# --- evaluate ----------------------------------------------------------------


@pytest.mark.function("evaluate")
def test_evaluate_returns_the_accuracy_before_save(
    kind, student, reference, reference_loaded, before_save, mnist
):
    images, labels = mnist.test_images, mnist.test_labels
    accuracy = kind.evaluate(student.evaluate, reference_loaded("evaluate"), images, labels)
    assert isinstance(accuracy, float) and 0.0 <= accuracy <= 1.0, (
        f"evaluate returned {accuracy!r}; expected a float in [0, 1]"
    )
    by_reference = kind.evaluate(reference.evaluate, reference_loaded("evaluate"), images, labels)
    assert same_count(accuracy, before_save.score) and same_count(
        by_reference, before_save.score
    ), (
        f"evaluate returned {accuracy!r} ({digits_counted(accuracy, len(labels))} digits right); "
        f"the model got {before_save.score} before save"
    )


@pytest.mark.function("evaluate")
@settings(max_examples=examples(6))
@given(rows=st.lists(st.integers(0, 1999), min_size=1, max_size=300, unique=True))
@example(rows=SUBSET_EXAMPLES[0])
@example(rows=SUBSET_EXAMPLES[1])
def test_evaluate_counts_correct_predictions_on_any_subset(
    kind, student, reference_loaded, before_save, mnist, rows
):
    rows = np.array(rows)
    loaded = reference_loaded("evaluate")
    accuracy = kind.evaluate(
        student.evaluate, loaded, mnist.test_images[rows], mnist.test_labels[rows]
    )
    check_counts_correct(accuracy, before_save.probabilities[rows], mnist.test_labels[rows])


# --- all four together -------------------------------------------------------


@pytest.mark.end_to_end
def test_end_to_end_with_all_your_functions(
    kind, student, student_trained, reference_trained, mnist, new_export_dir
):
    trained = student_trained()
    before = kind.score(trained.model, mnist.test_images, mnist.test_labels)
    export = kind.export(student.save, trained.model, new_export_dir())
    with loaded_with(
        kind, student.load_signature_tensors, export.directory, kind.evaluate_key
    ) as loaded:
        after = kind.evaluate(student.evaluate, loaded, mnist.test_images, mnist.test_labels)
    assert same_count(after, before), (
        f"your model got {before} before save and {after!r} after your save, load and evaluate: "
        "something was lost on the way; the per-function tests say where"
    )
    reference_accuracy = reference_trained.stats.test.accuracy
    assert before.accuracy >= reference_accuracy - ACCURACY_MARGIN_VS_REFERENCE, (
        f"the round trip is exact, but your model reaches only {100 * before.accuracy:.1f} % "
        f"(reference {100 * reference_accuracy:.1f} %)"
    )
