"""Tests of exercise 4: one graph-mode export for both worlds, and TF2 exports read by TF1.

Each test grades one function and takes the other three from solutions/.
Two tests also pin TensorFlow behaviour the exercise teaches, with the
reason in their messages: the tutorial's export is unliftable for
tf.saved_model.load, and a Keras 3 model given straight to
tf.saved_model.save cannot be read by the TF1 loader while its
`model.export` can. If TensorFlow changes either, those tests say so.
"""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel_kata import catalogue, kinds
from savedmodel_kata.code_under_test import import_exercise
from savedmodel_kata.kinds.graph import one_hot
from savedmodel_kata.plugin import graph_checks, shared_tests
from savedmodel_kata.plugin.checks import (
    PREDICT_METHOD,
    PROBABILITY_TOLERANCE,
    check_accuracy,
    describe_check,
    key_id,
    loaded_with,
    read_saved_model,
    same_count,
    shape_of,
)
from savedmodel_kata.plugin.shared_tests import (
    OTHER_TENSOR_NAMES,
    OTHER_TENSOR_NAMES_FIX,
    accuracy_run_in_the_session,
    check_exports_the_trained_variables,
    check_reads_the_names_of_another_export,
    check_reloaded_elsewhere,
    exported_with_other_tensor_names,
)
from savedmodel_kata.tensorflow_setup import import_tensorflow

tf = import_tensorflow()
v1 = tf.compat.v1

SERVE_TAG = "serve"
EXPECTED_SIGNATURES = {
    "serving_default": ({"input": [-1, 28, 28, 1]}, {"prediction": [-1, 10]}),
    "evaluate": ({"input": [-1, 28, 28, 1], "label": [-1, 10]}, {"accuracy": []}),
}
SESSION_KIND = kinds.named("graph")  # loading into a TF1 session, as exercise 1 does


# --- helpers -----------------------------------------------------------------


def in_session(load_signature_tensors, key):
    """The bridge's TF1 branch, called the way exercise 1's loader is: (sess, export_dir)."""
    return lambda sess, export_dir: load_signature_tensors(export_dir, key, session=sess)


@pytest.fixture(scope="module")
def tutorial_export(kata_root, kind, trained_copy, new_export_dir):
    """The trained model exported the tutorial's way (exercise 1's reference save)."""
    tutorial = import_exercise(kata_root, "solutions", catalogue.by_number(1))
    return kind.export(tutorial.save, trained_copy(), new_export_dir())


def tf2_loaded(export_dir, key):
    """The export loaded by tf.saved_model.load (kept: its signatures read its variables),
    failing if it has no signature `key`."""
    loaded = tf.saved_model.load(str(export_dir))
    if key not in loaded.signatures:
        pytest.fail(
            f"the export has no signature {key!r} (it has {sorted(loaded.signatures)})",
            pytrace=False,
        )
    return loaded


# --- create_model ------------------------------------------------------------


# Tests written once for several exercises (shared_tests.py), imported where they run.
from savedmodel_kata.plugin.shared_tests import test_create_model_builds_the_tutorials_layers  # noqa: E402, F401


@pytest.mark.function("create_model")
def test_create_model_keeps_the_batch_dimension_open(student_model):
    model = student_model()
    graph_checks.check_batch_dimension_open(model)
    for batch_size in (1, 33):
        graph_checks.check_logits_for_batch(model, batch_size)


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_starts_from_the_tutorials_initial_values,
    test_create_model_returns_logits_not_probabilities,
    test_create_model_computes_the_tutorials_function,
)


# --- save --------------------------------------------------------------------


test_save_writes_a_savedmodel_folder = shared_tests.savedmodel_folder_test(
    no_model="save wrote no saved_model.pb into export_dir (it holds {held}): add the meta graph "
    "and variables to a Builder for export_dir, then call builder.save(), which writes the files",
    no_variables=None,  # test_save_exports_the_trained_weights says what of them is missing
)


@pytest.mark.function("save")
def test_save_loads_in_tf2_where_the_tutorials_export_cannot(tutorial_export, student_export):
    # The pinned lesson: TensorFlow 2 refuses the tutorial's signature.
    from tensorflow.python.ops.op_selector import UnliftableError

    with pytest.raises(UnliftableError, match="depends on a placeholder which is not an input"):
        tf.saved_model.load(str(tutorial_export.directory))
    read_saved_model(student_export().directory)  # there is an export to load
    try:
        tf.saved_model.load(str(student_export().directory))
    except UnliftableError as error:
        pytest.fail(
            f"tf.saved_model.load cannot load your export either: {str(error).splitlines()[0]}\n"
            "Some output depends on a placeholder that is not an input of its signature: "
            "put 'accuracy' in a signature whose inputs include 'label', "
            "and nothing but 'prediction' in serving_default.",
            pytrace=False,
        )


