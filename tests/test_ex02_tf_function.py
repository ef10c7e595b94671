"""Tests of exercise 2: a tf.Module exported with named tf.function signatures.

Each test grades one function (its `function` mark) and takes the other
three from solutions/. The shared fixtures (savedmodel_kata/plugin/fixtures.py)
train the reference once with a GradientTape loop, cache it, and give student
code a private copy. Tolerances: see savedmodel_kata/plugin/checks.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel_kata.errors import StudentError
from savedmodel_kata.plugin import shared_tests
from savedmodel_kata.plugin.checks import (
    PROBABILITY_TOLERANCE,
    SAVED_MODEL_INIT_OP,
    check_answers_each_batch,
    check_model_type,
    describe_check,
    key_id,
    parameter_report,
    read_saved_model,
    shape_of,
)
from savedmodel_kata.plugin.shared_tests import (
    any_batch_size,
    check_reads_the_names_of_another_export,
    rewritten_path_test,
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


def predicted_through_the_function(load_signature_tensors, export_dir, images):
    """The probabilities 'function' predicts, of what load_signature_tensors returned for
    serving_default."""
    description = load_signature_tensors(str(export_dir), "serving_default")
    describe_check(description, "serving_default")
    return description["function"](input=tf.constant(images))["prediction"].numpy()


def accuracy_of_the_signature(loaded, images, labels) -> float:
    """The reloaded 'evaluate' signature's accuracy on `images`."""
    accuracy = reloaded_output(loaded, "evaluate", "accuracy", input=images, label=labels)
    assert accuracy.shape == (), f"'evaluate' gives an accuracy shaped {accuracy.shape}"
    return float(accuracy)


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_tf_module(student_model):
    model = student_model()
    check_model_type(
        model,
        tf.Module,
        "a tf.Module (subclass tf.Module and call super().__init__()), so tf.saved_model.save "
        "can find its variables",
    )
    assert callable(model), (
        "the model is not callable: define __call__(self, x) returning the logits"
    )


test_create_model_output_shape_for_any_batch_size = shared_tests.output_shape_test(
    call_model, max_examples=8, dtype=np.float32
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


test_create_model_returns_logits_not_probabilities = shared_tests.logits_not_probabilities_test(
    call_model,
    lesson="the model's outputs are non-negative and every row sums to 1: those are "
    "probabilities. Return the logits of the last dense layer; the signatures add the softmax.",
)

test_create_model_computes_the_tutorials_function = (
    shared_tests.computes_the_tutorials_function_test(
        call_model,
        problem="with the reference's trained weights in your variables, your model's "
        "probabilities differ from the reference's by up to {worst:.3g}. Check the layer order "
        "(conv, ReLU, pool), 'SAME' convolutions, 'VALID' 2x2 pools with stride 2, ReLU on dense "
        "32 and none on dense 10.",
    )
)


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_trains_like_the_reference,
    test_create_model_trains_from_its_own_initial_weights,
)


# --- save --------------------------------------------------------------------


test_save_writes_a_savedmodel_folder = shared_tests.savedmodel_folder_test(
    no_model="save wrote no saved_model.pb into {export_dir}",
    no_variables="{export_dir} has no variables/: tf.saved_model.save writes the variables it "
    "can reach from the object you pass it. Pass the model itself.",
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


test_save_export_reloaded_elsewhere_gives_the_same_probabilities_and_accuracy = (
    shared_tests.reloaded_elsewhere_test(
        "serving_default",
        prediction_problem="reloaded in a fresh process, 'prediction' differs from the "
        "probabilities before save by up to {worst:.3g}: is it the softmax of the model's logits?",
        accuracy_source="reloaded in a fresh process, the 'evaluate' signature gives",
        accuracy_fix=". The signature computes it: the float32 mean of argmax(logits) == label, "
        "over every image of its batch.",
    )
)


@pytest.mark.function("save")
@any_batch_size(max_examples=5, largest=50, explicit=(1, 7))
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
    check_answers_each_batch(
        lambda images, labels: accuracy_of_the_signature(loaded, images, labels),
        before_save,
        mnist,
        "reloaded, the 'evaluate' signature's {call} call (same load) gives",
    )


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


def served_by_the_signatures(kind, student, model, directory, images, labels):
    """What the student's export of `model` predicts and its accuracy, through its two
    reloaded signatures."""
    export = exported_by_student(kind, student, model, directory)
    loaded = tf.saved_model.load(str(export.directory))
    predicted = reloaded_output(loaded, "serving_default", "prediction", input=images)
    accuracy = reloaded_output(loaded, "evaluate", "accuracy", input=images, label=labels)
    return predicted, float(accuracy)


test_save_exports_each_model_it_is_given = shared_tests.exports_each_model_test(
    served_by_the_signatures,
    fix="build the tf.functions inside save, around that model (a tf.function at module level "
    "is traced once, for the first model).",
)


# --- load_signature_tensors --------------------------------------------------


test_load_signature_tensors_describes_the_signature = shared_tests.describes_the_signature_test(
    EXPECTED_SIGNATURES,
    describe_check,
    where="for signature {key}, ",
    no_inputs=". Signatures take keyword arguments only: the specs are in "
    "structured_input_signature[1] (its [0], the positional ones, is empty)",
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
        load = student.load_signature_tensors
        predicted = predicted_through_the_function(load, export.directory, images)
        assert np.max(np.abs(predicted - expected)) <= PROBABILITY_TOLERANCE, (
            "called for one export, then another, load_signature_tensors returned a function "
            "predicting for the wrong one: load the export_dir of each call (never keep a load "
            "from an earlier call)"
        )


test_load_signature_tensors_loads_an_export_rewritten_at_the_same_path = rewritten_path_test(
    predicted_through_the_function,
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
