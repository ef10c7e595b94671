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

from savedmodel_kata.kinds.graph import build, one_hot
from savedmodel_kata.plugin.checks import (
    ACCURACY_MARGIN_VS_REFERENCE,
    ARCHITECTURE_TOLERANCE,
    PREDICT_METHOD,
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


# --- helpers -----------------------------------------------------------------


def run_logits(model, images):
    """Run the student's graph; a batch it cannot take fails with the usual cause."""
    try:
        return model.session.run(model.logits, feed_dict={model.x: images})
    except tf.errors.InvalidArgumentError as error:
        pytest.fail(
            f"create_model's graph fails on a batch of {len(images)} images: "
            f"{error.message.splitlines()[0]}\n"
            "A fixed batch size in a reshape or placeholder does this: use -1 for the batch "
            "dimension.",
            pytrace=False,
        )


def ops_computing(tensor) -> list:
    """Every operation `tensor` depends on (the student's model, not what the harness adds)."""
    seen, stack = {}, [tensor.op]
    while stack:
        op = stack.pop()
        if op.name not in seen:
            seen[op.name] = op
            stack.extend(inp.op for inp in op.inputs)
    return list(seen.values())


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_logits_tensor(student_model):
    logits = student_model().logits  # the harness checks the type, graph, shape and dtype
    assert logits.shape.as_list()[0] is None, (
        f"create_model returned logits shaped {logits.shape}: the batch dimension is fixed to "
        f"{logits.shape[0]}. Keep it None (use -1 in tf.reshape) so any batch size can be served."
    )


@pytest.mark.function("create_model")
@settings(max_examples=examples(8))
@given(batch_size=st.integers(min_value=1, max_value=64))
@example(batch_size=1)
@example(batch_size=33)
def test_create_model_output_shape_for_any_batch_size(student_model, batch_size):
    images = np.random.default_rng(batch_size).random((batch_size, 28, 28, 1), dtype=np.float32)
    scores = run_logits(student_model(), images)
    assert scores.shape == (batch_size, 10), (
        f"a batch of {batch_size} images gave logits shaped {scores.shape}; "
        f"expected ({batch_size}, 10)"
    )


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_model):
    variables = student_model().variables(trainable_only=True)
    problem = parameter_report(
        [tuple(v.shape.as_list()) for v in variables], [v.name for v in variables]
    )
    assert problem is None, f"create_model: {problem}"


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(student_model):
    model = student_model()
    softmax_ops = [
        op.name for op in ops_computing(model.logits) if op.type in ("Softmax", "LogSoftmax")
    ]
    assert not softmax_ops, (
        f"create_model applies a softmax ({', '.join(softmax_ops)}). Return raw logits: the "
        "harness adds the softmax for 'prediction', and the loss needs logits (softmax twice "
        "trains badly)."
    )
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    scores = run_logits(model, images)
    looks_like_probabilities = np.all(scores >= 0) and np.allclose(
        scores.sum(axis=1), 1.0, atol=1e-3
    )
    assert not looks_like_probabilities, (
        "create_model's outputs are non-negative and every row sums to 1: those are "
        "probabilities. Return the logits of the last dense layer, without an activation."
    )


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(kind, student, before_save, mnist):
    with opened(kind, kind.new_model(student.create_model, for_training=False)) as model:
        kind.assign(model, before_save.weights)
        probabilities = kind.predict(model, mnist.test_images)
    worst = float(np.max(np.abs(probabilities - before_save.probabilities)))
    assert worst <= ARCHITECTURE_TOLERANCE, (
        f"with the reference's trained weights in your variables, your model's probabilities "
        f"differ from the reference's by up to {worst:.3g}. The layers compute something else: "
        "check the order (conv, ReLU, pool), 'SAME' convolutions, 'VALID' 2x2 pools with stride "
        "2, the ReLU on dense 32 and none on dense 10, and that flatten keeps the "
        "[batch, 3, 3, 4] order (tf.reshape)."
    )


