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

from savedmodel_kata.errors import StudentError
from savedmodel_kata.kinds.graph import TUTORIAL_TENSOR_NAMES, build, one_hot
from savedmodel_kata.maintainer.mutation_gate import Alternative, Mistake
from savedmodel_kata.plugin import graph_checks
from savedmodel_kata.plugin.checks import (
    PREDICT_METHOD,
    PROBABILITY_TOLERANCE,
    SUBSET_EXAMPLES,
    check_a_fraction,
    check_accuracy,
    check_computes_the_tutorials_function,
    check_counts_correct,
    check_end_to_end,
    check_trains_from_its_own_start,
    check_trains_like_the_reference,
    examples,
    loaded_with,
    opened,
    read_saved_model,
    same_count,
    saved_model_file,
)
from savedmodel_kata.plugin.fresh_process import relocate
from savedmodel_kata.results import Failure
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
@settings(max_examples=examples(8))
@given(batch_size=st.integers(min_value=1, max_value=64))
@example(batch_size=1)
@example(batch_size=33)
def test_create_model_output_shape_for_any_batch_size(student_model, batch_size):
    graph_checks.check_logits_for_batch(student_model(), batch_size)


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_model):
    graph_checks.check_parameters(student_model())


@pytest.mark.function("create_model")
def test_create_model_starts_from_the_tutorials_initial_values(student_model):
    graph_checks.check_initial_values(student_model())


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(student_model):
    graph_checks.check_logits_not_probabilities(student_model())


@pytest.mark.function("create_model")
def test_create_model_computes_the_tutorials_function(kind, student, before_save, mnist):
    check_computes_the_tutorials_function(
        kind, student.create_model, before_save, mnist.test_images
    )


@pytest.mark.function("create_model")
def test_create_model_trains_like_the_reference(student_trained, reference_trained):
    check_trains_like_the_reference(student_trained(), reference_trained)


