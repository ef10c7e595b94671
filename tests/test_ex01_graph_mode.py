"""Tests of exercise 1: the tutorial's graph-mode SavedModel, end to end.

Each test grades one function (its `function` mark) and takes the other
three from solutions/, so one mistake fails one function's tests. The model
is trained once by the tutorial's loop (savedmodel_kata.training) and cached
across runs; exports go to pytest's temporary folders.

Tolerances, and why:
* Accuracy is a count of correct digits over a fixed set: compared exactly.
* Probabilities after reload are bit-identical on CPU (same graph, same
  weights, same kernels). They are compared with an absolute tolerance of
  1e-6, room for float32 rounding only should a platform pick another
  kernel, while any real loss (a layer re-initialised, a weight rounded)
  moves them by far more.
* A student's create_model is checked twice against the reference. Given
  the reference's trained weights, it must compute the same probabilities
  (tolerance 1e-5: ops in another order round differently, a wrong layer
  is off by far more). Trained by the tutorial's loop from the reference's
  initial weights, it must reach the reference's test accuracy within 1
  point. Starting from the same weights matters: over initialisation seeds
  the same architecture ends anywhere between 84 and 94 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from savedmodel_kata import training
from savedmodel_kata.testing import (
    SUBSET_EXAMPLES,
    check_counts_correct,
    examples,
    ACCURACY_MARGIN_VS_REFERENCE,
    ARCHITECTURE_TOLERANCE,
    PROBABILITY_TOLERANCE,
    export_with,
    load_into_new_session,
    new_export_dir,
    parameter_report,
    read_saved_model,
)
from savedmodel_kata.tf_setup import import_tensorflow

tf = import_tensorflow()
v1 = tf.compat.v1

SIGNATURE_KEY = "serving_default"
SERVE_TAG = "serve"
PREDICT_METHOD = "tensorflow/serving/predict"
INPUT_KEYS = {"input"}
OUTPUT_KEYS = {"output", "prediction", "accuracy"}
# Signature dtypes and shapes, as the proto stores them (-1: any batch size).
EXPECTED_TENSOR_INFO = {
    ("inputs", "input"): (tf.float32, [-1, 28, 28, 1]),
    ("outputs", "output"): (tf.float32, [-1, 10]),
    ("outputs", "prediction"): (tf.float32, [-1, 10]),
    ("outputs", "accuracy"): (tf.float32, []),
}


# --- helpers -----------------------------------------------------------------


def predict(session, tensors, images):
    return session.run(tensors["prediction"], feed_dict={tensors["input"]: images})


def run_logits(session, x, logits, images):
    """Run the student's graph; a batch it cannot take fails with the usual cause."""
    try:
        return session.run(logits, feed_dict={x: images})
    except tf.errors.InvalidArgumentError as error:
        pytest.fail(
            f"create_model's graph fails on a batch of {len(images)} images: {error.message.splitlines()[0]}\n"
            "A fixed batch size in a reshape or placeholder does this: use -1 for the batch dimension.",
            pytrace=False,
        )


# --- fixtures: the reference, trained once -----------------------------------


@pytest.fixture(scope="module")
def reference_model(reference, mnist):
    model = training.train(reference.create_model, mnist)
    yield model
    model.close()


@pytest.fixture(scope="module")
def reference_export(reference, reference_model, tmp_path_factory) -> Path:
    return export_with(reference.save, reference_model, new_export_dir(tmp_path_factory))


@pytest.fixture(scope="module")
def reference_probabilities(reference_model, mnist):
    return reference_model.predict(mnist[2])


@pytest.fixture(scope="module")
def trained_values(reference_model):
    """A snapshot of every trained variable, taken before any student code runs."""
    return reference_model.variable_values()


def trained_copy(reference, trained_values) -> training.GraphModel:
    """A private copy of the trained model, so student code cannot change the shared one."""
    model = training.build(reference.create_model, for_training=False)
    model.restore(trained_values)
    return model


