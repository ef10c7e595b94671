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
from hypothesis import example, given, settings
from hypothesis import strategies as st

from savedmodel_kata import catalogue, targets, training, training_eager
from savedmodel_kata.testing import (
    SUBSET_EXAMPLES,
    check_counts_correct,
    examples,
    ARCHITECTURE_TOLERANCE,
    PROBABILITY_TOLERANCE,
    describe_check,
    export_with,
    load_into_new_session,
    new_export_dir,
    parameter_report,
    read_saved_model,
    shape_of,
)
from savedmodel_kata.tf_setup import import_tensorflow

tf = import_tensorflow()
v1 = tf.compat.v1

SERVE_TAG = "serve"
EXPECTED_SIGNATURES = {
    "serving_default": ({"input": [-1, 28, 28, 1]}, {"prediction": [-1, 10]}),
    "evaluate": ({"input": [-1, 28, 28, 1], "label": [-1, 10]}, {"accuracy": []}),
}


def one_hot(labels):
    return np.eye(10, dtype=np.float32)[labels]


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_model(reference, mnist):
    model = training.train(reference.create_model, mnist)
    yield model
    model.close()


@pytest.fixture(scope="module")
def trained_values(reference_model):
    return reference_model.variable_values()


@pytest.fixture(scope="module")
def trained_copy(reference, trained_values):
    def copy():
        model = training.build(reference.create_model, for_training=False)
        model.restore(trained_values)
        return model

    return copy


@pytest.fixture(scope="module")
def before_save(reference_model, mnist):
    return reference_model.predict(mnist[2]), reference_model.accuracy_on(mnist[2], mnist[3])


@pytest.fixture(scope="module")
def reference_export(reference, trained_copy, tmp_path_factory):
    model = trained_copy()
    try:
        return export_with(reference.save, model, new_export_dir(tmp_path_factory))
    finally:
        model.close()


@pytest.fixture(scope="module")
def student_export(student, trained_copy, memo, tmp_path_factory):
    def export():
        model = trained_copy()
        try:
            return export_with(student.save, model, new_export_dir(tmp_path_factory))
        finally:
            model.close()

    return lambda: memo.remember("student_export", export)


@pytest.fixture(scope="module")
def tutorial_export(kata_root, trained_copy, tmp_path_factory):
    """The trained model exported the tutorial's way (exercise 1's reference save)."""
    tutorial = targets.import_exercise(kata_root, "solutions", catalogue.by_number(1))
    model = trained_copy()
    try:
        return export_with(tutorial.save, model, new_export_dir(tmp_path_factory))
    finally:
        model.close()


def tf2_output(export_dir, key, output, **inputs):
    loaded = tf.saved_model.load(str(export_dir))
    if key not in loaded.signatures:
        pytest.fail(f"the export has no signature {key!r} (it has {sorted(loaded.signatures)})", pytrace=False)
    return loaded.signatures[key](**{k: tf.constant(v) for k, v in inputs.items()})[output].numpy()


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_builds_the_tutorials_layers(student):
    model = training.build(student.create_model, for_training=False)
    try:
        with model.graph.as_default():
            variables = v1.trainable_variables()
        problem = parameter_report([tuple(v.shape.as_list()) for v in variables], [v.name for v in variables])
    finally:
        model.close()
    assert problem is None, f"create_model: {problem}"


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(student, reference_model, before_save, mnist):
    try:
        model = training.build(student.create_model, for_training=False)
    except training.ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    try:
        model.assign_by_shape({tuple(v.shape): v for v in reference_model.trainable_values().values()})
        worst = float(np.max(np.abs(model.predict(mnist[2]) - before_save[0])))
    except training.ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    finally:
        model.close()
    assert worst <= ARCHITECTURE_TOLERANCE, (
        f"with the reference's weights, your model's probabilities differ by up to {worst:.3g}: "
        "bring exercise 1's create_model as it passed there"
    )


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_loads_in_tf2_where_the_tutorials_export_cannot(tutorial_export, student_export):
    # The pinned lesson: TensorFlow 2 refuses the tutorial's signature.
    from tensorflow.python.ops.op_selector import UnliftableError

    with pytest.raises(UnliftableError, match="depends on a placeholder which is not an input"):
        tf.saved_model.load(str(tutorial_export))
    try:
        tf.saved_model.load(str(student_export()))
    except UnliftableError as error:
        pytest.fail(
            f"tf.saved_model.load cannot load your export either: {str(error).splitlines()[0]}\n"
            "Some output depends on a placeholder that is not an input of its signature: put 'accuracy' "
            "in a signature whose inputs include 'label', and nothing but 'prediction' in serving_default.",
            pytrace=False,
        )


