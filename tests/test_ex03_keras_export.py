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

from savedmodel_kata.maintainer.mutation_gate import Alternative, Mistake
from savedmodel_kata.plugin.checks import (
    ACCURACY_MARGIN_VS_REFERENCE,
    ARCHITECTURE_TOLERANCE,
    PROBABILITY_TOLERANCE,
    SUBSET_EXAMPLES,
    check_counts_correct,
    digits_counted,
    examples,
    key_id,
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
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS), ids=key_id)
def test_load_signature_tensors_returns_a_tfsm_layer_and_the_endpoint_specs(
    student, reference_export, endpoint
):
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
def test_load_signature_tensors_layer_serves_the_trained_probabilities(
    student, reference_export, before_save, mnist
):
    reloaded = student.load_signature_tensors(str(reference_export.directory), "serve")
    probabilities = np.asarray(reloaded["layer"](tf.constant(mnist.test_images))["prediction"])
    assert np.max(np.abs(probabilities - before_save.probabilities)) <= PROBABILITY_TOLERANCE, (
        "the reloaded layer predicts other probabilities: "
        "call_endpoint must be the endpoint asked for"
    )


# --- evaluate ----------------------------------------------------------------


@pytest.mark.function("evaluate")
def test_evaluate_returns_the_trained_models_accuracy(
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


# --- the mutation gate: mistakes this suite must catch, alternatives it must accept

MISTAKES = [
    Mistake(
        "create_model",
        "softmax on the last layer",
        "keras.layers.Dense(NUM_CLASSES),",
        'keras.layers.Dense(NUM_CLASSES, activation="softmax"),',
        "the last Dense layer takes no activation",
    ),
    Mistake(
        "create_model",
        "valid padding on conv1",
        'keras.layers.Conv2D(8, 3, padding="same", activation="relu"),',
        'keras.layers.Conv2D(8, 3, padding="valid", activation="relu"),',
        "'same' padding on the convolutions",
    ),
    Mistake(
        "create_model",
        "no ReLU on Dense 32",
        'keras.layers.Dense(32, activation="relu"),',
        "keras.layers.Dense(32),",
        "the activations",
    ),
    Mistake(
        "create_model",
        "ReLU on the logits",
        "keras.layers.Dense(NUM_CLASSES),",
        'keras.layers.Dense(NUM_CLASSES, activation="relu"),',
        "the activations",
    ),
    Mistake(
        "create_model",
        "stride-2 convolution instead of the first pool",
        (
            'keras.layers.Conv2D(8, 3, padding="same", activation="relu"),\n'
            "            keras.layers.MaxPooling2D(2),"
        ),
        'keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),',
        "check the layer order",
    ),
    Mistake(
        "create_model",
        "GlobalAveragePooling instead of Flatten",
        "keras.layers.Flatten(),",
        "keras.layers.GlobalAveragePooling2D(),",
        "the flattened size must be 3*3*4 = 36",
    ),
    Mistake(
        "create_model",
        "same-padded last pool",
        (
            'keras.layers.Conv2D(4, 1, padding="same", activation="relu"),\n'
            "            keras.layers.MaxPooling2D(2),"
        ),
        (
            'keras.layers.Conv2D(4, 1, padding="same", activation="relu"),\n'
            '            keras.layers.MaxPooling2D(2, padding="same"),'
        ),
        "the flattened size must be 3*3*4 = 36",
    ),
    Mistake(
        "create_model",
        "batch normalisation added",
        "keras.layers.Flatten(),",
        ("keras.layers.BatchNormalization(),\n            keras.layers.Flatten(),"),
        "trainable parameters",
    ),
    Mistake(
        "create_model",
        "zero-initialised conv2 kernel",
        'keras.layers.Conv2D(16, 3, padding="same", activation="relu"),',
        (
            'keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer="ze'
            'ros"),'
        ),
        "Keras' default initialisers (glorot uniform kernels)",
    ),
    Mistake(
        "create_model",
        "biases initialised to ones",
        'keras.layers.Dense(32, activation="relu"),',
        'keras.layers.Dense(32, activation="relu", bias_initializer="ones"),',
        "zero biases",
    ),
    Mistake(
        "create_model",
        "extra dropout layer",
        'keras.layers.Dense(32, activation="relu"),',
        ('keras.layers.Dense(32, activation="relu"),\n            keras.layers.Dropout(0.5),'),
        "the tutorial's layers: no dropout",
    ),
    Mistake(
        "create_model",
        "one shared model for every call",
        "def create_model():",
        (
            "def create_model():\n"
            '    if "_MODEL" not in globals():\n'
            '        globals()["_MODEL"] = _build()\n'
            '    return globals()["_MODEL"]\n'
            "\n"
            "\n"
            "def _build():"
        ),
        "create_model must return a new, untrained model each call",
    ),
    Mistake(
        "save",
        "model.save into the export folder",
        "    archive.write_out(export_dir, verbose=False)",
        "    model.save(export_dir)",
        "Keras 3's model.save writes only a .keras",
    ),
    Mistake(
        "save",
        "model.export instead of ExportArchive",
        (
            "    archive = keras.export.ExportArchive()\n"
            "    archive.track(model)\n"
            "    archive.add_endpoint(\n"
            '        "serve",\n'
            '        lambda input: {"prediction": tf.nn.softmax(model(input))},\n'
            "        input_signature=[INPUT_SPEC],\n"
            "    )\n"
            "    archive.add_endpoint(\n"
            '        "evaluate",\n'
            "        lambda input, label: {\n"
            '            "accuracy": tf.reduce_mean(\n'
            "                tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32"
            ")\n"
            "            )\n"
            "        },\n"
            "        input_signature=[INPUT_SPEC, LABEL_SPEC],\n"
            "    )\n"
            "    archive.write_out(export_dir, verbose=False)"
        ),
        "    model.export(export_dir, verbose=False)",
        "model.export makes only 'serve'",
    ),
    Mistake(
        "save",
        "evaluate endpoint added first",
        (
            "    archive.add_endpoint(\n"
            '        "serve",\n'
            '        lambda input: {"prediction": tf.nn.softmax(model(input))},\n'
            "        input_signature=[INPUT_SPEC],\n"
            "    )\n"
            "    archive.add_endpoint(\n"
            '        "evaluate",\n'
            "        lambda input, label: {\n"
            '            "accuracy": tf.reduce_mean(\n'
            "                tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32"
            ")\n"
            "            )\n"
            "        },\n"
            "        input_signature=[INPUT_SPEC, LABEL_SPEC],\n"
            "    )\n"
        ),
        (
            "    archive.add_endpoint(\n"
            '        "evaluate",\n'
            "        lambda input, label: {\n"
            '            "accuracy": tf.reduce_mean(\n'
            "                tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32"
            ")\n"
            "            )\n"
            "        },\n"
            "        input_signature=[INPUT_SPEC, LABEL_SPEC],\n"
            "    )\n"
            "    archive.add_endpoint(\n"
            '        "serve",\n'
            '        lambda input: {"prediction": tf.nn.softmax(model(input))},\n'
            "        input_signature=[INPUT_SPEC],\n"
            "    )\n"
        ),
        (
            "'serving_default' must be 'serve' (ExportArchive aliases its first endpoint): add 's"
            "erve' first"
        ),
    ),
    Mistake(
        "save",
        "endpoint named serving_default",
        '        "serve",\n',
        '        "serving_default",\n',
        "expected 'serve'",
    ),
    Mistake(
        "save",
        "prediction is the logits",
        'lambda input: {"prediction": tf.nn.softmax(model(input))},',
        'lambda input: {"prediction": model(input)},',
        "softmax",
    ),
    Mistake(
        "save",
        "unnamed serve output",
        'lambda input: {"prediction": tf.nn.softmax(model(input))},',
        "lambda input: tf.nn.softmax(model(input)),",
        "return a dict",
    ),
    Mistake(
        "save",
        "accuracy as a percentage in the endpoint",
        (
            "                tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32"
            ")\n"
            "            )\n"
        ),
        (
            "                tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32"
            ")\n"
            "            ) * 100\n"
        ),
        "a fraction, not a percentage",
    ),
    Mistake(
        "save",
        "int32 label spec",
        (
            "tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32)\n"
            "            )\n"
            "        },\n"
            "        input_signature=[INPUT_SPEC, LABEL_SPEC],"
        ),
        (
            "tf.cast(tf.equal(tf.argmax(model(input), axis=1), tf.cast(label, tf.int64)), tf.floa"
            "t32)\n"
            "            )\n"
            "        },\n"
            '        input_signature=[INPUT_SPEC, tf.TensorSpec([None], tf.int32, name="label")],'
        ),
        "int64",
    ),
    Mistake(
        "save",
        "fixed batch in the serve spec",
        "        input_signature=[INPUT_SPEC],\n",
        '        input_signature=[tf.TensorSpec([32, 28, 28, 1], tf.float32, name="input")],\n',
        "-1 for any batch",
    ),
    Mistake(
        "save",
        "model recompiled before saving",
        "    model.save(keras_file)",
        (
            '    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy('
            "from_logits=True))\n"
            "    model.save(keras_file)"
        ),
        "the .keras file has no optimizer state",
    ),
    Mistake(
        "save",
        "weights file instead of a .keras file",
        "    model.save(keras_file)",
        '    model.save_weights(keras_file.replace(".keras", ".weights.h5"))',
        "write it with model.save(keras_file)",
    ),
    Mistake(
        "save",
        ".keras file next to the export",
        "    model.save(keras_file)",
        '    model.save(export_dir + ".keras")',
        "write it with model.save(keras_file)",
    ),
    Mistake(
        "load_signature_tensors",
        "TFSMLayer with an endpoint the export lacks",
        "TFSMLayer(export_dir, call_endpoint=endpoint),",
        'TFSMLayer(export_dir, call_endpoint="serving"),',
        "TFSMLayer's call_endpoint must be an endpoint the export has",
    ),
    Mistake(
        "load_signature_tensors",
        "TFSMLayer always serve",
        "TFSMLayer(export_dir, call_endpoint=endpoint),",
        'TFSMLayer(export_dir, call_endpoint="serve"),',
        "call_endpoint must be the endpoint asked for",
    ),
    Mistake(
        "load_signature_tensors",
        "TFSMLayer always serving_default",
        "TFSMLayer(export_dir, call_endpoint=endpoint),",
        'TFSMLayer(export_dir, call_endpoint="serving_default"),',
        "call_endpoint must be the endpoint asked for",
    ),
    Mistake(
        "load_signature_tensors",
        "load_model on a SavedModel",
        '"layer": keras.layers.TFSMLayer(export_dir, call_endpoint=endpoint),',
        '"layer": keras.models.load_model(export_dir),',
        "Reload a SavedModel endpoint with keras.layers.TFSMLayer",
    ),
    Mistake(
        "load_signature_tensors",
        "hard-coded endpoint specs",
        (
            '        "inputs": dict(keyword_specs),\n'
            '        "outputs": dict(signature.structured_outputs),'
        ),
        (
            '        "inputs": {"input": INPUT_SPEC} if endpoint == "serve" else {"input": INPUT_'
            'SPEC, "label": LABEL_SPEC},\n'
            '        "outputs": {"prediction": tf.TensorSpec([None, 10], tf.float32)} if endpoint'
            ' == "serve" else {"accuracy": tf.TensorSpec([], tf.float32)},'
        ),
        "read the specs from the export, never assume them",
    ),
    Mistake(
        "load_signature_tensors",
        "positional specs read as inputs",
        "    _, keyword_specs = signature.structured_input_signature",
        "    keyword_specs, _ = signature.structured_input_signature",
        "the export says",
    ),
    Mistake(
        "load_signature_tensors",
        "specs always from serve",
        "signature = tf.saved_model.load(export_dir).signatures[endpoint]",
        'signature = tf.saved_model.load(export_dir).signatures["serve"]',
        "the export says",
    ),
    Mistake(
        "load_signature_tensors",
        "signature function instead of a layer",
        '"layer": keras.layers.TFSMLayer(export_dir, call_endpoint=endpoint),',
        '"layer": signature,',
        "expected keras.layers.TFSMLayer",
    ),
    Mistake(
        "load_signature_tensors",
        "outputs as a list of names",
        '"outputs": dict(signature.structured_outputs),',
        '"outputs": list(signature.structured_outputs),',
        "{key: tf.TensorSpec}",
    ),
    Mistake(
        "evaluate",
        "int32 labels",
        "label=tf.constant(labels, tf.int64)",
        "label=tf.constant(labels, tf.int32)",
        "Labels are int64 digits",
    ),
    Mistake(
        "evaluate",
        "labels passed as they come",
        "label=tf.constant(labels, tf.int64)",
        "label=labels",
        "cast the labels to int64, the endpoint's dtype",
    ),
    Mistake(
        "evaluate",
        "no label given",
        (
            '    outputs = reloaded["layer"](\n'
            "        tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)\n"
            "    )\n"
            '    return float(outputs["accuracy"])'
        ),
        (
            '    outputs = reloaded["layer"](tf.constant(images, tf.float32))\n'
            '    return float(outputs["accuracy"])'
        ),
        "label=",
    ),
    Mistake(
        "evaluate",
        "inputs by keyword",
        "        tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)",
        "        input=tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)",
        "first argument positionally",
    ),
    Mistake(
        "evaluate",
        "one-hot labels",
        "label=tf.constant(labels, tf.int64)",
        "label=tf.one_hot(labels, 10)",
        "Labels are int64 digits",
    ),
    Mistake(
        "evaluate",
        "accuracy as a percentage",
        '    return float(outputs["accuracy"])',
        '    return 100 * float(outputs["accuracy"])',
        "drop the * 100",
    ),
    Mistake(
        "evaluate",
        "numpy float32 returned",
        '    return float(outputs["accuracy"])',
        '    return outputs["accuracy"].numpy()',
        "a Python float",
    ),
    Mistake(
        "evaluate",
        "off by one: last image dropped",
        "        tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)",
        ("        tf.constant(images[:-1], tf.float32), label=tf.constant(labels[:-1], tf.int64)"),
        "Is every image given counted",
    ),
    Mistake(
        "evaluate",
        "hard-coded accuracy",
        (
            '    outputs = reloaded["layer"](\n'
            "        tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)\n"
            "    )\n"
            '    return float(outputs["accuracy"])'
        ),
        "    return 0.9240000247955322",
        "of which the model gets",
    ),
    Mistake(
        "evaluate",
        "accuracy memoised across calls",
        '    return float(outputs["accuracy"])',
        '    return evaluate.__dict__.setdefault("accuracy", float(outputs["accuracy"]))',
        "every call computes its own images' accuracy",
    ),
    Mistake(
        "evaluate",
        "mean of per-batch accuracies",
        (
            '    outputs = reloaded["layer"](\n'
            "        tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)\n"
            "    )\n"
            '    return float(outputs["accuracy"])'
        ),
        (
            "    batch_accuracies = [\n"
            '        float(reloaded["layer"](tf.constant(images[i:i + 256], tf.float32),\n'
            '                                label=tf.constant(labels[i:i + 256], tf.int64))["acc'
            'uracy"])\n'
            "        for i in range(0, len(images), 256)\n"
            "    ]\n"
            "    return sum(batch_accuracies) / len(batch_accuracies)"
        ),
        "a ragged last batch: sum the correct counts, not the batch means",
    ),
]

ALTERNATIVES = [
    Alternative(
        "create_model",
        "functional API",
        ("    return keras.Sequential(\n        [\n            keras.Input(shape=(28, 28, 1)),"),
        (
            "    inputs = keras.Input(shape=(28, 28, 1))\n"
            "    h = inputs\n"
            "    for filters, size in ((8, 3), (16, 3), (4, 1)):\n"
            '        h = keras.layers.Conv2D(filters, size, padding="same", activation="relu")(h)'
            "\n"
            "        h = keras.layers.MaxPooling2D(pool_size=(2, 2), strides=2)(h)\n"
            "    h = keras.layers.Flatten()(h)\n"
            '    h = keras.layers.Dense(32, activation="relu")(h)\n'
            "    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(h))\n"
            "    return keras.Sequential(\n"
            "        [\n"
            "            keras.Input(shape=(28, 28, 1)),"
        ),
    ),
    Alternative(
        "create_model",
        "input_shape on the first layer",
        (
            "            keras.Input(shape=(28, 28, 1)),\n"
            '            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),'
        ),
        (
            '            keras.layers.Conv2D(8, 3, padding="same", activation="relu", input_shape'
            "=(28, 28, 1)),"
        ),
    ),
    Alternative(
        "create_model",
        "separate ReLU layers, explicit initialisers",
        (
            '            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),\n'
            "            keras.layers.MaxPooling2D(2),\n"
            '            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),'
        ),
        (
            '            keras.layers.Conv2D(8, (3, 3), padding="same", kernel_initializer="gloro'
            't_uniform", bias_initializer="zeros"),\n'
            "            keras.layers.ReLU(),\n"
            '            keras.layers.MaxPool2D(pool_size=2, strides=2, padding="valid"),\n'
            '            keras.layers.Conv2D(16, 3, padding="same"),\n'
            '            keras.layers.Activation("relu"),'
        ),
    ),
    Alternative(
        "create_model",
        "subclassed keras.Model",
        "def create_model():",
        (
            "class DigitModel(keras.Model):\n"
            "    def __init__(self, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            '        self.convs = [keras.layers.Conv2D(f, s, padding="same", activation="relu") f'
            "or f, s in ((8, 3), (16, 3), (4, 1))]\n"
            "        self.pools = [keras.layers.MaxPooling2D(2) for _ in range(3)]\n"
            "        self.flatten = keras.layers.Flatten()\n"
            '        self.hidden = keras.layers.Dense(32, activation="relu")\n'
            "        self.logits = keras.layers.Dense(NUM_CLASSES)\n"
            "\n"
            "    def call(self, x):\n"
            "        for conv, pool in zip(self.convs, self.pools):\n"
            "            x = pool(conv(x))\n"
            "        return self.logits(self.hidden(self.flatten(x)))\n"
            "\n"
            "\n"
            "def create_model():\n"
            "    model = DigitModel()\n"
            "    model(keras.ops.zeros((1, 28, 28, 1)))\n"
            "    return model\n"
            "\n"
            "\n"
            "def _sequential_model():"
        ),
    ),
    Alternative(
        "save",
        "ExportArchive without archive.track(model)",
        "    archive.track(model)\n",
        "",
    ),
    Alternative(
        "save",
        "named tf.functions, keras.saving.save_model",
        (
            "    archive = keras.export.ExportArchive()\n"
            "    archive.track(model)\n"
            "    archive.add_endpoint(\n"
            '        "serve",\n'
            '        lambda input: {"prediction": tf.nn.softmax(model(input))},\n'
            "        input_signature=[INPUT_SPEC],\n"
            "    )\n"
            "    archive.add_endpoint(\n"
            '        "evaluate",\n'
            "        lambda input, label: {\n"
            '            "accuracy": tf.reduce_mean(\n'
            "                tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32"
            ")\n"
            "            )\n"
            "        },\n"
            "        input_signature=[INPUT_SPEC, LABEL_SPEC],\n"
            "    )\n"
            "    archive.write_out(export_dir, verbose=False)\n"
            "    model.save(keras_file)"
        ),
        (
            "    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="
            '"input")])\n'
            "    def serve(input):\n"
            '        return {"prediction": keras.ops.softmax(model(input, training=False))}\n'
            "\n"
            "    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="
            '"input"),\n'
            '                                  tf.TensorSpec([None], tf.int64, name="label")])\n'
            "    def evaluate(input, label):\n"
            "        predicted = tf.argmax(model(input, training=False), axis=-1, output_type=tf."
            "int64)\n"
            '        return {"accuracy": tf.reduce_mean(tf.cast(predicted == label, tf.float32))}'
            "\n"
            "\n"
            "    archive = keras.export.ExportArchive()\n"
            "    archive.track(model)\n"
            '    archive.add_endpoint("serve", serve)\n'
            '    archive.add_endpoint("evaluate", evaluate)\n'
            "    archive.write_out(export_dir, verbose=False)\n"
            "    keras.saving.save_model(model, keras_file)"
        ),
    ),
    Alternative(
        "save",
        ".keras file first, then the archive",
        "    archive = keras.export.ExportArchive()\n",
        ("    model.save(keras_file)\n    archive = keras.export.ExportArchive()\n"),
    ),
    Alternative(
        "load_signature_tensors",
        "specs rebuilt from a kept load",
        (
            "    signature = tf.saved_model.load(export_dir).signatures[endpoint]\n"
            "    _, keyword_specs = signature.structured_input_signature\n"
            "    return {\n"
            '        "layer": keras.layers.TFSMLayer(export_dir, call_endpoint=endpoint),\n'
            '        "inputs": dict(keyword_specs),\n'
            '        "outputs": dict(signature.structured_outputs),\n'
            "    }"
        ),
        (
            "    layer = keras.layers.TFSMLayer(export_dir, call_endpoint=endpoint)\n"
            "    loaded = tf.saved_model.load(export_dir)\n"
            "    function = loaded.signatures[endpoint]\n"
            "    as_spec = lambda spec: tf.TensorSpec(spec.shape, spec.dtype)\n"
            "    return {\n"
            '        "layer": layer,\n'
            '        "inputs": {key: as_spec(spec) for key, spec in function.structured_input_sig'
            "nature[1].items()},\n"
            '        "outputs": {key: as_spec(spec) for key, spec in function.structured_outputs.'
            "items()},\n"
            "    }"
        ),
    ),
    Alternative(
        "evaluate",
        "tf.cast labels, numpy result",
        (
            '    outputs = reloaded["layer"](\n'
            "        tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)\n"
            "    )\n"
            '    return float(outputs["accuracy"])'
        ),
        (
            '    layer = reloaded["layer"]\n'
            "    outputs = layer(tf.convert_to_tensor(images, dtype=tf.float32), label=tf.cast(la"
            "bels, tf.int64))\n"
            '    return float(keras.ops.convert_to_numpy(outputs["accuracy"]))'
        ),
    ),
    Alternative(
        "evaluate",
        "batch by batch, counts summed",
        (
            '    outputs = reloaded["layer"](\n'
            "        tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)\n"
            "    )\n"
            '    return float(outputs["accuracy"])'
        ),
        (
            "    correct = 0\n"
            "    for start in range(0, len(images), 256):\n"
            "        batch_images, batch_labels = images[start:start + 256], labels[start:start +"
            " 256]\n"
            '        outputs = reloaded["layer"](tf.constant(batch_images, tf.float32), label=tf.'
            "constant(batch_labels, tf.int64))\n"
            '        correct += int(round(float(outputs["accuracy"]) * len(batch_labels)))\n'
            "    return correct / len(images)"
        ),
    ),
]