@pytest.fixture(scope="module")
def student_export(student, reference, trained_values, memo, tmp_path_factory):
    """The trained model exported by the student's save (computed on first use)."""

    def export():
        model = trained_copy(reference, trained_values)
        try:
            return export_with(student.save, model, new_export_dir(tmp_path_factory))
        finally:
            model.close()

    return lambda: memo.remember("student_export", export)


@pytest.fixture(scope="module")
def student_graph(student, memo):
    """(session, x, logits) of the student's create_model on a fresh graph, variables initialised."""

    def build():
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(training.SEED)
            x = v1.placeholder(tf.float32, shape=training.INPUT_SHAPE, name="input")
            logits = student.create_model(x)
            session = v1.Session(graph=graph)
            session.run(v1.global_variables_initializer())
        return session, x, logits

    return lambda: memo.remember("student_graph", build)


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_logits_tensor(student_graph):
    session, x, logits = student_graph()
    try:
        training.check_logits(logits, session.graph)
    except training.ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    assert logits.shape.as_list()[0] is None, (
        f"create_model returned logits shaped {logits.shape}: the batch dimension is fixed to "
        f"{logits.shape[0]}. Keep it None (use -1 in tf.reshape) so any batch size can be served."
    )


@pytest.mark.function("create_model")
@settings(max_examples=examples(8))
@given(batch_size=st.integers(min_value=1, max_value=64))
@example(batch_size=1)
@example(batch_size=33)
def test_create_model_output_shape_for_any_batch_size(student_graph, batch_size):
    session, x, logits = student_graph()
    images = np.random.default_rng(batch_size).random((batch_size, 28, 28, 1), dtype=np.float32)
    scores = run_logits(session, x, logits, images)
    assert scores.shape == (batch_size, 10), (
        f"a batch of {batch_size} images gave logits shaped {scores.shape}; expected ({batch_size}, 10)"
    )


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_graph):
    session, _, _ = student_graph()
    with session.graph.as_default():
        variables = v1.trainable_variables()
    problem = parameter_report([tuple(v.shape.as_list()) for v in variables], [v.name for v in variables])
    assert problem is None, f"create_model: {problem}"


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(student_graph):
    session, x, logits = student_graph()
    softmax_ops = [op.name for op in session.graph.get_operations() if op.type in ("Softmax", "LogSoftmax")]
    assert not softmax_ops, (
        f"create_model applies a softmax ({', '.join(softmax_ops)}). Return raw logits: the harness "
        "adds the softmax for 'prediction', and the loss needs logits (softmax twice trains badly)."
    )
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    scores = run_logits(session, x, logits, images)
    looks_like_probabilities = np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)
    assert not looks_like_probabilities, (
        "create_model's outputs are non-negative and every row sums to 1: those are probabilities. "
        "Return the logits of the last dense layer, without an activation."
    )


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(student, reference_model, reference_probabilities, mnist):
    model = training.build(student.create_model, for_training=False)
    try:
        try:
            model.assign_by_shape({tuple(v.shape): v for v in reference_model.trainable_values().values()})
        except training.ModelError as error:
            pytest.fail(f"{error}.", pytrace=False)
        probabilities = model.predict(mnist[2])
    finally:
        model.close()
    worst = float(np.max(np.abs(probabilities - reference_probabilities)))
    assert worst <= ARCHITECTURE_TOLERANCE, (
        f"with the reference's trained weights in your variables, your model's probabilities differ "
        f"from the reference's by up to {worst:.3g}. The layers compute something else: check the "
        "order (conv, ReLU, pool), 'SAME' convolutions, 'VALID' 2x2 pools with stride 2, the ReLU on "
        "dense 32 and none on dense 10, and that flatten keeps the [batch, 3, 3, 4] order (tf.reshape)."
    )


def train_student_from_reference_start(student, reference, mnist, memo) -> training.GraphModel:
    start = memo.remember("reference_start", lambda: training.initial_weights(reference.create_model))
    return memo.remember("student_trained", lambda: training.train(student.create_model, mnist, start_from=start))


