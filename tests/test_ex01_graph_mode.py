"""Tests of exercise 1: the tutorial's graph-mode SavedModel, end to end.

Each test grades one function (its `function` mark) and takes the other
three from solutions/, so one mistake fails one function's tests. The shared
fixtures (savedmodel_kata/plugin/fixtures.py) train the reference once with
the tutorial's loop, cache it across runs, and give each test a private
copy; exports go to pytest's temporary folders. Tolerances and why: see
savedmodel_kata/plugin/checks.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from savedmodel_kata.kinds.graph import TUTORIAL_TENSOR_NAMES, build, one_hot
from savedmodel_kata.plugin import graph_checks, shared_tests
from savedmodel_kata.plugin.checks import (
    PREDICT_METHOD,
    PROBABILITY_TOLERANCE,
    examples,
    loaded_with,
    opened,
    read_saved_model,
    same_count,
)
from savedmodel_kata.plugin.shared_tests import (
    OTHER_TENSOR_NAMES,
    OTHER_TENSOR_NAMES_FIX,
    accuracy_run_in_the_session,
    any_batch_size,
    check_exports_the_trained_variables,
    exported_with_other_tensor_names,
)
from savedmodel_kata.tensorflow_setup import import_tensorflow

tf = import_tensorflow()
v1 = tf.compat.v1

SIGNATURE_KEY = "serving_default"
SERVE_TAG = "serve"
INPUT_KEYS = {"input"}
OUTPUT_KEYS = {"output", "prediction", "accuracy"}
# Signature dtypes and shapes, as the proto stores them (-1: any batch size).
EXPECTED_TENSOR_INFO = {
    ("inputs", "input"): (tf.float32, [-1, 28, 28, 1]),
    ("outputs", "output"): (tf.float32, [-1, 10]),
    ("outputs", "prediction"): (tf.float32, [-1, 10]),
    ("outputs", "accuracy"): (tf.float32, []),
}


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_logits_tensor(student_model):
    graph_checks.check_batch_dimension_open(student_model())


@pytest.mark.function("create_model")
@any_batch_size(max_examples=8, largest=64, explicit=(1, 33))
def test_create_model_output_shape_for_any_batch_size(student_model, batch_size):
    graph_checks.check_logits_for_batch(student_model(), batch_size)


# Tests written once for several exercises (shared_tests.py), imported where they run.
from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_has_the_tutorials_parameters,
    test_create_model_starts_from_the_tutorials_initial_values,
    test_create_model_returns_logits_not_probabilities,
    test_create_model_computes_the_tutorials_function,
    test_create_model_trains_like_the_reference,
    test_create_model_trains_from_its_own_initial_weights,
)


# --- save --------------------------------------------------------------------


test_save_writes_a_savedmodel_folder = shared_tests.savedmodel_folder_test(
    no_model="save wrote no saved_model.pb into {export_dir}: write the SavedModel into "
    "export_dir itself (it holds {held})",
    no_variables="{export_dir} has no variables/variables.index: the weights were not saved. "
    "simple_save writes them from the session you pass it.",
)


@pytest.mark.function("save")
def test_save_writes_tag_serve_and_the_serving_default_signature(student_export):
    proto = read_saved_model(student_export().directory)
    assert len(proto.meta_graphs) == 1, f"expected one MetaGraph, found {len(proto.meta_graphs)}"
    meta_graph = proto.meta_graphs[0]
    tags = list(meta_graph.meta_info_def.tags)
    assert tags == [SERVE_TAG], (
        f"the export is tagged {tags}; expected ['serve'], the tag servers and loaders ask for"
    )
    signatures = set(meta_graph.signature_def)
    assert SIGNATURE_KEY in signatures, (
        f"the export has signatures {sorted(signatures)}; expected 'serving_default', "
        "the one a server uses when the client names none"
    )
    method = meta_graph.signature_def[SIGNATURE_KEY].method_name
    assert method == PREDICT_METHOD, (
        f"serving_default has method_name {method!r}; expected {PREDICT_METHOD!r}"
    )


@pytest.mark.function("save")
def test_save_signature_has_the_tutorials_inputs_and_outputs(student_export):
    proto = read_saved_model(student_export().directory)
    signature = proto.meta_graphs[0].signature_def[SIGNATURE_KEY]
    inputs, outputs = set(signature.inputs), set(signature.outputs)
    assert (inputs, outputs) == (INPUT_KEYS, OUTPUT_KEYS), (
        f"serving_default has inputs {sorted(inputs)} and outputs {sorted(outputs)}; expected "
        f"inputs {sorted(INPUT_KEYS)} and outputs {sorted(OUTPUT_KEYS)}. Keys are the names you "
        "choose in the inputs= and outputs= dicts, not the tensors' own names."
    )
    for (side, key), (dtype, shape) in EXPECTED_TENSOR_INFO.items():
        info = getattr(signature, side)[key]
        found_shape = [d.size for d in info.tensor_shape.dim]
        assert info.dtype == dtype.as_datatype_enum, (
            f"signature {side[:-1]} {key!r} is {tf.dtypes.as_dtype(info.dtype).name}; "
            f"expected {dtype.name}"
        )
        assert found_shape == shape, (
            f"signature {side[:-1]} {key!r} has shape {found_shape}; expected {shape}. "
            + (
                "-1 means any batch size: a fixed first dimension rejects other batches. "
                if shape
                else ""
            )
            + "Did you map this key to the right tensor?"
        )


@pytest.mark.function("save")
def test_save_maps_each_key_to_the_tensor_it_was_given(student_export):
    proto = read_saved_model(student_export().directory)
    signature = proto.meta_graphs[0].signature_def[SIGNATURE_KEY]
    given = {"input": "x", "output": "y", "prediction": "y_pred", "accuracy": "acc"}
    # The harness names the tensors it passes to save() as the tutorial does.
    argument_of = {f"{TUTORIAL_TENSOR_NAMES[key]}:0": name for key, name in given.items()}
    mapped = {key: info.name for key, info in {**signature.inputs, **signature.outputs}.items()}
    wrong = [
        f"{key!r} to {mapped.get(key)!r} (`{argument_of.get(mapped.get(key), 'not an argument')}`)"
        for key, argument in given.items()
        if argument_of.get(mapped.get(key)) != argument
    ]
    assert not wrong, (
        f"the signature maps {', '.join(wrong)}; map "
        + ", ".join(f"{key!r} to `{argument}`" for key, argument in given.items())
        + ": each key to the tensor save() was given for it"
    )


@pytest.mark.function("save")
def test_save_exports_the_trained_weights(student_export, reference_trained, trained_snapshot):
    check_exports_the_trained_variables(
        student_export().directory / "variables" / "variables",
        reference_trained,
        trained_snapshot,
        fix="the weights were changed before export. Running an initializer in save() resets "
        "the model to untrained weights; so does a new session: export the session you were "
        "given.",
    )


@pytest.mark.function("save")
def test_save_export_reloaded_elsewhere_gives_the_same_probabilities(
    student_export, fresh_process, before_save, mnist
):
    feeds = {"input": mnist.test_images}
    outputs = fresh_process.run(
        student_export().directory, "tf1", SIGNATURE_KEY, feeds, ["prediction"]
    )
    worst = float(np.max(np.abs(outputs["prediction"] - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"reloaded in a fresh process, 'prediction' differs from the probabilities before save by "
        f"up to {worst:.3g} (tolerance {PROBABILITY_TOLERANCE}). Is 'prediction' mapped to the "
        "softmax output, and were the trained weights exported?"
    )


@pytest.mark.function("save")
def test_save_export_reloaded_elsewhere_gives_the_same_accuracy(
    student_export, fresh_process, before_save, mnist
):
    feeds = {"input": mnist.test_images, "output": one_hot(mnist.test_labels)}
    outputs = fresh_process.run(
        student_export().directory, "tf1", SIGNATURE_KEY, feeds, ["accuracy"]
    )
    reloaded = float(outputs["accuracy"])
    assert same_count(reloaded, before_save.score), (
        f"reloaded in a fresh process, 'accuracy' is {reloaded!r}; before save the model got "
        f"{before_save.score}: an accuracy is a count, it must be the same. Check what "
        "'accuracy' and 'output' map to."
    )


@pytest.mark.function("save")
def test_save_exports_the_tensors_it_is_given_whatever_their_names(
    kind, student, reference, trained_snapshot, fresh_process, mnist, new_export_dir
):
    export = exported_with_other_tensor_names(
        kind, student, reference, trained_snapshot, mnist, new_export_dir
    )
    feeds = {"input": export.images, "output": one_hot(export.labels)}
    outputs = fresh_process.run(
        export.directory, "tf1", SIGNATURE_KEY, feeds, ["prediction", "accuracy"]
    )
    where = f"with the model's tensors named {OTHER_TENSOR_NAMES}, your export, reloaded elsewhere,"
    worst = float(np.max(np.abs(outputs["prediction"] - export.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"{where} predicts other probabilities (by up to {worst:.3g}). {OTHER_TENSOR_NAMES_FIX}"
    )
    accuracy, score = float(outputs["accuracy"]), export.score
    assert same_count(accuracy, score), (
        f"{where} gives an 'accuracy' of {accuracy!r} on {score.total} digits; the model gets "
        f"{score}. {OTHER_TENSOR_NAMES_FIX}"
    )


@pytest.mark.function("save")
def test_save_accuracy_answers_each_run_for_its_own_digits(
    kind, reference, student_export, before_save, mnist
):
    # One load, two runs of other sizes: what one run on all 2,000 digits cannot show.
    directory = student_export().directory
    with loaded_with(kind, reference.load_signature_tensors, directory, SIGNATURE_KEY) as loaded:
        graph_checks.check_accuracy_of_each_run(
            accuracy_run_in_the_session(loaded, "output"),
            before_save.probabilities,
            mnist.test_images,
            mnist.test_labels,
            "reloaded into one session",
        )


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_returns_the_four_signature_tensors(kind, student, reference_export):
    directory = reference_export.directory
    with loaded_with(kind, student.load_signature_tensors, directory, SIGNATURE_KEY) as loaded:
        tensors = loaded.value
        assert isinstance(tensors, dict), (
            f"load_signature_tensors returned {type(tensors).__name__}; expected a dict from "
            "signature keys to tensors"
        )
        assert set(tensors) == INPUT_KEYS | OUTPUT_KEYS, (
            f"load_signature_tensors returned keys {sorted(tensors)}; expected the signature's "
            f"keys {sorted(INPUT_KEYS | OUTPUT_KEYS)} (not the tensors' names)"
        )
        for key, value in tensors.items():
            if isinstance(value, tf.Operation):
                pytest.fail(
                    f"tensors[{key!r}] is the Operation {value.name!r}, not a Tensor: an "
                    "operation's output is named with ':0' (get_tensor_by_name, not "
                    "get_operation_by_name)",
                    pytrace=False,
                )
            assert isinstance(value, tf.Tensor), (
                f"tensors[{key!r}] is {type(value).__name__}; expected a tf.Tensor"
            )
            assert value.graph is loaded.session.graph, (
                f"tensors[{key!r}] belongs to another graph: load into the session you were "
                "given, and look tensors up in sess.graph"
            )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_maps_each_key_to_its_signature_tensor(
    kind, student, reference_export, before_save, mnist
):
    # Compared by what each tensor is and computes, not by name: a loader may import the graph
    # under a name scope (loader.load(..., import_scope=...)), which renames every tensor.
    directory = reference_export.directory
    signature = read_saved_model(directory).meta_graphs[0].signature_def[SIGNATURE_KEY]
    named = {key: info.name for key, info in {**signature.inputs, **signature.outputs}.items()}
    lesson = (
        f"The signature maps {named}: read each tensor's name from "
        "signature_def['serving_default'].inputs / .outputs."
    )
    images, labels = mnist.test_images, mnist.test_labels
    with loaded_with(kind, student.load_signature_tensors, directory, SIGNATURE_KEY) as loaded:
        graph_checks.check_tensors_of_the_session(loaded, INPUT_KEYS | OUTPUT_KEYS)
        tensors = loaded.value
        for key in ("input", "output"):  # the signature's are the placeholders x and y
            assert tensors[key].op.type == "Placeholder", (
                f"tensors[{key!r}] is {tensors[key].name}, computed by a {tensors[key].op.type} "
                f"op; the signature's {key!r} is a placeholder you feed. {lesson}"
            )
        feed = {tensors["input"]: images, tensors["output"]: one_hot(labels)}
        try:
            probabilities, accuracy = loaded.session.run(
                [tensors["prediction"], tensors["accuracy"]], feed
            )
        except (tf.errors.OpError, ValueError) as error:
            pytest.fail(
                "feeding your 'input' the images and your 'output' the one-hot labels, your "
                f"'prediction' and 'accuracy' cannot be computed: {str(error).splitlines()[0]}\n"
                + lesson,
                pytrace=False,
            )
    right = (
        np.shape(probabilities) == np.shape(before_save.probabilities)
        and np.max(np.abs(probabilities - before_save.probabilities)) <= PROBABILITY_TOLERANCE
    )
    assert right and same_count(float(accuracy), before_save.score), (
        f"through your tensors, 'prediction' gives values shaped {np.shape(probabilities)} "
        f"(expected the trained model's probabilities, {np.shape(before_save.probabilities)}) and "
        f"'accuracy' gives {float(np.mean(accuracy))!r} (expected {before_save.score}). {lesson}"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_restores_the_trained_weights(
    kind, student, reference_export, before_save, mnist
):
    directory = reference_export.directory
    with loaded_with(kind, student.load_signature_tensors, directory, SIGNATURE_KEY) as loaded:
        graph_checks.check_tensors_of_the_session(loaded, INPUT_KEYS | OUTPUT_KEYS)
        reloaded = kind.predict_loaded(loaded, mnist.test_images)
    worst = float(np.max(np.abs(reloaded - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"predictions through your loaded tensors differ from the trained model's by up to "
        f"{worst:.3g}: the variables were not restored as saved. loader.load restores them; "
        "running an initializer afterwards overwrites them."
    )


tensor_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)


@pytest.mark.function("load_signature_tensors")
# Shrinking four names teaches nothing and rebuilds a model each try: no shrink phase.
@settings(max_examples=examples(4), phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(names=st.lists(tensor_names, min_size=4, max_size=4, unique_by=str.lower))
@example(names=["features", "labels", "probabilities", "score"])
def test_load_signature_tensors_finds_tensors_through_the_signature_not_their_names(
    kind, student, reference, trained_snapshot, mnist, new_export_dir, names
):
    # An exporter may name its tensors anything: the signature keys stay the same.
    renamed = dict(zip(("input", "output", "prediction", "accuracy"), names, strict=True))
    images = mnist.test_images[:64]
    with opened(kind, build(reference.create_model, names=renamed)) as model:
        kind.restore(model, trained_snapshot)
        export = kind.export(reference.save, model, new_export_dir())
        expected = kind.predict(model, images)
    with loaded_with(
        kind, student.load_signature_tensors, export.directory, SIGNATURE_KEY
    ) as loaded:
        graph_checks.check_tensors_of_the_session(loaded, INPUT_KEYS | OUTPUT_KEYS)
        reloaded = kind.predict_loaded(loaded, images)
    assert np.max(np.abs(reloaded - expected)) <= PROBABILITY_TOLERANCE, (
        f"with tensors named {renamed}, your loader's 'prediction' gives other values: are "
        "tensor names like 'myPrediction:0' hard-coded? Take every name from the signature."
    )


# --- evaluate ----------------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_evaluate_returns_a_fraction,
    test_evaluate_counts_the_same_digits_as_the_trained_model,
    test_evaluate_counts_correct_predictions_on_any_subset,
    test_evaluate_answers_each_call_for_its_own_digits,
)


# --- all four together ---------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import test_end_to_end_with_all_your_functions  # noqa: E402, F401
