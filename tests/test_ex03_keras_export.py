"""Tests of exercise 3: Keras 3's two formats, ExportArchive endpoints and TFSMLayer.

Each test grades one function and takes the other three from solutions/.
The shared fixtures (savedmodel_kata/plugin/fixtures.py) train the reference
once with compile / train_on_batch, cache it with its optimizer state, and
give student code a private copy. Tolerances: see
savedmodel_kata/plugin/checks.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from savedmodel_kata.lessons import shorten
from savedmodel_kata.plugin import shared_tests
from savedmodel_kata.plugin.checks import (
    PROBABILITY_TOLERANCE,
    check_accuracy,
    check_answers_each_batch,
    check_model_type,
    check_sides_are_specs,
    key_id,
    parameter_report,
    read_saved_model,
    saved_model_file,
    shape_of,
)
from savedmodel_kata.plugin.shared_tests import rewritten_path_test
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


logits_of = shared_tests.keras_logits_of


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_keras_model(student_model):
    check_model_type(student_model(), keras.Model, "a Keras 3 model (keras.Sequential, say)")


test_create_model_output_shape_for_any_batch_size = shared_tests.output_shape_test(
    logits_of, max_examples=6
)


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_model):
    variables = list(student_model().trainable_variables)
    problem = parameter_report([tuple(v.shape) for v in variables], [v.path for v in variables])
    assert problem is None, f"create_model: {problem}"


@pytest.mark.function("create_model")
def test_create_model_has_only_the_tutorials_layers(student_model):
    # Leaves only: the tutorial's layers grouped in a nested Sequential are still its layers,
    # and a Reshape to [batch, 36] is a Flatten.
    allowed = {"InputLayer", "Conv2D", "MaxPooling2D", "Flatten", "Reshape", "Dense"}
    allowed |= {"Activation", "ReLU"}
    model = student_model()
    layers = model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else []
    others = [
        type(layer).__name__
        for layer in layers
        if type(layer).__name__ not in allowed and not isinstance(layer, keras.Model)
    ]
    assert not others, (
        f"create_model's model has layers {others}, which the tutorial's network has not: "
        "no other layers (no dropout, no normalisation)"
    )


# Tests written once for several exercises (shared_tests.py), imported where they run.
from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_starts_from_the_tutorials_initial_values,
    test_create_model_returns_a_new_model_each_call,
)


test_create_model_returns_logits_not_probabilities = shared_tests.logits_not_probabilities_test(
    logits_of,
    lesson="the model's outputs are probabilities (non-negative rows summing to 1): the last "
    "Dense layer takes no activation; the 'serve' endpoint adds the softmax",
)

test_create_model_computes_the_tutorials_function = (
    shared_tests.computes_the_tutorials_function_test(
        logits_of,
        problem="with the reference's trained weights, your model's probabilities differ by up "
        "to {worst:.3g}: check the layer order, 'same' padding on the convolutions and the "
        "activations",
    )
)


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_trains_like_the_reference,
    test_create_model_trains_from_its_own_initial_weights,
)


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_savedmodel_and_a_keras_file(student_export):
    export_dir, keras_file = student_export()
    assert saved_model_file(export_dir) is not None, (
        f"no SavedModel in {export_dir}: write it with keras.export.ExportArchive (or model.export)"
    )
    assert keras_file.is_file(), f"no {keras_file.name}: write it with model.save(keras_file)"


@pytest.mark.function("save")
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS), ids=key_id)
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
    default, serve = signatures["serving_default"], signatures.get("serve")
    assert serve is not None and (set(default.inputs), set(default.outputs)) == (
        set(serve.inputs),
        set(serve.outputs),
    ), (
        f"'serving_default' maps {sorted(default.inputs)} to {sorted(default.outputs)}: it must "
        "be 'serve' (what a server calls when the client names no endpoint). ExportArchive "
        "aliases the first endpoint added: add 'serve' first"
    )


test_save_savedmodel_reloaded_elsewhere_serves_what_the_model_computed = (
    shared_tests.reloaded_elsewhere_test(
        "serve",
        prediction_problem="reloaded in a fresh process, 'serve' gives probabilities that differ "
        "from the model's by up to {worst:.3g}: is 'prediction' the softmax of the model's logits?",
        accuracy_source="reloaded in a fresh process, the 'evaluate' endpoint gives",
    )
)


def accuracy_through_a_layer(layer, images, labels) -> float:
    """The 'evaluate' endpoint's accuracy, called as a TFSMLayer's users call it: the images
    positionally, the labels by the keyword 'label'."""
    try:
        outputs = layer(tf.constant(images), label=tf.constant(labels, tf.int64))
    except (TypeError, ValueError) as error:
        reason = re.search(r"due to `([^`]*)`", str(error))
        pytest.fail(
            "keras.layers.TFSMLayer(export, call_endpoint='evaluate') called as layer(images, "
            f"label=labels) fails: {reason.group(1) if reason else shorten(str(error), 2)}.\n"
            "A TFSMLayer passes keywords by the endpoint function's own argument names, not "
            "its specs' names: name the arguments after the specs (lambda input, label: ...).",
            pytrace=False,
        )
    if "accuracy" not in outputs:
        pytest.fail(f"the 'evaluate' endpoint returns {sorted(outputs)}, not 'accuracy'")
    accuracy = np.asarray(outputs["accuracy"])
    assert accuracy.shape == (), f"'evaluate' gives an accuracy shaped {accuracy.shape}"
    return float(accuracy)


@pytest.mark.function("save")
def test_save_accuracy_endpoint_answers_each_batch_through_a_tfsm_layer(
    student_export, before_save, mnist
):
    # One layer, batches in turn, label by keyword, as load_signature_tensors' clients call it:
    # an accuracy over the test set's size, or a metric kept across calls, gets one wrong.
    layer = keras.layers.TFSMLayer(str(student_export().directory), call_endpoint="evaluate")
    check_answers_each_batch(
        lambda images, labels: accuracy_through_a_layer(layer, images, labels),
        before_save,
        mnist,
        "through a TFSMLayer, the 'evaluate' endpoint's {call} call (same layer) gives",
    )


def served_by_the_endpoints(kind, student, model, directory, images, labels):
    """What the student's export of `model` predicts through a TFSMLayer on 'serve', and the
    accuracy its reloaded 'evaluate' gives."""
    export = kind.export(student.save, model, directory)
    layer = keras.layers.TFSMLayer(str(export.directory), call_endpoint="serve")
    predicted = np.asarray(layer(tf.constant(images))["prediction"])
    evaluate = tf.saved_model.load(str(export.directory)).signatures["evaluate"]
    accuracy = evaluate(input=tf.constant(images), label=tf.constant(labels))["accuracy"]
    return predicted, float(accuracy)


test_save_exports_each_model_it_is_given = shared_tests.exports_each_model_test(
    served_by_the_endpoints,
    fix="make its endpoints inside save, around that model (a tf.function at module level is "
    "traced once, for the first model, and keeps its variables).",
)


@pytest.mark.function("save")
def test_save_writes_the_keras_file_where_it_is_told(kind, student, trained_copy, new_export_dir):
    keras_file = new_export_dir().parent / "elsewhere" / "resume-here.keras"
    keras_file.parent.mkdir()
    student.save(trained_copy(), str(new_export_dir()), str(keras_file))
    assert keras_file.is_file(), (
        f"save was given keras_file={keras_file.name!r} (in a folder of its own) and wrote "
        "nothing there: write the .keras file to the path given, with model.save(keras_file)"
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


def check_reloaded(reloaded, endpoint) -> None:
    """A dict with a TFSMLayer and the endpoint's specs as {key: tf.TensorSpec}."""
    assert isinstance(reloaded, dict) and {"layer", "inputs", "outputs"} <= set(reloaded), (
        f"load_signature_tensors returned {type(reloaded).__name__} "
        f"{sorted(reloaded) if isinstance(reloaded, dict) else ''}; expected a dict with "
        "'layer', 'inputs', 'outputs'"
    )
    assert isinstance(reloaded["layer"], keras.layers.TFSMLayer), (
        f"'layer' is {type(reloaded['layer']).__name__}; "
        "expected keras.layers.TFSMLayer (load_model cannot read a SavedModel in Keras 3)"
    )
    check_sides_are_specs(
        reloaded,
        lambda side, specs: (
            f"{side!r} is {type(specs).__name__}; expected {{key: tf.TensorSpec}}, read from "
            f"the signature of endpoint {endpoint!r}"
        ),
    )