@pytest.mark.function("create_model")
def test_create_model_trains_like_the_reference(student, reference, reference_model, mnist, memo):
    try:
        model = train_student_from_reference_start(student, reference, mnist, memo)
    except training.ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    accuracy = model.stats["test_accuracy"]
    expected = reference_model.stats["test_accuracy"]
    assert abs(accuracy - expected) <= ACCURACY_MARGIN_VS_REFERENCE, (
        f"trained by the tutorial's loop from the reference's initial weights ({training.EPOCHS} epochs), "
        f"your model reaches {100 * accuracy:.1f} % test accuracy; the reference reaches "
        f"{100 * expected:.1f} %. Check the activations (ReLU after each conv and the first dense layer, "
        "none on the last): a softmax in create_model, for one, trains badly."
    )


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_savedmodel_folder(student_export):
    export_dir = student_export()
    assert (export_dir / "saved_model.pb").is_file(), (
        f"save wrote no saved_model.pb into {export_dir}: write the SavedModel into export_dir itself "
        f"(it holds {sorted(p.name for p in export_dir.iterdir()) if export_dir.is_dir() else 'nothing'})"
    )
    assert (export_dir / "variables" / "variables.index").is_file(), (
        f"{export_dir} has no variables/variables.index: the weights were not saved. "
        "simple_save writes them from the session you pass it."
    )


@pytest.mark.function("save")
def test_save_writes_tag_serve_and_the_serving_default_signature(student_export):
    proto = read_saved_model(student_export())
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
    assert method == PREDICT_METHOD, f"serving_default has method_name {method!r}; expected {PREDICT_METHOD!r}"


@pytest.mark.function("save")
def test_save_signature_has_the_tutorials_inputs_and_outputs(student_export):
    signature = read_saved_model(student_export()).meta_graphs[0].signature_def[SIGNATURE_KEY]
    inputs, outputs = set(signature.inputs), set(signature.outputs)
    assert (inputs, outputs) == (INPUT_KEYS, OUTPUT_KEYS), (
        f"serving_default has inputs {sorted(inputs)} and outputs {sorted(outputs)}; expected inputs "
        f"{sorted(INPUT_KEYS)} and outputs {sorted(OUTPUT_KEYS)}. Keys are the names you choose in the "
        "inputs= and outputs= dicts, not the tensors' own names."
    )
    for (side, key), (dtype, shape) in EXPECTED_TENSOR_INFO.items():
        info = getattr(signature, side)[key]
        found_shape = [d.size for d in info.tensor_shape.dim]
        assert info.dtype == dtype.as_datatype_enum, (
            f"signature {side[:-1]} {key!r} is {tf.dtypes.as_dtype(info.dtype).name}; expected {dtype.name}"
        )
        assert found_shape == shape, (
            f"signature {side[:-1]} {key!r} has shape {found_shape}; expected {shape}. "
            + ("-1 means any batch size: a fixed first dimension rejects other batches. " if shape else "")
            + "Did you map this key to the right tensor?"
        )


@pytest.mark.function("save")
def test_save_exports_the_trained_weights(student_export, reference_model, trained_values):
    checkpoint = tf.train.load_checkpoint(str(student_export() / "variables" / "variables"))
    for name in reference_model.trainable_values():
        value = trained_values[name]
        key = name.removesuffix(":0")
        assert checkpoint.has_tensor(key), f"the exported variables have no {key!r}"
        assert np.array_equal(checkpoint.get_tensor(key), value), (
            f"the exported {key!r} differs from the trained value: the weights were changed before "
            "export. Running an initializer in save() resets the model to untrained weights."
        )