@pytest.mark.function("create_model")
def test_create_model_trains_from_its_own_initial_weights(student_trained_own):
    check_trains_from_its_own_start(student_trained_own())


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_savedmodel_folder(student_export):
    export_dir = student_export().directory
    held = sorted(p.name for p in export_dir.iterdir()) if export_dir.is_dir() else "nothing"
    assert saved_model_file(export_dir) is not None, (
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
    checkpoint = tf.train.load_checkpoint(
        str(student_export().directory / "variables" / "variables")
    )
    for name in reference_trained.model.values(trainable_only=True):
        key = name.removesuffix(":0")
        assert checkpoint.has_tensor(key), f"the exported variables have no {key!r}"
        assert np.array_equal(checkpoint.get_tensor(key), trained_snapshot[name]), (
            f"the exported {key!r} differs from the trained value: the weights were changed "
            "before export. Running an initializer in save() resets the model to untrained "
            "weights; so does a new session: export the session you were given."
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


# Other names than the tutorial's, for the tensors the harness passes to save().
OTHER_TENSOR_NAMES = {
    "input": "features",
    "output": "labels",
    "prediction": "probabilities",
    "accuracy": "score",
}


@pytest.mark.function("save")
def test_save_exports_the_tensors_it_is_given_whatever_their_names(
    kind, student, reference, trained_snapshot, fresh_process, mnist, new_export_dir
):
    # Every other export under test names its tensors as the tutorial does: a save that looks
    # them up by those names, ignoring its arguments, is caught only here.
    images, labels = mnist.test_images[:200], mnist.test_labels[:200]
    with opened(kind, build(reference.create_model, names=OTHER_TENSOR_NAMES)) as model:
        kind.restore(model, trained_snapshot)
        expected = kind.predict(model, images)
        score = kind.score(model, images, labels)
        try:
            written = kind.export(student.save, model, new_export_dir())
        except StudentError as error:
            if error.failure == Failure.NOT_IMPLEMENTED:
                raise
            pytest.fail(
                f"with the model's tensors named {OTHER_TENSOR_NAMES}, save failed. Map each key "
                "to the tensor save() was given (x, y, y_pred, acc); never look tensors up by "
                f"the tutorial's names ('myInput:0', ...).\n{error}",
                pytrace=False,
            )
    directory = relocate(written, new_export_dir()).directory
    feeds = {"input": images, "output": one_hot(labels)}
    outputs = fresh_process.run(directory, "tf1", SIGNATURE_KEY, feeds, ["prediction", "accuracy"])
    where = f"with the model's tensors named {OTHER_TENSOR_NAMES}, your export, reloaded elsewhere,"
    fix = (
        "Map each key to the tensor save() was given (x, y, y_pred, acc); never look tensors up "
        "by the tutorial's names."
    )
    worst = float(np.max(np.abs(outputs["prediction"] - expected)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"{where} predicts other probabilities (by up to {worst:.3g}). {fix}"
    )
    accuracy = float(outputs["accuracy"])
    assert same_count(accuracy, score), (
        f"{where} gives an 'accuracy' of {accuracy!r} on {score.total} digits; the model gets "
        f"{score}. {fix}"
    )


@pytest.mark.function("save")
def test_save_accuracy_answers_each_run_for_its_own_digits(
    kind, reference, student_export, before_save, mnist
):
    # One load, two runs of other sizes: what one run on all 2,000 digits cannot show.
    directory = student_export().directory
    with loaded_with(kind, reference.load_signature_tensors, directory, SIGNATURE_KEY) as loaded:
        tensors, session = loaded.value, loaded.session

        def run_accuracy(images, one_hot_labels):
            feed = {tensors["input"]: images, tensors["output"]: one_hot_labels}
            return session.run(tensors["accuracy"], feed)

        graph_checks.check_accuracy_of_each_run(
            run_accuracy,
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


@pytest.mark.function("evaluate")
def test_evaluate_returns_a_fraction(kind, student, reference_loaded, mnist):
    accuracy = kind.evaluate(
        student.evaluate, reference_loaded(SIGNATURE_KEY), mnist.test_images, mnist.test_labels
    )
    check_a_fraction(accuracy)


@pytest.mark.function("evaluate")
def test_evaluate_counts_the_same_digits_as_the_trained_model(
    kind, student, reference_loaded, before_save, mnist
):
    images, labels = mnist.test_images, mnist.test_labels
    accuracy = kind.evaluate(student.evaluate, reference_loaded(SIGNATURE_KEY), images, labels)
    check_accuracy(accuracy, before_save.score)


@pytest.mark.function("evaluate")
@settings(max_examples=examples(8))
@given(rows=st.lists(st.integers(0, 1999), min_size=1, max_size=300, unique=True))
@example(rows=SUBSET_EXAMPLES[0])
@example(rows=SUBSET_EXAMPLES[1])
def test_evaluate_counts_correct_predictions_on_any_subset(
    kind, student, reference_loaded, before_save, mnist, rows
):
    rows = np.array(rows)
    loaded = reference_loaded(SIGNATURE_KEY, shared=True)
    images, labels = mnist.test_images[rows], mnist.test_labels[rows]
    accuracy = kind.evaluate(student.evaluate, loaded, images, labels)
    check_counts_correct(accuracy, before_save.probabilities[rows], labels, before_save.score)


@pytest.mark.function("evaluate")
def test_evaluate_answers_each_call_for_its_own_digits(
    kind, student, reference_loaded, before_save, mnist
):
    # One loaded model, three calls: nothing may carry over from one call to the next.
    loaded = reference_loaded(SIGNATURE_KEY)
    images, labels = mnist.test_images, mnist.test_labels
    first = kind.evaluate(student.evaluate, loaded, images, labels)
    few = kind.evaluate(student.evaluate, loaded, images[:100], labels[:100])
    again = kind.evaluate(student.evaluate, loaded, images, labels)
    graph_checks.check_not_a_running_accuracy(first, few, before_save.probabilities, labels)
    check_counts_correct(few, before_save.probabilities[:100], labels[:100], before_save.score)
    assert first == again, (
        f"evaluate gave {first!r}, then {again!r} for the same digits on the same loaded model: "
        "something carries over between calls (a running metric, a kept value). Compute each "
        "call's accuracy from its own images and labels."
    )


# --- all four together ---------------------------------------------------------


@pytest.mark.end_to_end
def test_end_to_end_with_all_your_functions(
    kind, student, reference, student_trained_own, mnist, new_export_dir
):
    trained = student_trained_own()
    export = kind.export(student.save, trained.model, new_export_dir())
    check_end_to_end(kind, student, reference, trained, mnist, export.directory)


# --- the mutation gate: mistakes this suite must catch, alternatives it must accept

MISTAKES = [
    Mistake(
        "create_model",
        "fixed batch size in a reshape",
        "tf.reshape(hidden, [-1,",
        "tf.reshape(hidden, [32,",
        "use -1 for the batch dimension",
    ),
    Mistake(
        "create_model",
        "softmax in the model",
        'return _dense("dense2", hidden, units=NUM_CLASSES)',
        'return tf.nn.softmax(_dense("dense2", hidden, units=NUM_CLASSES))',
        "create_model applies a softmax",
    ),
    Mistake(
        "create_model",
        "VALID convolutions",
        'strides=1, padding="SAME")',
        'strides=1, padding="VALID")',
        "'VALID' convolution padding",
    ),
    Mistake(
        "create_model",
        "no ReLU on dense 32",
        'hidden = _dense("dense1", flat, units=32, activation=tf.nn.relu)',
        'hidden = _dense("dense1", flat, units=32)',
        "the ReLU on dense 32",
    ),
    Mistake(
        "create_model",
        "ReLU on the logits",
        'return _dense("dense2", hidden, units=NUM_CLASSES)',
        'return _dense("dense2", hidden, units=NUM_CLASSES, activation=tf.nn.relu)',
        "none on dense 10",
    ),
    Mistake(
        "create_model",
        "flatten in channels-first order",
        "flat = tf.reshape(hidden, [",
        "flat = tf.reshape(tf.transpose(hidden, [0, 3, 1, 2]), [",
        "flatten keeps the [batch, 3, 3, 4] order",
    ),
    Mistake(
        "create_model",
        "sigmoid instead of ReLU in the convolutions",
        "activation = tf.nn.relu(tf.nn.conv2d(",
        "activation = tf.nn.sigmoid(tf.nn.conv2d(",
        "order (conv, ReLU, pool)",
    ),
    Mistake(
        "create_model",
        "pooling with stride 1",
        'ksize=2, strides=2, padding="VALID")',
        'ksize=2, strides=1, padding="VALID")',
        "the flattened size must be 3*3*4 = 36",
    ),
    Mistake(
        "create_model",
        "conv kernels initialised to zeros",
        (
            "[size, size, inputs.shape[-1], filters],\n"
            "            initializer=v1.glorot_uniform_initializer(),"
        ),
        (
            "[size, size, inputs.shape[-1], filters],\n"
            "            initializer=v1.zeros_initializer(),"
        ),
        "zero or constant kernels never learn",
    ),
    Mistake(
        "create_model",
        "dropout left on at inference",
        'hidden = _dense("dense1", flat, units=32, activation=tf.nn.relu)',
        (
            'hidden = _dense("dense1", flat, units=32, activation=tf.nn.relu)\n'
            "    hidden = tf.nn.dropout(hidden, rate=0.5)"
        ),
        "no other layers (no dropout)",
    ),
    Mistake(
        "create_model",
        "own placeholder instead of x",
        'hidden = _conv_block("conv1", x, size=3, filters=8)',
        (
            "x = v1.placeholder(tf.float32, [None, 28, 28, 1])\n"
            '    hidden = _conv_block("conv1", x, size=3, filters=8)'
        ),
        "build every op from the input x",
    ),
    Mistake(
        "create_model",
        "model built in a graph of its own",
        (
            '    hidden = _conv_block("conv1", x, size=3, filters=8)\n'
            '    hidden = _conv_block("conv2", hidden, size=3, filters=16)'
        ),
        (
            "    with tf.Graph().as_default():\n"
            "        x = v1.placeholder(tf.float32, [None, 28, 28, 1])\n"
            '        hidden = _conv_block("conv1", x, size=3, filters=8)\n'
            '    hidden = _conv_block("conv2", hidden, size=3, filters=16)'
        ),
        "not in a tf.Graph() of your own",
    ),
    Mistake(
        "create_model",
        "glorot normal's deviation as the uniform's bound",
        (
            "            initializer=v1.glorot_uniform_initializer(),\n"
            "        )\n"
            '        bias = v1.get_variable("bias", [filters], initializer=v1.zeros_initializer'
            "())\n"
            '    activation = tf.nn.relu(tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME") '
            "+ bias)\n"
            '    return tf.nn.max_pool2d(activation, ksize=2, strides=2, padding="VALID")\n'
            "\n"
            "\n"
            "def _dense(name, inputs, units, activation=None):\n"
            "    with v1.variable_scope(name):\n"
            "        kernel = v1.get_variable(\n"
            '            "kernel", [inputs.shape[-1], units], initializer=v1.glorot_uniform_initi'
            "alizer()\n"
            "        )"
        ),
        (
            "            initializer=_glorot(size * size * inputs.shape[-1], size * size * filt"
            "ers),\n"
            "        )\n"
            '        bias = v1.get_variable("bias", [filters], initializer=v1.zeros_initializer'
            "())\n"
            '    activation = tf.nn.relu(tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME") '
            "+ bias)\n"
            '    return tf.nn.max_pool2d(activation, ksize=2, strides=2, padding="VALID")\n'
            "\n"
            "\n"
            "def _glorot(fan_in, fan_out):\n"
            "    limit = np.sqrt(2 / (fan_in + fan_out))\n"
            "    return v1.random_uniform_initializer(-limit, limit)\n"
            "\n"
            "\n"
            "def _dense(name, inputs, units, activation=None):\n"
            "    with v1.variable_scope(name):\n"
            "        kernel = v1.get_variable(\n"
            '            "kernel", [inputs.shape[-1], units], initializer=_glorot(inputs.shape[-1'
            "], units)\n"
            "        )"
        ),
        "is glorot normal's deviation, not a uniform's bound",
    ),
    Mistake(
        "create_model",
        "dense kernels stored transposed",
        (
            '            "kernel", [inputs.shape[-1], units], initializer=v1.glorot_uniform_initi'
            "alizer()\n"
            "        )\n"
            '        bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())\n'
            "    outputs = tf.matmul(inputs, kernel) + bias"
        ),
        (
            '            "kernel", [units, inputs.shape[-1]], initializer=v1.glorot_uniform_initi'
            "alizer()\n"
            "        )\n"
            '        bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())\n'
            "    outputs = tf.matmul(inputs, kernel, transpose_b=True) + bias"
        ),
        "keep the tutorial's layout, [inputs, units] for a dense kernel",
    ),
    Mistake(
        "save",
        "signature key misspelt: predictions",
        '"prediction": y_pred',
        '"predictions": y_pred',
        "Keys are the names you choose in the inputs= and outputs= dicts",
    ),
    Mistake(
        "save",
        "signature key misspelt: inputs",
        'inputs={"input": x}',
        'inputs={"inputs": x}',
        "expected inputs ['input']",
    ),
    Mistake(
        "save",
        "variables re-initialised before export",
        "    v1.saved_model.simple_save(",
        ("    sess.run(v1.global_variables_initializer())\n    v1.saved_model.simple_save("),
        "Running an initializer in save() resets the model to untrained weights",
    ),
    Mistake(
        "save",
        "exporting into a folder that is not empty",
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )"
        ),
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )\n"
            '    v1.saved_model.simple_save(sess, export_dir, inputs={"input": x}, outputs={"pred'
            'iction": y_pred})'
        ),
        "SavedModel exporters refuse a folder that already holds files",
    ),
    Mistake(
        "save",
        "export into a versioned subfolder",
        ("        sess,\n        export_dir,\n"),
        ('        sess,\n        export_dir + "/1",\n'),
        "write the SavedModel into export_dir itself",
    ),
    Mistake(
        "save",
        "a new session in save",
        "    v1.saved_model.simple_save(",
        (
            "    sess = v1.Session()\n"
            "    sess.run(v1.global_variables_initializer())\n"
            "    v1.saved_model.simple_save("
        ),
        "export the session you were given",
    ),
    Mistake(
        "save",
        "output and prediction swapped",
        'outputs={"output": y, "prediction": y_pred, "accuracy": acc}',
        'outputs={"output": y_pred, "prediction": y, "accuracy": acc}',
        "'prediction' to `y_pred`",
    ),
    Mistake(
        "save",
        "only prediction exported",
        'outputs={"output": y, "prediction": y_pred, "accuracy": acc}',
        'outputs={"prediction": y_pred}',
        "expected inputs ['input'] and outputs ['accuracy', 'output', 'prediction']",
    ),
    Mistake(
        "save",
        "a checkpoint instead of a SavedModel",
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )"
        ),
        '    v1.train.Saver().save(sess, export_dir + "/variables/variables")',
        "A SavedModel is more than a checkpoint",
    ),
    Mistake(
        "save",
        "Builder with the training tag",
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )"
        ),
        (
            "    builder = v1.saved_model.Builder(export_dir)\n"
            "    signature = v1.saved_model.signature_def_utils.predict_signature_def(\n"
            '        inputs={"input": x}, outputs={"output": y, "prediction": y_pred, "accuracy":'
            " acc})\n"
            "    builder.add_meta_graph_and_variables(sess, [tf.saved_model.TRAINING], signature_"
            'def_map={"serving_default": signature})\n'
            "    builder.save()"
        ),
        "expected ['serve']",
    ),
    Mistake(
        "save",
        "classify method name",
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )"
        ),
        (
            "    info = v1.saved_model.utils.build_tensor_info\n"
            "    signature = v1.saved_model.signature_def_utils.build_signature_def(\n"
            '        inputs={"input": info(x)},\n'
            '        outputs={"output": info(y), "prediction": info(y_pred), "accuracy": info(acc'
            ")},\n"
            '        method_name="tensorflow/serving/classify")\n'
            "    builder = v1.saved_model.Builder(export_dir)\n"
            '    builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"servin'
            'g_default": signature})\n'
            "    builder.save()"
        ),
        "expected 'tensorflow/serving/predict'",
    ),
    Mistake(
        "save",
        "tensors looked up by the tutorial's names",
        "    v1.saved_model.simple_save(",
        (
            '    names = ("myInput:0", "myOutput:0", "myPrediction:0", "myAccuracy:0")\n'
            "    x, y, y_pred, acc = (sess.graph.get_tensor_by_name(name) for name in names)\n"
            "    v1.saved_model.simple_save("
        ),
        "never look tensors up by the tutorial's names",
    ),
    Mistake(
        "save",
        "a streaming metric as the exported accuracy",
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )"
        ),
        (
            "    _, running_accuracy = v1.metrics.accuracy(tf.argmax(y, 1), tf.argmax(y_pred, 1))\n"
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": running_accuracy},\n'
            "        legacy_init_op=v1.local_variables_initializer(),\n"
            "    )"
        ),
        "the running accuracy of this run and the earlier one",
    ),
    Mistake(
        "save",
        "accuracy divided by the test set's size",
        "    v1.saved_model.simple_save(",
        (
            "    correct = tf.cast(tf.equal(tf.argmax(y, 1), tf.argmax(y_pred, 1)), tf.float32)\n"
            "    acc = tf.reduce_sum(correct) / 2000\n"
            "    v1.saved_model.simple_save("
        ),
        "the test set's size, not by the number of digits fed",
    ),
    Mistake(
        "load_signature_tensors",
        "tags given as a string",
        "loader.load(sess, [SERVE_TAG], export_dir)",
        "loader.load(sess, SERVE_TAG, export_dir)",
        "Tags are a list, ['serve'], not the string 'serve'",
    ),
    Mistake(
        "load_signature_tensors",
        "tensor name without :0",
        "get_tensor_by_name(info.name)",
        "get_tensor_by_name(info.name.split(':')[0])",
        "A tensor's name ends with its output index, ':0'",
    ),
    Mistake(
        "load_signature_tensors",
        "an Operation instead of a Tensor",
        "sess.graph.get_tensor_by_name(info.name)",
        "sess.graph.get_operation_by_name(info.name.split(':')[0])",
        "is the Operation 'myInput', not a Tensor",
    ),
    Mistake(
        "load_signature_tensors",
        "tensor names used as keys",
        "{key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints.items()}",
        (
            "{info.name: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints.item"
            "s()}"
        ),
        "expected the signature's keys",
    ),
    Mistake(
        "load_signature_tensors",
        "hard-coded tutorial tensor names",
        (
            "    return {key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints"
            ".items()}"
        ),
        (
            '    names = {"input": "myInput:0", "output": "myOutput:0", "prediction": "myPredicti'
            'on:0", "accuracy": "myAccuracy:0"}\n'
            "    return {key: sess.graph.get_tensor_by_name(name) for key, name in names.items()}"
        ),
        "Take every name from the signature",
    ),
    Mistake(
        "load_signature_tensors",
        "initializer after load",
        "    signature = meta_graph.signature_def[SIGNATURE_KEY]",
        (
            "    sess.run(v1.global_variables_initializer())\n"
            "    signature = meta_graph.signature_def[SIGNATURE_KEY]"
        ),
        "running an initializer afterwards overwrites them",
    ),
    Mistake(
        "load_signature_tensors",
        "loaded into a session of its own",
        "    meta_graph = v1.saved_model.loader.load(sess, [SERVE_TAG], export_dir)",
        (
            "    sess = v1.Session(graph=tf.Graph())\n"
            "    with sess.graph.as_default():\n"
            "        meta_graph = v1.saved_model.loader.load(sess, [SERVE_TAG], export_dir)"
        ),
        "load into the session you were given",
    ),
    Mistake(
        "load_signature_tensors",
        "only the outputs returned",
        "endpoints = {**signature.inputs, **signature.outputs}",
        "endpoints = dict(signature.outputs)",
        "expected the signature's keys",
    ),
    Mistake(
        "load_signature_tensors",
        "TensorInfo protos returned",
        (
            "    return {key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints"
            ".items()}"
        ),
        "    return {key: info for key, info in endpoints.items()}",
        "expected a tf.Tensor",
    ),
    Mistake(
        "load_signature_tensors",
        "TF2 loader in a session exercise",
        (
            "    meta_graph = v1.saved_model.loader.load(sess, [SERVE_TAG], export_dir)\n"
            "    signature = meta_graph.signature_def[SIGNATURE_KEY]"
        ),
        "    signature = tf.saved_model.load(export_dir).signatures[SIGNATURE_KEY]",
        "depends on a placeholder which is not an input",
    ),
    Mistake(
        "load_signature_tensors",
        "tensors memoised across sessions",
        (
            "    return {key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints"
            ".items()}"
        ),
        (
            '    cache = load_signature_tensors.__dict__.setdefault("cache", {})\n'
            "    if export_dir not in cache:\n"
            "        cache[export_dir] = {key: sess.graph.get_tensor_by_name(info.name) for key, "
            "info in endpoints.items()}\n"
            "    return cache[export_dir]"
        ),
        "belongs to another graph: load into the session you were given",
    ),
    Mistake(
        "evaluate",
        "metrics.accuracy without local init",
        (
            "    value = sess.run(\n"
            '        tensors["accuracy"], feed_dict={tensors["input"]: images, tensors["output"]:'
            " one_hot_labels}\n"
            "    )"
        ),
        (
            '    _, update = v1.metrics.accuracy(tf.argmax(tensors["output"], 1), tf.argmax(tenso'
            'rs["prediction"], 1))\n'
            '    value = sess.run(update, feed_dict={tensors["input"]: images, tensors["output"]:'
            " one_hot_labels})"
        ),
        "local_variables_initializer()",
    ),
    Mistake(
        "evaluate",
        "accuracy as a percentage",
        "    return float(value)",
        "    return 100 * float(value)",
        "this looks like a percentage, drop the * 100",
    ),
    Mistake(
        "evaluate",
        "evaluate on the first 1000 only",
        'feed_dict={tensors["input"]: images, tensors["output"]: one_hot_labels}',
        ('feed_dict={tensors["input"]: images[:1000], tensors["output"]: one_hot_labels[:1000]}'),
        "Is every image given counted",
    ),
    Mistake(
        "evaluate",
        "off by one: last image dropped",
        'feed_dict={tensors["input"]: images, tensors["output"]: one_hot_labels}',
        'feed_dict={tensors["input"]: images[:-1], tensors["output"]: one_hot_labels[:-1]}',
        "the fraction was taken over another number of images",
    ),
    Mistake(
        "evaluate",
        "integer labels fed to the one-hot placeholder",
        'feed_dict={tensors["input"]: images, tensors["output"]: one_hot_labels}',
        'feed_dict={tensors["input"]: images, tensors["output"]: labels}',
        "one-hot",
    ),
    Mistake(
        "evaluate",
        "one-hot shifted by one",
        "[np.asarray(labels)]",
        "[np.asarray(labels) - 1]",
        "the labels do not match the images",
    ),
    Mistake(
        "evaluate",
        "numpy float32 returned",
        "    return float(value)",
        "    return value",
        "float(value) converts a numpy scalar",
    ),
    Mistake(
        "evaluate",
        "rounded accuracy",
        "    return float(value)",
        "    return round(float(value), 2)",
        "not rounded",
    ),
    Mistake(
        "evaluate",
        "accuracy memoised across calls",
        "    return float(value)",
        '    return evaluate.__dict__.setdefault("accuracy", float(value))',
        "every call computes its own images' accuracy",
    ),
    Mistake(
        "evaluate",
        "initializer in evaluate",
        "    one_hot_labels = np.eye(",
        ("    sess.run(v1.global_variables_initializer())\n    one_hot_labels = np.eye("),
        "an initializer run after loading resets them",
    ),
    Mistake(
        "evaluate",
        "mean of per-batch accuracies",
        (
            "    one_hot_labels = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]\n"
            "    value = sess.run(\n"
            '        tensors["accuracy"], feed_dict={tensors["input"]: images, tensors["output"]:'
            " one_hot_labels}\n"
            "    )\n"
            "    return float(value)"
        ),
        (
            "    one_hot_labels = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]\n"
            "    batch_accuracies = []\n"
            "    for start in range(0, len(images), 256):\n"
            '        batch_accuracies.append(sess.run(tensors["accuracy"], feed_dict={\n'
            '            tensors["input"]: images[start:start + 256],\n'
            '            tensors["output"]: one_hot_labels[start:start + 256],\n'
            "        }))\n"
            "    return float(np.mean(batch_accuracies))"
        ),
        "averaged over a ragged last batch",
    ),
    Mistake(
        "evaluate",
        "a running accuracy per loaded model",
        (
            "    value = sess.run(\n"
            '        tensors["accuracy"], feed_dict={tensors["input"]: images, tensors["output"]:'
            " one_hot_labels}\n"
            "    )"
        ),
        (
            '    if getattr(evaluate, "session", None) is not sess:\n'
            "        _, evaluate.update = v1.metrics.accuracy(\n"
            '            tf.argmax(tensors["output"], 1), tf.argmax(tensors["prediction"], 1)\n'
            "        )\n"
            "        sess.run(v1.local_variables_initializer())\n"
            "        evaluate.session = sess\n"
            "    value = sess.run(\n"
            '        evaluate.update, feed_dict={tensors["input"]: images, tensors["output"]: one'
            "_hot_labels}\n"
            "    )"
        ),
        "the running accuracy of this call and the one before",
    ),
    Mistake(
        "evaluate",
        "accuracy rounded to 4 places",
        "    return float(value)",
        "    return round(float(value), 4)",
        "looks rounded to 4 places",
    ),
]