@pytest.mark.function("save")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES), ids=key_id)
def test_save_writes_signatures_whose_inputs_feed_their_outputs(student_export, key):
    meta_graph = read_saved_model(student_export().directory).meta_graphs[0]
    assert list(meta_graph.meta_info_def.tags) == [SERVE_TAG], (
        f"tags are {list(meta_graph.meta_info_def.tags)}; expected ['serve']"
    )
    assert key in meta_graph.signature_def, (
        f"the export has signatures {sorted(meta_graph.signature_def)}; expected {key!r}"
    )
    signature = meta_graph.signature_def[key]
    inputs, outputs = EXPECTED_SIGNATURES[key]
    found = (
        {k: shape_of(v) for k, v in signature.inputs.items()},
        {k: shape_of(v) for k, v in signature.outputs.items()},
    )
    assert found == (inputs, outputs), (
        f"signature {key!r} maps inputs {found[0]} to outputs {found[1]}; "
        f"expected {inputs} to {outputs} (shapes as stored, -1 for any batch)"
    )
    assert signature.method_name == PREDICT_METHOD, (
        f"signature {key!r} has method_name {signature.method_name!r}; expected "
        f"{PREDICT_METHOD!r}: pass method_name=... to build_signature_def (a server routes "
        "requests by it)"
    )


@pytest.mark.function("save")
def test_save_export_gives_the_same_results_in_both_worlds(
    student_export, fresh_process, before_save, mnist
):
    directory, labels = student_export().directory, one_hot(mnist.test_labels)
    for api, world in (("tf2", "tf.saved_model.load"), ("tf1", "a TF1 session")):
        check_reloaded_elsewhere(
            fresh_process, directory, before_save, mnist.test_images, labels, api=api,
            serve="serving_default",
            prediction_problem=f"reloaded elsewhere through {world}, 'prediction' differs from "
            "before save by up to {worst:.3g}: is it mapped to y_pred, and were the trained "
            "weights exported?",
            accuracy_source=f"reloaded elsewhere through {world}, 'accuracy' is",
        )  # fmt: skip


@pytest.mark.function("save")
def test_save_exports_the_trained_weights(student_export, reference_trained, trained_snapshot):
    variables = student_export().directory / "variables" / "variables"
    assert variables.with_suffix(".index").is_file(), (
        "the export has no variables/: the Builder writes them from the session given to "
        "add_meta_graph_and_variables, when builder.save() runs"
    )
    check_exports_the_trained_variables(
        variables,
        reference_trained,
        trained_snapshot,
        fix="do not initialise anything in save(), and export the session you were given",
    )


@pytest.mark.function("save")
def test_save_exports_the_tensors_it_is_given_whatever_their_names(
    kind, student, reference, trained_snapshot, fresh_process, mnist, new_export_dir
):
    export = exported_with_other_tensor_names(
        kind, student, reference, trained_snapshot, mnist, new_export_dir
    )
    directory, images, score = export.directory, export.images, export.score
    fix = OTHER_TENSOR_NAMES_FIX
    for api, world in (("tf2", "tf.saved_model.load"), ("tf1", "a TF1 session")):
        where = f"with the model's tensors named {OTHER_TENSOR_NAMES}, reloaded through {world},"
        served = fresh_process.run(
            directory, api, "serving_default", {"input": images}, ["prediction"]
        )
        worst = float(np.max(np.abs(served["prediction"] - export.probabilities)))
        assert worst <= PROBABILITY_TOLERANCE, (
            f"{where} your export predicts other probabilities (by up to {worst:.3g}). {fix}"
        )
        feeds = {"input": images, "label": one_hot(export.labels)}
        evaluated = fresh_process.run(directory, api, "evaluate", feeds, ["accuracy"])
        accuracy = float(evaluated["accuracy"])
        assert same_count(accuracy, score), (
            f"{where} your export's 'accuracy' on {score.total} digits is {accuracy!r}; the model "
            f"gets {score}. {fix}"
        )


@pytest.mark.function("save")
@pytest.mark.parametrize("world", ["tf2", "tf1"])
def test_save_accuracy_answers_each_run_for_its_own_digits(
    reference, student_export, before_save, mnist, world
):
    # One load, two runs of other sizes: what one run on all 2,000 digits cannot show.
    directory = student_export().directory
    check = graph_checks.check_accuracy_of_each_run
    data = (before_save.probabilities, mnist.test_images, mnist.test_labels)
    if world == "tf2":
        loaded = tf2_loaded(directory, "evaluate")

        def run_accuracy(images, one_hot_labels):
            inputs = {"input": tf.constant(images), "label": tf.constant(one_hot_labels)}
            return loaded.signatures["evaluate"](**inputs)["accuracy"].numpy()

        check(run_accuracy, *data, "loaded once by tf.saved_model.load")
        return
    loader = in_session(reference.load_signature_tensors, "evaluate")
    with loaded_with(SESSION_KIND, loader, directory, "evaluate") as loaded:
        check(accuracy_run_in_the_session(loaded, "label"), *data, "loaded once into a TF1 session")


# --- load_signature_tensors --------------------------------------------------