@pytest.mark.function("save")
def test_save_reload_gives_the_same_probabilities(student_export, reference, reference_probabilities, mnist):
    session, tensors = load_into_new_session(reference.load_signature_tensors, student_export())
    with session:
        reloaded = predict(session, tensors, mnist[2])
    worst = float(np.max(np.abs(reloaded - reference_probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"after reload, 'prediction' differs from the probabilities before save by up to {worst:.3g} "
        f"(tolerance {PROBABILITY_TOLERANCE}). Is 'prediction' mapped to the softmax output, and were "
        "the trained weights exported?"
    )


@pytest.mark.function("save")
def test_save_reload_gives_the_same_accuracy(student_export, reference, reference_model, mnist):
    session, tensors = load_into_new_session(reference.load_signature_tensors, student_export())
    with session:
        reloaded = reference.evaluate(session, tensors, mnist[2], mnist[3])
    before = reference_model.accuracy_on(mnist[2], mnist[3])
    assert reloaded == before, (
        f"the accuracy after reload is {reloaded!r}, before save it was {before!r}: an accuracy is a "
        "count, it must be equal. Check what 'accuracy' and 'output' map to."
    )


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
def test_load_returns_the_four_signature_tensors(student, reference_export):
    session, tensors = load_into_new_session(student.load_signature_tensors, reference_export)
    with session:
        assert isinstance(tensors, dict), (
            f"load_signature_tensors returned {type(tensors).__name__}; expected a dict from signature keys to tensors"
        )
        assert set(tensors) == INPUT_KEYS | OUTPUT_KEYS, (
            f"load_signature_tensors returned keys {sorted(tensors)}; expected the signature's keys "
            f"{sorted(INPUT_KEYS | OUTPUT_KEYS)} (not the tensors' names)"
        )
        for key, value in tensors.items():
            if isinstance(value, tf.Operation):
                pytest.fail(
                    f"tensors[{key!r}] is the Operation {value.name!r}, not a Tensor: an operation's "
                    "output is named with ':0' (get_tensor_by_name, not get_operation_by_name)",
                    pytrace=False,
                )
            assert isinstance(value, tf.Tensor), f"tensors[{key!r}] is {type(value).__name__}; expected a tf.Tensor"
            assert value.graph is session.graph, (
                f"tensors[{key!r}] belongs to another graph: load into the session you were given, "
                "and look tensors up in sess.graph"
            )


@pytest.mark.function("load_signature_tensors")
def test_load_maps_each_key_to_its_signature_tensor(student, reference_export):
    signature = read_saved_model(reference_export).meta_graphs[0].signature_def[SIGNATURE_KEY]
    expected = {key: info.name for key, info in {**signature.inputs, **signature.outputs}.items()}
    session, tensors = load_into_new_session(student.load_signature_tensors, reference_export)
    with session:
        found = {key: getattr(value, "name", repr(value)) for key, value in tensors.items()}
    assert found == expected, (
        f"load_signature_tensors mapped {found}; the signature says {expected}. "
        "Read each tensor's name from signature_def['serving_default'].inputs / .outputs."
    )


@pytest.mark.function("load_signature_tensors")
def test_load_restores_the_trained_weights(student, reference_export, reference_probabilities, mnist):
    session, tensors = load_into_new_session(student.load_signature_tensors, reference_export)
    with session:
        reloaded = predict(session, tensors, mnist[2])
    worst = float(np.max(np.abs(reloaded - reference_probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"predictions through your loaded tensors differ from the trained model's by up to {worst:.3g}: "
        "the variables were not restored as saved. loader.load restores them; running an initializer "
        "afterwards overwrites them."
    )


tensor_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)


@pytest.mark.function("load_signature_tensors")
# Shrinking four names teaches nothing and rebuilds a model each try: no shrink phase.
@settings(max_examples=examples(4), phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(names=st.lists(tensor_names, min_size=4, max_size=4, unique_by=str.lower))
@example(names=["features", "labels", "probabilities", "score"])
def test_load_finds_tensors_through_the_signature_not_their_names(
    student, reference, reference_model, mnist, tmp_path_factory, names
):
    # An exporter may name its tensors anything: the signature keys stay the same.
    renamed = dict(zip(("input", "output", "prediction", "accuracy"), names))
    model = training.build(reference.create_model, names=renamed, for_training=False)
    try:
        model.restore(reference_model.variable_values())
        export_dir = export_with(reference.save, model, new_export_dir(tmp_path_factory))
        expected = model.predict(mnist[2][:64])
    finally:
        model.close()
    session, tensors = load_into_new_session(student.load_signature_tensors, export_dir)
    with session:
        assert isinstance(tensors, dict) and {"input", "prediction"} <= set(tensors), (
            f"load_signature_tensors returned {tensors!r}; expected a dict with the signature's keys"
        )
        reloaded = predict(session, tensors, mnist[2][:64])
    assert np.max(np.abs(reloaded - expected)) <= PROBABILITY_TOLERANCE, (
        f"with tensors named {renamed}, your loader's 'prediction' gives other values: are tensor "
        "names like 'myPrediction:0' hard-coded? Take every name from the signature."
    )


# --- evaluate ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_loaded(reference, reference_export):
    """Load the reference export into a new session: each evaluate call gets its own."""
    sessions = []

    def load():
        session, tensors = load_into_new_session(reference.load_signature_tensors, reference_export)
        sessions.append(session)
        return session, tensors

    yield load
    for session in sessions:
        session.close()


def student_evaluate(student, reference_loaded, images, labels):
    session, tensors = reference_loaded()
    with session.graph.as_default():
        return student.evaluate(session, tensors, images, labels)


@pytest.mark.function("evaluate")
def test_evaluate_returns_a_fraction(student, reference_loaded, mnist):
    accuracy = student_evaluate(student, reference_loaded, mnist[2], mnist[3])
    assert isinstance(accuracy, float), (
        f"evaluate returned {type(accuracy).__name__} {accuracy!r}; expected a Python float "
        "(float(value) converts a numpy scalar)"
    )
    assert 0.0 <= accuracy <= 1.0, (
        f"evaluate returned {accuracy!r}; an accuracy is a fraction in [0, 1]"
        + (": this looks like a percentage, drop the * 100" if 1 < accuracy <= 100 else "")
    )


@pytest.mark.function("evaluate")
def test_evaluate_equals_the_accuracy_before_save(student, reference, reference_loaded, reference_model, mnist):
    accuracy = student_evaluate(student, reference_loaded, mnist[2], mnist[3])
    before = reference_model.accuracy_on(mnist[2], mnist[3])
    session, tensors = reference_loaded()
    with session.graph.as_default():
        by_reference = reference.evaluate(session, tensors, mnist[2], mnist[3])
    assert accuracy == before == by_reference, (
        f"evaluate returned {accuracy!r} on the {len(mnist[3])} test digits; the model scored {before!r} "
        f"before save and the reference evaluate gives {by_reference!r}. Feed all images and their "
        "one-hot labels to the loaded 'accuracy' tensor."
    )


@pytest.mark.function("evaluate")
@settings(max_examples=examples(8))
@given(rows=st.lists(st.integers(0, 1999), min_size=1, max_size=300, unique=True))
@example(rows=SUBSET_EXAMPLES[0])
@example(rows=SUBSET_EXAMPLES[1])
def test_evaluate_counts_correct_predictions_on_any_subset(student, reference_loaded, reference_model, mnist, memo, rows):
    test_images, test_labels = mnist[2], mnist[3]
    reference_probabilities = memo.remember("reference_probabilities", lambda: reference_model.predict(test_images))
    rows = np.array(rows)
    accuracy = student_evaluate(student, reference_loaded, test_images[rows], test_labels[rows])
    check_counts_correct(accuracy, reference_probabilities[rows], test_labels[rows])


# --- all four together ---------------------------------------------------------


@pytest.mark.end_to_end
def test_end_to_end_with_all_your_functions(student, reference, reference_model, mnist, memo, tmp_path_factory):
    try:
        model = train_student_from_reference_start(student, reference, mnist, memo)
    except training.ModelError as error:
        pytest.fail(f"{error}.", pytrace=False)
    before = model.accuracy_on(mnist[2], mnist[3])
    export_dir = export_with(student.save, model, new_export_dir(tmp_path_factory))
    session, tensors = load_into_new_session(student.load_signature_tensors, export_dir)
    with session, session.graph.as_default():
        after = student.evaluate(session, tensors, mnist[2], mnist[3])
    assert after == before, (
        f"your model scored {before!r} on the test digits before save and your evaluate gives {after!r} "
        "after your save and your load: something was lost on the way. The per-function tests above "
        "say where."
    )
    assert after >= reference_model.stats["test_accuracy"] - ACCURACY_MARGIN_VS_REFERENCE, (
        f"the round trip is exact, but your model reaches only {100 * after:.1f} % "
        f"(reference {100 * reference_model.stats['test_accuracy']:.1f} %)"
    )