@pytest.mark.function("save")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES))
def test_save_writes_signatures_whose_inputs_feed_their_outputs(student_export, key):
    meta_graph = read_saved_model(student_export()).meta_graphs[0]
    assert list(meta_graph.meta_info_def.tags) == [SERVE_TAG], f"tags are {list(meta_graph.meta_info_def.tags)}; expected ['serve']"
    assert key in meta_graph.signature_def, f"the export has signatures {sorted(meta_graph.signature_def)}; expected {key!r}"
    signature = meta_graph.signature_def[key]
    inputs, outputs = EXPECTED_SIGNATURES[key]
    found = ({k: shape_of(v) for k, v in signature.inputs.items()}, {k: shape_of(v) for k, v in signature.outputs.items()})
    assert found == (inputs, outputs), (
        f"signature {key!r} maps inputs {found[0]} to outputs {found[1]}; expected {inputs} to {outputs} "
        "(shapes as stored, -1 for any batch)"
    )


@pytest.mark.function("save")
def test_save_export_gives_the_same_results_in_both_worlds(student_export, reference, before_save, mnist):
    probabilities, accuracy = before_save
    tf2_probabilities = tf2_output(student_export(), "serving_default", "prediction", input=mnist[2])
    assert np.max(np.abs(tf2_probabilities - probabilities)) <= PROBABILITY_TOLERANCE, (
        "through tf.saved_model.load, 'prediction' gives other probabilities than before save"
    )
    tf2_accuracy = float(tf2_output(student_export(), "evaluate", "accuracy", input=mnist[2], label=one_hot(mnist[3])))
    assert tf2_accuracy == accuracy, f"through tf.saved_model.load, 'accuracy' is {tf2_accuracy!r}; before save {accuracy!r}"
    session = v1.Session(graph=tf.Graph())
    with session, session.graph.as_default():
        tensors = reference.load_signature_tensors(str(student_export()), "evaluate", session=session)
        tf1_accuracy = float(session.run(tensors["accuracy"], {tensors["input"]: mnist[2], tensors["label"]: one_hot(mnist[3])}))
    assert tf1_accuracy == accuracy, f"through the TF1 loader, 'accuracy' is {tf1_accuracy!r}; before save {accuracy!r}"


@pytest.mark.function("save")
def test_save_exports_the_trained_weights(student_export, reference_model, trained_values):
    checkpoint = tf.train.load_checkpoint(str(student_export() / "variables" / "variables"))
    for name in reference_model.trainable_values():
        key = name.removesuffix(":0")
        assert checkpoint.has_tensor(key), f"the exported variables have no {key!r}"
        assert np.array_equal(checkpoint.get_tensor(key), trained_values[name]), (
            f"the exported {key!r} differs from the trained value: do not initialise anything in save()"
        )


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES))
def test_load_in_tf2_describes_a_tf1_export(student, reference_export, key):
    description = student.load_signature_tensors(str(reference_export), key)
    describe_check(description, key)
    inputs, outputs = EXPECTED_SIGNATURES[key]
    for side, expected in (("inputs", inputs), ("outputs", outputs)):
        found = {name: spec.shape.as_list() for name, spec in description[side].items()}
        wanted = {name: [None if d == -1 else d for d in shape] for name, shape in expected.items()}
        assert found == wanted, f"signature {key!r}: your {side} are {found}; the export says {wanted}"


@pytest.mark.function("load_signature_tensors")
def test_load_in_tf2_function_gives_the_trained_probabilities(student, reference_export, before_save, mnist):
    description = student.load_signature_tensors(str(reference_export), "serving_default")
    describe_check(description, "serving_default")
    probabilities = description["function"](input=tf.constant(mnist[2]))["prediction"].numpy()
    assert np.max(np.abs(probabilities - before_save[0])) <= PROBABILITY_TOLERANCE


@pytest.mark.function("load_signature_tensors")
def test_load_in_a_session_returns_the_signatures_tensors(student, reference_export, before_save, mnist):
    session, tensors = load_into_new_session(
        lambda sess, export_dir: student.load_signature_tensors(export_dir, "serving_default", session=sess),
        reference_export,
    )
    with session:
        assert isinstance(tensors, dict) and set(tensors) == {"input", "prediction"}, (
            f"with a session, load_signature_tensors returned {tensors!r}; expected {{'input': tensor, "
            "'prediction': tensor}} of the session's graph"
        )
        probabilities = session.run(tensors["prediction"], {tensors["input"]: mnist[2]})
    assert np.max(np.abs(probabilities - before_save[0])) <= PROBABILITY_TOLERANCE