test_load_signature_tensors_in_tf2_describes_a_tf1_export = (
    shared_tests.describes_the_signature_test(
        EXPECTED_SIGNATURES, describe_check, where="signature {key}: your ", with_dtypes=False
    )
)


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_load_signature_tensors_in_tf2_returns_the_loaded_objects_own_signature,
    test_load_signature_tensors_in_tf2_function_gives_the_trained_probabilities,
)


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_in_tf2_reads_a_tf2_export_with_other_names(
    student, tf2_module_export, mnist, new_export_dir
):
    # A tf.Module's own export: structured outputs are already specs, and the names are other.
    model, _ = tf2_module_export
    check_reads_the_names_of_another_export(
        student,
        model,
        new_export_dir,
        exporter="a TF2 export",
        fix="read them from the function, never assume them",
    )


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES), ids=key_id)
def test_load_signature_tensors_in_a_session_returns_the_signatures_tensors(
    student, reference_export, before_save, mnist, key
):
    loader = in_session(student.load_signature_tensors, key)
    keys = {*EXPECTED_SIGNATURES[key][0], *EXPECTED_SIGNATURES[key][1]}
    with loaded_with(SESSION_KIND, loader, reference_export.directory, key) as loaded:
        graph_checks.check_tensors_of_the_session(loaded, keys)
        assert set(loaded.value) == keys, (
            f"with a session, for signature {key!r}, load_signature_tensors returned keys "
            f"{sorted(loaded.value)}; expected that signature's keys {sorted(keys)}"
        )
        tensors, images = loaded.value, mnist.test_images
        if key == "serving_default":
            probabilities = loaded.session.run(tensors["prediction"], {tensors["input"]: images})
            worst = float(np.max(np.abs(probabilities - before_save.probabilities)))
            assert worst <= PROBABILITY_TOLERANCE, (
                f"through the tensors you returned, 'prediction' differs from before save by up "
                f"to {worst:.3g}: the variables were not restored as saved (loader.load restores "
                "them; running an initializer afterwards overwrites them)"
            )
        else:
            feed = {tensors["input"]: images, tensors["label"]: one_hot(mnist.test_labels)}
            accuracy = float(loaded.session.run(tensors["accuracy"], feed))
            check_accuracy(accuracy, before_save.score)


@pytest.fixture(scope="module")
def tf2_module_export(kata_root, new_export_dir):
    """Exercise 2's reference model (untrained: only parity matters) and its TF2 export."""
    exercise_2 = catalogue.by_number(2)
    module_kind = kinds.for_exercise(exercise_2)
    code = import_exercise(kata_root, "solutions", exercise_2)
    model = module_kind.new_model(code.create_model)
    return model, module_kind.export(code.save, model, new_export_dir()).directory


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_in_a_session_reads_a_tf2_module_export(
    student, tf2_module_export, mnist
):
    model, export_dir = tf2_module_export
    images = mnist.test_images[:100]
    loader = in_session(student.load_signature_tensors, "serving_default")
    with loaded_with(SESSION_KIND, loader, export_dir, "serving_default") as loaded:
        graph_checks.check_tensors_of_the_session(loaded, {"input", "prediction"})
        probabilities = SESSION_KIND.predict_loaded(loaded, images)
    expected = kinds.named("module").predict(model, images)
    assert np.max(np.abs(probabilities - expected)) <= PROBABILITY_TOLERANCE, (
        "a tf.Module's TF2 export, read into a session with your loader, predicts other "
        "probabilities"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_in_a_session_reads_a_keras_export_but_not_a_plain_keras_model(
    student, new_export_dir, mnist
):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    exported = new_export_dir()
    model.export(str(exported), verbose=False)
    signature = read_saved_model(exported).meta_graphs[0].signature_def["serving_default"]
    (input_key,), (output_key,) = signature.inputs, signature.outputs  # Keras names them itself
    images = mnist.test_images[:50]
    loader = in_session(student.load_signature_tensors, "serving_default")
    with loaded_with(SESSION_KIND, loader, exported, "serving_default") as loaded:
        graph_checks.check_tensors_of_the_session(loaded, {input_key, output_key})
        tensors = loaded.value
        probabilities = loaded.session.run(tensors[output_key], {tensors[input_key]: images})
    worst = float(np.max(np.abs(probabilities - np.asarray(model(images)))))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"a Keras model.export, read into a session with your loader, predicts other "
        f"probabilities (by up to {worst:.3g})"
    )

    # The pinned failing case: the same Keras 3 model through tf.saved_model.save.
    plain = new_export_dir()
    tf.saved_model.save(model, str(plain))
    session = v1.Session(graph=tf.Graph())
    with session, session.graph.as_default():
        tensors = v1.saved_model.loader.load(session, [SERVE_TAG], str(plain)).signature_def[
            "serving_default"
        ]
        feed = {
            session.graph.get_tensor_by_name(info.name): images[:5]
            for info in tensors.inputs.values()
        }
        fetch = [session.graph.get_tensor_by_name(info.name) for info in tensors.outputs.values()]
        with pytest.raises(tf.errors.FailedPreconditionError, match="Could not find variable"):
            session.run(fetch, feed)


# --- evaluate ----------------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_evaluate_returns_the_trained_models_accuracy,
    test_evaluate_counts_correct_predictions_on_any_subset,
    test_evaluate_answers_each_call_for_its_own_digits,
)


# --- all four together -------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import test_end_to_end_with_all_your_functions  # noqa: E402, F401
