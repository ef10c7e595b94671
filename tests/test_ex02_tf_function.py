"""Tests of exercise 2: a tf.Module exported with named tf.function signatures.

Each test grades one function (its `function` mark) and takes the other
three from solutions/. The shared fixtures (savedmodel_kata/plugin/fixtures.py)
train the reference once with a GradientTape loop, cache it, and give student
code a private copy. Tolerances: see savedmodel_kata/plugin/checks.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from savedmodel_kata.errors import StudentError
from savedmodel_kata.plugin.checks import (
    ARCHITECTURE_TOLERANCE,
    PROBABILITY_TOLERANCE,
    SAVED_MODEL_INIT_OP,
    accuracy_problem,
    batch_accuracy_problem,
    batches_for_one_load,
    check_a_savedmodel_folder,
    describe_check,
    examples,
    key_id,
    opened,
    parameter_report,
    read_saved_model,
    same_count,
    shape_of,
)
from savedmodel_kata.plugin.shared_tests import (
    check_exports_each_model_it_is_given,
    check_loads_an_export_rewritten_at_the_same_path,
    check_reads_the_names_of_another_export,
)
from savedmodel_kata.results import Failure
from savedmodel_kata.tensorflow_setup import import_tensorflow

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


# --- helpers -----------------------------------------------------------------


def call_model(model, images):
    try:
        return np.asarray(model(tf.constant(images)))
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        pytest.fail(
            f"calling your model on a batch of {len(images)} images failed: "
            f"{type(error).__name__}: {str(error).splitlines()[0]}\n"
            "__call__(x) must take float32 [batch, 28, 28, 1] for any batch (use -1 in "
            "tf.reshape).",
            pytrace=False,
        )


def reloaded_output(loaded, key, output, **inputs):
    """Call a reloaded signature; a missing signature or output fails with its name."""
    if key not in loaded.signatures:
        pytest.fail(
            f"the reloaded export has no signature {key!r} (it has {sorted(loaded.signatures)})",
            pytrace=False,
        )
    outputs = loaded.signatures[key](**{name: tf.constant(value) for name, value in inputs.items()})
    if output not in outputs:
        pytest.fail(
            f"the reloaded {key!r} signature returns {sorted(outputs)}, not {output!r}: return a "
            f"dict with the key {output!r} from the tf.function",
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
        f"create_model returned {type(model).__name__}; expected a tf.Module (subclass "
        "tf.Module and call super().__init__()), so tf.saved_model.save can find its variables"
    )
    assert callable(model), (
        "the model is not callable: define __call__(self, x) returning the logits"
    )


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
    assert problem is None, f"create_model: {problem}" + (
        "\nNo variables at all? Assign each tf.Variable to an attribute of the module."
        if not variables
        else ""
    )


# Tests written once for several exercises (shared_tests.py), imported where they run.
from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_starts_from_the_tutorials_initial_values,
    test_create_model_returns_a_new_model_each_call,
)


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(student_model):
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    scores = call_model(student_model(), images)
    looks_like_probabilities = np.all(scores >= 0) and np.allclose(
        scores.sum(axis=1), 1.0, atol=1e-3
    )
    assert not looks_like_probabilities, (
        "the model's outputs are non-negative and every row sums to 1: those are probabilities. "
        "Return the logits of the last dense layer; the signatures add the softmax."
    )


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(kind, student, before_save, mnist):
    with opened(kind, kind.new_model(student.create_model)) as model:
        kind.assign(model, before_save.weights)
        probabilities = tf.nn.softmax(call_model(model, mnist.test_images)).numpy()
    worst = float(np.max(np.abs(probabilities - before_save.probabilities)))
    assert worst <= ARCHITECTURE_TOLERANCE, (
        f"with the reference's trained weights in your variables, your model's probabilities "
        f"differ from the reference's by up to {worst:.3g}. Check the layer order (conv, ReLU, "
        "pool), 'SAME' convolutions, 'VALID' 2x2 pools with stride 2, ReLU on dense 32 and none "
        "on dense 10."
    )


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_trains_like_the_reference,
    test_create_model_trains_from_its_own_initial_weights,
)


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_savedmodel_folder(student_export):
    check_a_savedmodel_folder(
        student_export().directory,
        no_model="save wrote no saved_model.pb into {export_dir}",
        no_variables="{export_dir} has no variables/: tf.saved_model.save writes the variables "
        "it can reach from the object you pass it. Pass the model itself.",
    )


@pytest.mark.function("save")
def test_save_writes_the_two_named_signatures(student_export):
    proto = read_saved_model(student_export().directory)
    signatures = set(proto.meta_graphs[0].signature_def) - {SAVED_MODEL_INIT_OP}
    assert signatures == SIGNATURES, (
        f"the export has signatures {sorted(signatures)}; expected {sorted(SIGNATURES)}. Pass "
        "both to tf.saved_model.save(..., signatures={'serving_default': ..., 'evaluate': ...})."
    )


@pytest.mark.function("save")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES), ids=key_id)
def test_save_signature_inputs_and_outputs_are_named_and_typed(student_export, key):
    proto = read_saved_model(student_export().directory)
    assert key in proto.meta_graphs[0].signature_def, f"the export has no signature {key!r}"
    signature = signature_of(proto, key)
    expected_inputs, expected_outputs = EXPECTED_SIGNATURES[key]
    outputs = set(signature.outputs)
    assert not any(name.startswith("output_") for name in outputs), (
        f"signature {key!r} has outputs {sorted(outputs)}: TensorFlow names an unnamed output "
        "'output_0'. Return a dict from the tf.function, e.g. {'prediction': ...}, so the output "
        "has a name."
    )
    assert set(signature.inputs) == set(expected_inputs), (
        f"signature {key!r} has inputs {sorted(signature.inputs)}; expected "
        f"{sorted(expected_inputs)}. Input keys are the tf.function's argument names."
    )
    assert set(expected_outputs) <= outputs, (
        f"signature {key!r} has outputs {sorted(outputs)}; expected {sorted(expected_outputs)}"
    )
    for side, expected in (("inputs", expected_inputs), ("outputs", expected_outputs)):
        for name, (dtype, shape) in expected.items():
            info = getattr(signature, side)[name]
            assert info.dtype == dtype.as_datatype_enum and shape_of(info) == shape, (
                f"{key!r} {side[:-1]} {name!r} is {tf.dtypes.as_dtype(info.dtype).name} "
                f"{shape_of(info)}; expected {dtype.name} {shape}"
                + (" (-1: any batch size; use None in the TensorSpec)" if shape else "")
            )


@pytest.mark.function("save")
def test_save_exports_the_trained_weights(student_export, before_save):
    reader = tf.train.load_checkpoint(str(student_export().directory / "variables" / "variables"))
    saved = {
        tuple(shape): reader.get_tensor(name)
        for name, shape in reader.get_variable_to_shape_map().items()
        if name.endswith(".ATTRIBUTES/VARIABLE_VALUE")
    }
    for shape, value in before_save.weights.items():
        assert shape in saved, (
            f"the export holds no variable shaped {list(shape)}: was the model passed to save?"
        )
        assert np.array_equal(saved[shape], value), (
            f"the exported variable shaped {list(shape)} differs from the trained one: "
            "export the model you were given, as it is (do not make a new one)."
        )


@pytest.mark.function("save")
def test_save_export_reloaded_elsewhere_gives_the_same_probabilities_and_accuracy(
    student_export, fresh_process, before_save, mnist
):
    directory = student_export().directory
    serve = fresh_process.run(
        directory, "tf2", "serving_default", {"input": mnist.test_images}, ["prediction"]
    )
    worst = float(np.max(np.abs(serve["prediction"] - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"reloaded in a fresh process, 'prediction' differs from the probabilities before save by "
        f"up to {worst:.3g}: is it the softmax of the model's logits?"
    )
    feeds = {"input": mnist.test_images, "label": mnist.test_labels}
    evaluated = fresh_process.run(directory, "tf2", "evaluate", feeds, ["accuracy"])
    accuracy = float(evaluated["accuracy"])
    assert same_count(accuracy, before_save.score), accuracy_problem(
        accuracy,
        before_save.score,
        source="reloaded in a fresh process, the 'evaluate' signature gives",
    ) + (
        ". The signature computes it: the float32 mean of argmax(logits) == label, over every "
        "image of its batch."
    )


@pytest.mark.function("save")
@settings(max_examples=examples(5))
@given(batch_size=st.integers(min_value=1, max_value=50))
@example(batch_size=1)
@example(batch_size=7)
def test_save_serves_batch_sizes_never_seen_at_export(student_export, mnist, batch_size):
    loaded = tf.saved_model.load(str(student_export().directory))
    try:
        prediction = reloaded_output(
            loaded, "serving_default", "prediction", input=mnist.test_images[:batch_size]
        )
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        pytest.fail(
            f"the reloaded serving_default rejects a batch of {batch_size}: "
            f"{str(error).splitlines()[0]}. Declare the batch dimension None in the "
            "input_signature.",
            pytrace=False,
        )
    assert prediction.shape == (batch_size, 10), (
        f"a batch of {batch_size} gave predictions shaped {prediction.shape}"
    )


@pytest.mark.function("save")
def test_save_accuracy_signature_answers_each_batch_for_its_own_digits(
    student_export, before_save, mnist
):
    # One load, batches in turn, as a client feeds it: an accuracy over the test set's size,
    # or a count kept in variables across calls, gets one of them wrong.
    loaded = tf.saved_model.load(str(student_export().directory))
    earlier = []
    batches = batches_for_one_load(before_save.probabilities, mnist.test_labels)
    for call, (rows, expected) in zip(("first", "second"), batches, strict=True):
        accuracy = reloaded_output(
            loaded,
            "evaluate",
            "accuracy",
            input=mnist.test_images[rows],
            label=mnist.test_labels[rows],
        )
        assert accuracy.shape == (), f"'evaluate' gives an accuracy shaped {accuracy.shape}"
        source = f"reloaded, the 'evaluate' signature's {call} call (same load) gives"
        problem = batch_accuracy_problem(float(accuracy), expected, earlier, source)
        assert problem is None, problem
        earlier.append(expected)


def exported_by_student(kind, student, model, directory):
    """The student's export of `model`; save raising here, after it exported a model once
    already, fails the test with what a second export needs."""
    try:
        return kind.export(student.save, model, directory)
    except StudentError as error:
        if error.failure != Failure.RAISED:
            raise
        pytest.fail(
            f"{str(error).splitlines()[0]}\nsave exported one model, then failed for another in "
            "the same process. Build the tf.functions inside save, around the model it is "
            "given: a tf.function at module level is traced once, for the first model, and "
            "keeps its variables (a global set by save changes nothing).",
            pytrace=False,
        )


@pytest.mark.function("save")
def test_save_exports_each_model_it_is_given(
    kind, student, reference, student_export, trained_copy, new_export_dir, mnist
):
    def served(model, images, labels):
        export = exported_by_student(kind, student, model, new_export_dir())
        loaded = tf.saved_model.load(str(export.directory))
        predicted = reloaded_output(loaded, "serving_default", "prediction", input=images)
        accuracy = reloaded_output(loaded, "evaluate", "accuracy", input=images, label=labels)
        return predicted, float(accuracy)

    check_exports_each_model_it_is_given(
        kind, reference, student_export, trained_copy, mnist, served,
        fix="build the tf.functions inside save, around that model (a tf.function at module "
        "level is traced once, for the first model).",
    )  # fmt: skip


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES), ids=key_id)
def test_load_signature_tensors_describes_the_signature(student, reference_export, key):
    description = student.load_signature_tensors(str(reference_export.directory), key)
    describe_check(description, key)
    expected_inputs, expected_outputs = EXPECTED_SIGNATURES[key]
    for side, expected in (("inputs", expected_inputs), ("outputs", expected_outputs)):
        found = {
            name: (spec.dtype, spec.shape.as_list()) for name, spec in description[side].items()
        }
        wanted = {
            name: (dtype, [None if d == -1 else d for d in shape])
            for name, (dtype, shape) in expected.items()
        }
        assert found == wanted, (
            f"for signature {key!r}, {side} are {found}; the export says {wanted}"
            + (
                ". Signatures take keyword arguments only: the specs are in "
                "structured_input_signature[1] (its [0], the positional ones, is empty)"
                if side == "inputs" and not found
                else ""
            )
        )


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401
    test_load_signature_tensors_function_takes_keywords_and_restores_the_weights,
    test_load_signature_tensors_returns_the_loaded_objects_own_signature,
)


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_loads_each_export_it_is_given(
    kind, student, reference, reference_export, new_export_dir, before_save, mnist
):
    # Two exports in turn, the trained model's and an untrained one's: each call loads its own.
    untrained_model = kind.new_model(reference.create_model)
    untrained = kind.export(reference.save, untrained_model, new_export_dir())
    images = mnist.test_images[:200]
    for export, expected in (
        (reference_export, before_save.probabilities[:200]),
        (untrained, kind.predict(untrained_model, images)),
        (reference_export, before_save.probabilities[:200]),
    ):
        description = student.load_signature_tensors(str(export.directory), "serving_default")
        describe_check(description, "serving_default")
        predicted = description["function"](input=tf.constant(images))["prediction"].numpy()
        assert np.max(np.abs(predicted - expected)) <= PROBABILITY_TOLERANCE, (
            "called for one export, then another, load_signature_tensors returned a function "
            "predicting for the wrong one: load the export_dir of each call (never keep a load "
            "from an earlier call)"
        )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_loads_an_export_rewritten_at_the_same_path(
    kind, student, reference, reference_export, new_export_dir, before_save, mnist
):
    def predict(path, images):
        description = student.load_signature_tensors(path, "serving_default")
        describe_check(description, "serving_default")
        return description["function"](input=tf.constant(images))["prediction"].numpy()

    check_loads_an_export_rewritten_at_the_same_path(
        kind, reference, reference_export, new_export_dir, before_save, mnist, predict,
        reads=("function", "load"), fix="return loaded.signatures[signature_key] itself",
    )  # fmt: skip


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_reads_names_from_the_export_not_from_assumptions(
    student, trained_copy, new_export_dir
):
    check_reads_the_names_of_another_export(
        student,
        trained_copy(),
        new_export_dir,
        exporter="an export",
        fix="read them from the function (structured_input_signature, structured_outputs), "
        "never assume them",
    )


# --- evaluate ----------------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_evaluate_returns_a_fraction,
    test_evaluate_counts_the_same_digits_as_the_trained_model,
    test_evaluate_counts_correct_predictions_on_any_subset,
    test_evaluate_takes_labels_of_any_integer_dtype,
    test_evaluate_answers_each_call_for_its_own_digits,
)


# --- all four together -------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import test_end_to_end_with_all_your_functions  # noqa: E402, F401