@pytest.fixture(scope="module")
def tf2_module_export(kata_root, tmp_path_factory):
    """Exercise 2's reference model (untrained: only parity matters) and its TF2 export."""
    exercise_2 = targets.import_exercise(kata_root, "solutions", catalogue.by_number(2))
    model = training_eager.make_model(exercise_2.create_model)
    export_dir = new_export_dir(tmp_path_factory)
    exercise_2.save(model, str(export_dir))
    return model, export_dir


@pytest.mark.function("load_signature_tensors")
def test_load_in_a_session_reads_a_tf2_module_export(student, tf2_module_export, mnist):
    model, export_dir = tf2_module_export
    session, tensors = load_into_new_session(
        lambda sess, directory: student.load_signature_tensors(directory, "serving_default", session=sess), export_dir
    )
    with session:
        probabilities = session.run(tensors["prediction"], {tensors["input"]: mnist[2][:100]})
    expected = training_eager.probabilities(model, mnist[2][:100])
    assert np.max(np.abs(probabilities - expected)) <= PROBABILITY_TOLERANCE, (
        "a tf.Module's TF2 export, read into a session with your loader, predicts other probabilities"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_in_a_session_reads_keras_model_export_but_not_a_plain_tf_saved_model_save(student, tmp_path_factory, mnist):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    exported = new_export_dir(tmp_path_factory)
    model.export(str(exported), verbose=False)
    session, tensors = load_into_new_session(
        lambda sess, directory: student.load_signature_tensors(directory, "serving_default", session=sess), exported
    )
    signature = read_saved_model(exported).meta_graphs[0].signature_def["serving_default"]
    (input_key,), (output_key,) = signature.inputs, signature.outputs  # Keras names them itself
    with session:
        assert isinstance(tensors, dict) and {input_key, output_key} <= set(tensors), (
            f"with a session, load_signature_tensors returned {tensors!r} for a Keras export whose signature "
            f"maps {input_key!r} to {output_key!r}: take the keys from the signature"
        )
        probabilities = session.run(tensors[output_key], {tensors[input_key]: mnist[2][:50]})
    assert np.max(np.abs(probabilities - np.asarray(model(mnist[2][:50])))) <= PROBABILITY_TOLERANCE

    # The pinned failing case: the same Keras 3 model through tf.saved_model.save.
    plain = new_export_dir(tmp_path_factory)
    tf.saved_model.save(model, str(plain))
    session = v1.Session(graph=tf.Graph())
    with session, session.graph.as_default():
        tensors = v1.saved_model.loader.load(session, [SERVE_TAG], str(plain)).signature_def["serving_default"]
        feed = {session.graph.get_tensor_by_name(info.name): mnist[2][:5] for info in tensors.inputs.values()}
        fetch = [session.graph.get_tensor_by_name(info.name) for info in tensors.outputs.values()]
        with pytest.raises(tf.errors.FailedPreconditionError, match="Could not find variable"):
            session.run(fetch, feed)


# --- evaluate ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_signature(reference, reference_export):
    return lambda: reference.load_signature_tensors(str(reference_export), "evaluate")


@pytest.mark.function("evaluate")
def test_evaluate_returns_the_accuracy_before_save(student, reference, reference_signature, before_save, mnist):
    accuracy = student.evaluate(reference_signature(), mnist[2], mnist[3])
    assert isinstance(accuracy, float) and 0.0 <= accuracy <= 1.0, (
        f"evaluate returned {accuracy!r}; expected a Python float in [0, 1]"
    )
    assert accuracy == before_save[1] == reference.evaluate(reference_signature(), mnist[2], mnist[3]), (
        f"evaluate returned {accuracy!r}; the model scored {before_save[1]!r} before save. The 'label' "
        "input wants one-hot float32 rows."
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
def test_end_to_end_with_all_your_functions(student, reference, mnist, memo, tmp_path_factory):
    def train():
        start = training.initial_weights(reference.create_model)
        return training.train(student.create_model, mnist, start_from=start)

    try:
        model = memo.remember("student_trained", train)
    except training.ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    before = model.accuracy_on(mnist[2], mnist[3])
    export_dir = export_with(student.save, model, new_export_dir(tmp_path_factory))
    after = student.evaluate(student.load_signature_tensors(str(export_dir), "evaluate"), mnist[2], mnist[3])
    assert after == before, f"your model scored {before!r} before save and {after!r} after: something was lost"