@pytest.mark.function("create_model")
def test_create_model_trains_like_the_reference(student_trained, reference_trained):
    reached = student_trained().stats.test.accuracy
    expected = reference_trained.stats.test.accuracy
    assert abs(reached - expected) <= ACCURACY_MARGIN_VS_REFERENCE, (
        f"trained by the tutorial's loop from the reference's initial weights, your model "
        f"reaches {100 * reached:.1f} % test accuracy; the reference reaches "
        f"{100 * expected:.1f} %. Check the activations (ReLU after each conv and the first "
        "dense layer, none on the last): a softmax in create_model, for one, trains badly."
    )


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_savedmodel_folder(student_export):
    export_dir = student_export().directory
    held = sorted(p.name for p in export_dir.iterdir()) if export_dir.is_dir() else "nothing"
    assert (export_dir / "saved_model.pb").is_file(), (
        f"save wrote no saved_model.pb into {export_dir}: write the SavedModel into export_dir "
        f"itself (it holds {held})"
    )
    assert (export_dir / "variables" / "variables.index").is_file(), (
        f"{export_dir} has no variables/variables.index: the weights were not saved. "
        "simple_save writes them from the session you pass it."
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
def test_save_exports_the_trained_weights(student_export, reference_trained, trained_snapshot):
    checkpoint = tf.train.load_checkpoint(
        str(student_export().directory / "variables" / "variables")
    )
    for name in reference_trained.model.values(trainable_only=True):
        key = name.removesuffix(":0")
        assert checkpoint.has_tensor(key), f"the exported variables have no {key!r}"
        assert np.array_equal(checkpoint.get_tensor(key), trained_snapshot[name]), (
            f"the exported {key!r} differs from the trained value: the weights were changed "
            "before export. Running an initializer in save() resets the model to untrained "
            "weights."
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


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
def test_load_returns_the_four_signature_tensors(kind, student, reference_export):
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
def test_load_maps_each_key_to_its_signature_tensor(kind, student, reference_export):
    directory = reference_export.directory
    signature = read_saved_model(directory).meta_graphs[0].signature_def[SIGNATURE_KEY]
    expected = {key: info.name for key, info in {**signature.inputs, **signature.outputs}.items()}
    with loaded_with(kind, student.load_signature_tensors, directory, SIGNATURE_KEY) as loaded:
        found = {key: getattr(value, "name", repr(value)) for key, value in loaded.value.items()}
    assert found == expected, (
        f"load_signature_tensors mapped {found}; the signature says {expected}. "
        "Read each tensor's name from signature_def['serving_default'].inputs / .outputs."
    )


@pytest.mark.function("load_signature_tensors")
def test_load_restores_the_trained_weights(kind, student, reference_export, before_save, mnist):
    directory = reference_export.directory
    with loaded_with(kind, student.load_signature_tensors, directory, SIGNATURE_KEY) as loaded:
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
def test_load_finds_tensors_through_the_signature_not_their_names(
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
        tensors = loaded.value
        assert isinstance(tensors, dict) and {"input", "prediction"} <= set(tensors), (
            f"load_signature_tensors returned {tensors!r}; "
            "expected a dict with the signature's keys"
        )
        reloaded = kind.predict_loaded(loaded, images)
    assert np.max(np.abs(reloaded - expected)) <= PROBABILITY_TOLERANCE, (
        f"with tensors named {renamed}, your loader's 'prediction' gives other values: are "
        "tensor names like 'myPrediction:0' hard-coded? Take every name from the signature."
    )


# --- evaluate ----------------------------------------------------------------


@pytest.mark.function("evaluate")
def test_evaluate_returns_a_fraction(kind, student, reference_loaded, mnist):
    accuracy = kind.evaluate(
        student.evaluate, reference_loaded(SIGNATURE_KEY), mnist.test_images, mnist.test_labels
    )
    assert isinstance(accuracy, float), (
        f"evaluate returned {type(accuracy).__name__} {accuracy!r}; expected a Python float "
        "(float(value) converts a numpy scalar)"
    )
    assert 0.0 <= accuracy <= 1.0, (
        f"evaluate returned {accuracy!r}; an accuracy is a fraction in [0, 1]"
        + (": this looks like a percentage, drop the * 100" if 1 < accuracy <= 100 else "")
    )


@pytest.mark.function("evaluate")
def test_evaluate_equals_the_accuracy_before_save(
    kind, student, reference, reference_loaded, before_save, mnist
):
    images, labels = mnist.test_images, mnist.test_labels
    accuracy = kind.evaluate(student.evaluate, reference_loaded(SIGNATURE_KEY), images, labels)
    by_reference = kind.evaluate(
        reference.evaluate, reference_loaded(SIGNATURE_KEY), images, labels
    )
    assert same_count(accuracy, before_save.score) and same_count(
        by_reference, before_save.score
    ), (
        f"evaluate returned {accuracy!r} on the {len(labels)} test digits "
        f"({digits_counted(accuracy, len(labels))} right); the model got {before_save.score} "
        "before save. Feed all images and their one-hot labels to the loaded 'accuracy' tensor."
    )


@pytest.mark.function("evaluate")
@settings(max_examples=examples(8))
@given(rows=st.lists(st.integers(0, 1999), min_size=1, max_size=300, unique=True))
@example(rows=SUBSET_EXAMPLES[0])
@example(rows=SUBSET_EXAMPLES[1])
def test_evaluate_counts_correct_predictions_on_any_subset(
    kind, student, reference_loaded, before_save, mnist, rows
):
    rows = np.array(rows)
    loaded = reference_loaded(SIGNATURE_KEY)
    accuracy = kind.evaluate(
        student.evaluate, loaded, mnist.test_images[rows], mnist.test_labels[rows]
    )
    check_counts_correct(accuracy, before_save.probabilities[rows], mnist.test_labels[rows])


# --- all four together ---------------------------------------------------------


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
        f"your model got {before} of the test digits right before save and your evaluate gives "
        f"{after!r} after your save and your load: something was lost on the way. The "
        "per-function tests above say where."
    )
    reference_accuracy = reference_trained.stats.test.accuracy
    assert before.accuracy >= reference_accuracy - ACCURACY_MARGIN_VS_REFERENCE, (
        f"the round trip is exact, but your model reaches only {100 * before.accuracy:.1f} % "
        f"(reference {100 * reference_accuracy:.1f} %)"
    )