ALTERNATIVES = [
    Alternative(
        "create_model",
        "pool before ReLU",
        (
            '    activation = tf.nn.relu(tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME") '
            "+ bias)\n"
            '    return tf.nn.max_pool2d(activation, ksize=2, strides=2, padding="VALID")'
        ),
        (
            '    pooled = tf.nn.max_pool2d(tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME"'
            ') + bias, ksize=2, strides=2, padding="VALID")\n'
            "    return tf.nn.relu(pooled)"
        ),
    ),
    Alternative(
        "create_model",
        "inline layers, bias_add, v1 max_pool",
        (
            '    hidden = _conv_block("conv1", x, size=3, filters=8)\n'
            '    hidden = _conv_block("conv2", hidden, size=3, filters=16)\n'
            '    hidden = _conv_block("conv3", hidden, size=1, filters=4)\n'
            "    flat = tf.reshape(hidden, [-1, hidden.shape[1] * hidden.shape[2] * hidden.shape["
            "3]])\n"
            '    hidden = _dense("dense1", flat, units=32, activation=tf.nn.relu)\n'
            '    return _dense("dense2", hidden, units=NUM_CLASSES)'
        ),
        (
            "    glorot = v1.initializers.glorot_uniform()\n"
            "    h = x\n"
            "    for i, (size, cin, cout) in enumerate([(3, 1, 8), (3, 8, 16), (1, 16, 4)]):\n"
            '        w = v1.get_variable(f"layer{i}_w", [size, size, cin, cout], initializer=glor'
            "ot)\n"
            '        b = v1.get_variable(f"layer{i}_b", [cout], initializer=v1.initializers.zeros'
            "())\n"
            "        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, w, strides=[1, 1, 1, 1], paddi"
            'ng="SAME"), b))\n'
            '        h = v1.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VAL'
            'ID")\n'
            "    h = tf.reshape(h, [-1, 36])\n"
            '    w4 = v1.get_variable("fc_w", [36, 32], initializer=glorot)\n'
            '    b4 = v1.get_variable("fc_b", [32], initializer=v1.initializers.zeros())\n'
            "    h = tf.nn.relu(tf.matmul(h, w4) + b4)\n"
            '    w5 = v1.get_variable("out_w", [32, 10], initializer=glorot)\n'
            '    b5 = v1.get_variable("out_b", [10], initializer=v1.initializers.zeros())\n'
            "    return tf.nn.bias_add(tf.matmul(h, w5), b5)"
        ),
    ),
    Alternative(
        "create_model",
        "tf.Variable in a graph",
        (
            "        kernel = v1.get_variable(\n"
            '            "kernel", [inputs.shape[-1], units], initializer=v1.glorot_uniform_initi'
            "alizer()\n"
            "        )\n"
            '        bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())'
        ),
        (
            "        kernel = tf.Variable(v1.glorot_uniform_initializer()([int(inputs.shape[-1]),"
            ' units]), name="kernel")\n'
            '        bias = tf.Variable(tf.zeros([units]), name="bias")'
        ),
    ),
    Alternative(
        "save",
        "Builder with predict_signature_def and constants",
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )"
        ),
        (
            "    signature = v1.saved_model.signature_def_utils.predict_signature_def(\n"
            '        inputs={"input": x}, outputs={"output": y, "prediction": y_pred, "accuracy":'
            " acc})\n"
            "    builder = v1.saved_model.Builder(export_dir)\n"
            "    builder.add_meta_graph_and_variables(\n"
            "        sess, [tf.saved_model.SERVING],\n"
            "        signature_def_map={tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: signatu"
            "re})\n"
            "    builder.save()"
        ),
    ),
    Alternative(
        "save",
        "Builder with build_signature_def and tag_constants",
        (
            "    v1.saved_model.simple_save(\n"
            "        sess,\n"
            "        export_dir,\n"
            '        inputs={"input": x},\n'
            '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n'
            "    )"
        ),
        (
            "    info = v1.saved_model.utils.build_tensor_info\n"
            "    signature = v1.saved_model.signature_def_utils.build_signature_def(\n"
            '        inputs={"input": info(x)},\n'
            '        outputs={"output": info(y), "prediction": info(y_pred), "accuracy": info(acc'
            ")},\n"
            "        method_name=v1.saved_model.signature_constants.PREDICT_METHOD_NAME)\n"
            "    builder = v1.saved_model.builder.SavedModelBuilder(export_dir)\n"
            "    builder.add_meta_graph_and_variables(\n"
            "        sess, [v1.saved_model.tag_constants.SERVING], signature_def_map={SIGNATURE_K"
            "EY: signature},\n"
            "        strip_default_attrs=True)\n"
            "    builder.save()"
        ),
    ),
    Alternative(
        "load_signature_tensors",
        "SERVING constant and get_tensor_from_tensor_info",
        (
            "    meta_graph = v1.saved_model.loader.load(sess, [SERVE_TAG], export_dir)\n"
            "    signature = meta_graph.signature_def[SIGNATURE_KEY]\n"
            "    endpoints = {**signature.inputs, **signature.outputs}\n"
            "    return {key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints"
            ".items()}"
        ),
        (
            "    meta_graph = v1.saved_model.load(sess, [tf.saved_model.SERVING], export_dir)\n"
            "    signature = meta_graph.signature_def[tf.saved_model.DEFAULT_SERVING_SIGNATURE_DE"
            "F_KEY]\n"
            "    tensors = {}\n"
            "    for side in (signature.inputs, signature.outputs):\n"
            "        for key in side:\n"
            "            tensors[key] = v1.saved_model.utils.get_tensor_from_tensor_info(side[key"
            "], sess.graph)\n"
            "    return tensors"
        ),
    ),
    Alternative(
        "load_signature_tensors",
        "as_graph_element",
        (
            "    return {key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints"
            ".items()}"
        ),
        (
            "    result = {}\n"
            "    for key, info in endpoints.items():\n"
            "        result[key] = sess.graph.as_graph_element(info.name)\n"
            "    return result"
        ),
    ),
    Alternative(
        "load_signature_tensors",
        "graph imported under a name scope",
        (
            "    meta_graph = v1.saved_model.loader.load(sess, [SERVE_TAG], export_dir)\n"
            "    signature = meta_graph.signature_def[SIGNATURE_KEY]\n"
            "    endpoints = {**signature.inputs, **signature.outputs}\n"
            "    return {key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints"
            ".items()}"
        ),
        (
            "    meta_graph = v1.saved_model.loader.load(\n"
            '        sess, [SERVE_TAG], export_dir, import_scope="served"\n'
            "    )\n"
            "    signature = meta_graph.signature_def[SIGNATURE_KEY]\n"
            "    endpoints = {**signature.inputs, **signature.outputs}\n"
            "    graph = sess.graph\n"
            '    return {key: graph.get_tensor_by_name("served/" + info.name) for key, info in end'
            "points.items()}"
        ),
    ),
    Alternative(
        "evaluate",
        "one-hot by indexing, .item()",
        (
            "    one_hot_labels = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]\n"
            "    value = sess.run(\n"
            '        tensors["accuracy"], feed_dict={tensors["input"]: images, tensors["output"]:'
            " one_hot_labels}\n"
            "    )\n"
            "    return float(value)"
        ),
        (
            "    labels = np.asarray(labels)\n"
            "    one_hot = np.zeros((len(labels), NUM_CLASSES), dtype=np.float32)\n"
            "    one_hot[np.arange(len(labels)), labels] = 1.0\n"
            '    accuracy = sess.run(tensors["accuracy"], {tensors["input"]: images, tensors["out'
            'put"]: one_hot})\n'
            "    return accuracy.item()"
        ),
    ),
    Alternative(
        "evaluate",
        "batch by batch through the accuracy tensor, counts summed",
        (
            "    one_hot_labels = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]\n"
            "    value = sess.run(\n"
            '        tensors["accuracy"], feed_dict={tensors["input"]: images, tensors["output"]:'
            " one_hot_labels}\n"
            "    )\n"
            "    return float(value)"
        ),
        (
            "    one_hot_labels = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]\n"
            "    correct = 0\n"
            "    for start in range(0, len(images), 256):\n"
            "        batch = slice(start, start + 256)\n"
            '        batch_accuracy = sess.run(tensors["accuracy"], feed_dict={\n'
            '            tensors["input"]: images[batch], tensors["output"]: one_hot_labels[batch'
            "]})\n"
            "        correct += int(round(float(batch_accuracy) * len(images[batch])))\n"
            "    return correct / len(images)"
        ),
    ),
]