test_load_signature_tensors_returns_a_tfsm_layer_and_the_endpoint_specs = (
    shared_tests.describes_the_signature_test(
        ENDPOINTS, check_reloaded, where="endpoint {key}: your "
    )
)


def predicted_through_the_layer(load_signature_tensors, export_dir, images):
    """The probabilities the TFSMLayer predicts that load_signature_tensors returned for
    'serve'."""
    reloaded = load_signature_tensors(str(export_dir), "serve")
    check_reloaded(reloaded, "serve")
    return np.asarray(reloaded["layer"](tf.constant(images))["prediction"])


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_layer_serves_the_trained_probabilities(
    student, reference_export, before_save, mnist
):
    load = student.load_signature_tensors
    probabilities = predicted_through_the_layer(load, reference_export.directory, mnist.test_images)
    assert np.max(np.abs(probabilities - before_save.probabilities)) <= PROBABILITY_TOLERANCE, (
        "the reloaded layer predicts other probabilities: "
        "call_endpoint must be the endpoint asked for"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_layer_calls_the_endpoint_asked_for(
    student, reference_export, before_save, mnist
):
    reloaded = student.load_signature_tensors(str(reference_export.directory), "evaluate")
    check_reloaded(reloaded, "evaluate")
    layer = reloaded["layer"]
    try:
        outputs = layer(tf.constant(mnist.test_images), label=tf.constant(mnist.test_labels))
    except (TypeError, ValueError) as error:
        pytest.fail(
            f"asked for endpoint 'evaluate', the layer does not take a label "
            f"({type(error).__name__}): it calls another endpoint. call_endpoint must be the "
            "endpoint asked for",
            pytrace=False,
        )
    assert "accuracy" in outputs, (
        f"asked for endpoint 'evaluate', the layer returns {sorted(outputs)}: call_endpoint "
        "must be the endpoint asked for"
    )
    check_accuracy(float(outputs["accuracy"]), before_save.score)


test_load_signature_tensors_loads_an_export_rewritten_at_the_same_path = rewritten_path_test(
    predicted_through_the_layer, ("layer", "layer"), "call_endpoint must be the endpoint asked for"
)


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_reads_the_specs_of_any_export(
    student, trained_copy, new_export_dir, mnist
):
    # Another exporter, other names: endpoint 'classify', 'pixels' in, 'scores' out.
    model = trained_copy()
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "classify",
        lambda pixels: {"scores": model(pixels)},
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="pixels")],
    )
    export_dir = new_export_dir()
    archive.write_out(str(export_dir), verbose=False)
    reloaded = student.load_signature_tensors(str(export_dir), "classify")
    check_reloaded(reloaded, "classify")
    assert set(reloaded["inputs"]) == {"pixels"} and set(reloaded["outputs"]) == {"scores"}, (
        f"for an export whose 'classify' endpoint maps 'pixels' to 'scores', you returned "
        f"inputs {sorted(reloaded['inputs'])} and outputs {sorted(reloaded['outputs'])}: read "
        "them from the export's signature, never assume them"
    )
    scores = np.asarray(reloaded["layer"](tf.constant(mnist.test_images[:10]))["scores"])
    assert scores.shape == (10, 10), f"the 'classify' layer gave scores shaped {scores.shape}"


# --- evaluate ----------------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_evaluate_returns_the_trained_models_accuracy,
    test_evaluate_counts_correct_predictions_on_any_subset,
    test_evaluate_takes_labels_of_any_integer_dtype,
    test_evaluate_answers_each_call_for_its_own_digits,
)


# --- all four together -------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import test_end_to_end_with_all_your_functions  # noqa: E402, F401
