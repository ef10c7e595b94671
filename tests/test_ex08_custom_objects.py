"""Tests of exercise 8: a custom layer saved by its registered name, and loading models safely.

Each test grades one function and takes the other three from solutions/. The
shared fixtures train the reference once through the custom kind
(kinds/custom.py): exercise 3's network behind `Standardize`, whose
statistics come from the bundled training digits.

Keras finds a custom class by its registered name in one registry for the
process, and the reference and the code under test both register
"savedmodel_kata>Standardize": before each test the name is given to the
class of the code whose function the test grades (the student's for
create_model and the end-to-end test, the reference's for the others), so a
mistake in one function never costs another's points.

Reloading "elsewhere" happens in a fresh Python process (`python -I`, an
empty folder): it imports one module by its file path (which registers its
layer) and calls `keras.saving.load_model(file)` with no custom_objects.

The loader's refusals are checked on files the tests make with Keras' and
TensorFlow's own APIs, each of the shape of a published advisory, whose code
does nothing worse than write a marker file inside pytest's temporary
folder: the marker must never appear (nothing of a refused file may run, not
even at load time), the refusal must be the loader's own UnsafeModelError and
name what it found. They are made once for the module.
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import sys
import typing
import zipfile
from pathlib import Path

import numpy as np
import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.errors import StudentError
from savedmodel_kata.kinds.custom import keras_file_in
from savedmodel_kata.plugin import shared_tests
from savedmodel_kata.plugin.checks import PROBABILITY_TOLERANCE, check_model_type, parameter_report
from savedmodel_kata.plugin.fresh_process import FreshProcess, FreshProcessError
from savedmodel_kata.plugin.run import kata_test_of
from savedmodel_kata.results import Failure
from savedmodel_kata.tensorflow_setup import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)
from keras.src.saving import serialization_lib  # noqa: E402  (safe mode, as Keras reads it)
from tensorflow.core.protobuf import saver_pb2  # noqa: E402  (a TF1 saver, made by hand)

STANDARDIZE = "savedmodel_kata>Standardize"
PROBE = "kata_tests>SafeModeProbe"
# The classes a config of the kata's model names, whatever else (optimizer, loss) it holds.
LAYER_CLASSES = {"InputLayer", "Standardize", "Conv2D", "MaxPooling2D", "Flatten", "Dense"}
# Ops every SavedModel of the kata's classifier runs.
CLASSIFIER_OPS = {"Conv2D", "MatMul", "Relu"}
REGISTRY = keras.saving.get_custom_objects()  # the process's registry: name -> class


# --- helpers -----------------------------------------------------------------


def registered_by(module) -> type | None:
    """The class `module` registered as STANDARDIZE, if any."""
    for value in vars(module).values():
        if isinstance(value, type) and keras.saving.get_registered_name(value) == STANDARDIZE:
            return value
    return None


@pytest.fixture(autouse=True)
def _the_graded_codes_registration(request, student, reference):
    """STANDARDIZE names the class of the code the test grades, for the test's duration."""
    test = kata_test_of(request.node)
    own = test is not None and test.function in ("create_model", catalogue.END_TO_END)
    try:
        cls = registered_by(student.module if own else reference)
    except StudentError:  # a module that does not import: its tests say so
        cls = None
    before = REGISTRY.get(STANDARDIZE)
    if cls is None:
        REGISTRY.pop(STANDARDIZE, None)
    else:
        REGISTRY[STANDARDIZE] = cls
    yield
    if before is not None:
        REGISTRY[STANDARDIZE] = before


def not_implemented_or(error: StudentError, message: str):
    """A stub's pointer stays the report; any other error fails with `message` and its line."""
    if error.failure == Failure.NOT_IMPLEMENTED:
        raise error
    pytest.fail(f"{message}\n{str(error).splitlines()[0][:400]}", pytrace=False)


logits_of = shared_tests.keras_logits_of


def softmax(logits) -> np.ndarray:
    return tf.nn.softmax(np.asarray(logits, np.float32)).numpy()


def first_layer(model):
    layers = getattr(model, "layers", None)
    if not layers:
        pytest.fail(
            f"create_model returned {type(model).__name__} without layers; expected a "
            "keras.Sequential whose first layer is Standardize",
            pytrace=False,
        )
    return layers[0]


def statistics(layer) -> dict[str, float]:
    """The layer's non-trainable weights by name ('mean', 'deviation')."""
    return {v.name.split("/")[-1]: float(np.asarray(v)) for v in layer.non_trainable_weights}


def other_image_sets(mnist) -> dict[str, np.ndarray]:
    """Two sets of training images whose statistics differ from the bundled digits' and each
    other's (the second darker: its mean is a third of theirs)."""
    return {
        "the first 500 training digits": mnist.train_images[:500],
        "every third digit, darkened": (mnist.train_images[::3] / 3).astype(np.float32),
    }


def expected_statistics(images) -> dict[str, float]:
    images = np.asarray(images, np.float64)
    return {"mean": float(np.mean(images)), "deviation": float(np.std(images))}


def statistics_problem(found: dict[str, float], expected: dict[str, float]) -> str | None:
    if set(found) != set(expected):
        return f"its non-trainable weights are {sorted(found)}; expected {sorted(expected)}"
    off = {
        name: (found[name], value)
        for name, value in expected.items()
        if not np.isclose(found[name], value, rtol=1e-5, atol=1e-7)
    }
    if off:
        return ", ".join(f"{n} {got:.6g} (expected {want:.6g})" for n, (got, want) in off.items())
    return None


def read_config(keras_file: Path) -> dict:
    with zipfile.ZipFile(keras_file) as archive:
        return json.loads(archive.read("config.json"))


def objects_in(config):
    """Every dict of the config that names a class_name, at every depth."""
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "class_name" in value:
                yield value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def keras_own_model(seed: int = 5):
    """Exercise 3's network: Keras' own layers only."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


# --- the fresh process that reloads a .keras file ------------------------------

RELOAD_SERVER = r"""
import importlib.util, itertools, json, os, sys, traceback
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import keras

numbers = itertools.count()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    try:
        # The module by its file path, anew: its registration is all that names the layer.
        name = f"registers_{next(numbers)}"
        spec = importlib.util.spec_from_file_location(name, request["module"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = keras.saving.load_model(request["file"])
        logits = np.asarray(model(tf.constant(np.load(request["images"]))))
        weights = model.layers[0].non_trainable_weights
        fixed = {v.name.split("/")[-1]: np.asarray(v) for v in weights}
        np.savez(request["out"], logits=logits, **{f"fixed/{k}": v for k, v in fixed.items()})
        reply = {"ok": True}
    except Exception as error:
        lines = traceback.format_exception_only(type(error), error)
        reply = {"error": "".join(lines).strip()[:900]}
    print(json.dumps(reply), flush=True)
"""


class ReloadProcess(FreshProcess):
    """A fresh, isolated Python process (fresh_process.py's) that imports one module by its file
    and loads a .keras file with keras.saving.load_model alone."""

    def __init__(self) -> None:
        super().__init__()
        (self.folder / "reload_server.py").write_text(RELOAD_SERVER)

    def reload(self, module: Path, keras_file: Path, images: np.ndarray):
        """(logits of the reloaded model on `images`, its first layer's non-trainable weights)."""
        work = self.request_folder()
        np.save(work / "images.npy", images)
        request = {
            "module": str(module),
            "file": str(keras_file),
            "images": str(work / "images.npy"),
            "out": str(work / "out.npz"),
        }
        try:
            reply = self.ask(request)
            if "error" in reply:
                raise FreshProcessError(reply["error"])
            with np.load(work / "out.npz") as arrays:
                fixed = {k[len("fixed/") :]: float(arrays[k]) for k in arrays if "/" in k}
                return arrays["logits"], fixed
        finally:
            shutil.rmtree(work, ignore_errors=True)


_reload_process: list[ReloadProcess] = []


@pytest.fixture(scope="module")
def reload_process(request):
    """One for the run, started as the module's tests start: its imports overlap theirs."""
    if not _reload_process:
        _reload_process.append(ReloadProcess())
        atexit.register(_reload_process[0].remove)
    _reload_process[0].start()
    return _reload_process[0]


def reloaded_elsewhere(reload_process, module: Path, keras_file: Path, images, what: str):
    try:
        return reload_process.reload(module, keras_file, images)
    except FreshProcessError as error:
        pytest.fail(
            f"{what}, reloaded in a fresh Python process that imports {module.name} by its file "
            "path (so only its registration names the layer) and calls "
            "keras.saving.load_model(file) with no custom_objects, failed:\n  "
            f"{str(error).strip().splitlines()[-1][:600]}\nRegister the layer where it is "
            "defined, @keras.saving.register_keras_serializable(package='savedmodel_kata'), "
            "and give it a get_config() holding every argument of __init__",
            pytrace=False,
        )


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_keras_model(student_model):
    check_model_type(student_model(), keras.Model, "a Keras 3 model (keras.Sequential, say)")


@pytest.mark.function("create_model")
def test_create_model_first_layer_is_standardize_registered_by_name(student_model):
    layer = first_layer(student_model())
    name = keras.saving.get_registered_name(type(layer))
    assert name == STANDARDIZE, (
        f"the model's first layer is {type(layer).__name__}, registered as {name!r}; expected "
        f"the Standardize layer registered as {STANDARDIZE!r}: decorate the class with "
        "@keras.saving.register_keras_serializable(package='savedmodel_kata'). A .keras file "
        "names the layer by that name, and only a registration finds it again"
    )


@pytest.mark.function("create_model")
@pytest.mark.parametrize(
    "images_given", ["the first 500 training digits", "every third digit, darkened"]
)
def test_create_model_keeps_the_statistics_of_the_images_given_as_non_trainable_weights(
    student, mnist, images_given
):
    images = other_image_sets(mnist)[images_given]
    model = student.create_model(train_images=images)
    layer = first_layer(model)
    trainable = [v.name for v in layer.trainable_weights]
    assert not trainable, (
        f"the Standardize layer has trainable weights {trainable}: training would move the "
        "statistics away from the data's. Make them with add_weight(..., trainable=False)"
    )
    problem = statistics_problem(statistics(layer), expected_statistics(images))
    assert problem is None, (
        f"given {images_given} ({len(images)} images), the Standardize layer's non-trainable "
        f"weights are not their pixels' mean and standard deviation: {problem}. Compute them "
        "from the train_images given (np.mean, np.std over every pixel), and keep them as "
        "non-trainable weights named 'mean' and 'deviation'"
    )


@pytest.mark.function("create_model")
def test_create_model_layer_rebuilds_from_its_config_with_its_arguments(student_model):
    layer_class = type(first_layer(student_model()))
    try:
        original = layer_class(epsilon=0.25, name="probe")
    except TypeError as error:
        pytest.fail(
            f"Standardize(epsilon=0.25, name='probe') failed ({error}): __init__ takes "
            "epsilon=1e-3 and **kwargs, passed on to keras.layers.Layer",
            pytrace=False,
        )
    images = np.random.default_rng(3).random((4, 28, 28, 1), dtype=np.float32)
    original(tf.constant(images))  # built: its weights exist
    for variable in original.non_trainable_weights:
        variable.assign({"mean": 0.2, "deviation": 0.5}.get(variable.name, variable))
    config = original.get_config()
    json.dumps(config)  # a .keras file stores it as JSON
    assert config.get("epsilon") == 0.25 and config.get("name") == "probe", (
        f"Standardize(epsilon=0.25, name='probe').get_config() is {config}: it must hold "
        "every argument of __init__ (epsilon, and Keras' own through super().get_config()), "
        "or the file rebuilds the layer with its defaults"
    )
    rebuilt = layer_class.from_config(config)
    rebuilt(tf.constant(images))
    rebuilt.set_weights(original.get_weights())
    expected = (images - 0.2) / (0.5 + 0.25)
    for name, layer in (("the layer", original), ("from_config(get_config())", rebuilt)):
        worst = float(np.max(np.abs(np.asarray(layer(tf.constant(images))) - expected)))
        assert worst <= 1e-5, (
            f"with mean 0.2, deviation 0.5 and epsilon 0.25, {name} computes other values than "
            f"(x - mean) / (deviation + epsilon), by up to {worst:.3g}: use self.epsilon in "
            "call, and non-trainable weights named 'mean' and 'deviation'"
        )


@pytest.mark.function("create_model")
def test_create_model_reloads_in_a_fresh_process_with_the_statistics_kept(
    student, reference, reload_process, mnist, tmp_path
):
    images_given = "every third digit, darkened"
    images = other_image_sets(mnist)[images_given]
    model = student.create_model(images)
    keras_file = tmp_path / "yours.keras"
    reference.save(model, str(keras_file))
    # Statistics of other images here, since: a layer that recomputes them at load shows.
    student.create_model(mnist.train_images[:50])
    logits, fixed = reloaded_elsewhere(
        reload_process, Path(student.path), keras_file, mnist.test_images[:200], "Your model"
    )
    problem = statistics_problem(fixed, expected_statistics(images))
    assert problem is None, (
        f"your model, made from {images_given} and reloaded in a fresh process, has other "
        f"statistics: {problem}. They must be restored from the file as weights, never "
        "recomputed at load (in build, from a global, from the bundled digits)"
    )
    worst = float(
        np.max(np.abs(softmax(logits) - softmax(logits_of(model, mnist.test_images[:200]))))
    )
    assert worst <= PROBABILITY_TOLERANCE, (
        f"reloaded in a fresh process, your model predicts other probabilities (by up to "
        f"{worst:.3g}) than before it was saved: every argument in get_config, every statistic "
        "in a weight"
    )


test_create_model_output_shape_for_any_batch_size = shared_tests.output_shape_test(
    logits_of, max_examples=4
)


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters_after_the_standardize_layer(student_model):
    variables = list(student_model().trainable_variables)
    problem = parameter_report([tuple(v.shape) for v in variables], [v.path for v in variables])
    assert problem is None, f"create_model: {problem}"


@pytest.mark.function("create_model")
def test_create_model_has_standardize_then_only_the_tutorials_layers(student_model):
    allowed = {"Conv2D", "MaxPooling2D", "Flatten", "Reshape", "Dense", "Activation", "ReLU"}
    layers = list(student_model().layers)
    names = [type(layer).__name__ for layer in layers]
    others = [name for name in names[1:] if name not in allowed]
    assert keras.saving.get_registered_name(type(layers[0])) == STANDARDIZE and not others, (
        f"create_model's layers are {names}: Standardize first, then exercise 3's layers and "
        "no others (it standardizes every pixel the network sees)"
    )


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_starts_from_the_tutorials_initial_values,
    test_create_model_returns_a_new_model_each_call,
)

test_create_model_returns_logits_not_probabilities = shared_tests.logits_not_probabilities_test(
    logits_of,
    lesson="the model's outputs are probabilities (non-negative rows summing to 1): the last "
    "Dense layer takes no activation",
)

test_create_model_computes_the_tutorials_function = (
    shared_tests.computes_the_tutorials_function_test(
        logits_of,
        problem="with the reference's trained weights and statistics, your model's "
        "probabilities differ by up to {worst:.3g}: check that Standardize computes (x - mean) "
        "/ (deviation + epsilon), then the layer order, 'same' padding and the activations",
    )
)

from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_trains_like_the_reference,
    test_create_model_trains_from_its_own_initial_weights,
)


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_a_keras_file_where_it_is_told(student, trained_copy, tmp_path):
    keras_file = tmp_path / "elsewhere" / "resume-here.keras"
    keras_file.parent.mkdir()
    student.save(keras_file=str(keras_file), model=trained_copy())
    assert keras_file.is_file() and zipfile.is_zipfile(keras_file), (
        f"save was given keras_file={keras_file.name!r} (in a folder of its own) and wrote "
        f"{'a folder' if keras_file.is_dir() else 'no zip' if keras_file.exists() else 'nothing'} "
        "there: write the .keras file at the path given, with model.save(keras_file)"
    )
    with zipfile.ZipFile(keras_file) as archive:
        names = set(archive.namelist())
    assert {"config.json", "model.weights.h5"} <= names, (
        f"the .keras file holds {sorted(names)}: model.save(keras_file) writes the config and "
        "the weights (save_weights writes only weights, export a SavedModel)"
    )


@pytest.mark.function("save")
def test_save_config_names_the_layer_by_its_registered_name(student_export):
    config = read_config(keras_file_in(student_export().directory))
    found = [entry for entry in objects_in(config) if entry.get("class_name") == "Standardize"]
    assert [entry.get("registered_name") for entry in found] == [STANDARDIZE], (
        f"config.json names Standardize {len(found)} time(s), registered as "
        f"{[entry.get('registered_name') for entry in found]}; expected once, as {STANDARDIZE!r}: "
        "save the model itself with model.save(keras_file)"
    )


@pytest.mark.function("save")
def test_save_file_reloads_in_a_fresh_process_as_the_trained_model(
    student_export, reference, reload_process, before_save, mnist, trained_snapshot
):
    keras_file = keras_file_in(student_export().directory)  # first: a stub fails here
    logits, fixed = reloaded_elsewhere(
        reload_process,
        Path(reference.__file__),
        keras_file,
        mnist.test_images,
        "The file your save wrote",
    )
    worst = float(np.max(np.abs(softmax(logits) - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"reloaded in a fresh process, the file your save wrote predicts other probabilities "
        f"(by up to {worst:.3g}) than the trained model: save the model you are given, weights "
        "and all (model.save(keras_file); never a clone, never a new model)"
    )
    trained = sorted(float(trained_snapshot[k]) for k in trained_snapshot if k.startswith("fixed/"))
    assert sorted(fixed.values()) == trained, (
        f"reloaded, the statistics are {fixed}, not the trained model's {trained}"
    )


@pytest.mark.function("save")
def test_save_keras_file_resumes_training_with_its_optimizer_state(
    student_export, reference_trained, mnist
):
    iterations = int(reference_trained.model.optimizer.iterations.numpy())
    restored = keras.saving.load_model(keras_file_in(student_export().directory))
    assert restored.optimizer is not None and int(restored.optimizer.iterations) == iterations, (
        "the .keras file has no optimizer state: save the trained, compiled model with "
        "model.save(keras_file)"
    )
    restored.train_on_batch(mnist.train_images[:32], mnist.train_labels[:32])
    assert int(restored.optimizer.iterations) == iterations + 1


@pytest.mark.function("save")
def test_save_saves_each_model_it_is_given(student, trained_copy, tmp_path, mnist):
    images = mnist.test_images[:200]
    other = trained_copy()
    other.layers[0].mean.assign(0.5)  # other statistics, same class: a kept model shows
    for number, model in enumerate((trained_copy(), other)):
        keras_file = tmp_path / f"model-{number}.keras"
        student.save(model, str(keras_file))
        reloaded = keras.saving.load_model(keras_file)
        worst = float(np.max(np.abs(softmax(reloaded(images)) - softmax(model(images)))))
        assert worst <= PROBABILITY_TOLERANCE, (
            f"save was called for two models in turn; the file of the "
            f"{('first', 'second')[number]} predicts other probabilities (by up to {worst:.3g}) "
            "than that model: save the model you are given, each call"
        )


# --- load_signature_tensors: the malicious files ---------------------------------

PAYLOAD_MODULE = "keras_helpers_payload"  # its name holds "keras": a substring check passes it


class MarkerWriter(tf.saved_model.experimental.TrackableResource):
    """A resource whose initializer writes `marker`: a SavedModel holding it writes the marker
    as tf.saved_model.load runs its initializers (before any signature is called)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def _create_resource(self):
        return tf.raw_ops.VarHandleOp(dtype=tf.int64, shape=[])

    def _initialize(self):
        tf.io.write_file(self.marker, "written at load time")


def marker_writing_saved_model(directory: Path, marker: Path, secret: Path) -> Path:
    """A SavedModel whose loading writes `marker` and whose signature reads `secret` and writes
    the marker again (ReadFile and WriteFile, in its function library)."""
    module = tf.Module()
    module.writer = MarkerWriter(str(marker))

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")])
    def serve(input):
        tf.io.write_file(str(marker), tf.io.read_file(str(secret)))
        return {"output_0": tf.reshape(input, [-1, 784])[:, :10]}

    module.serve = serve
    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve})
    return directory


def checkpoint_writing_saved_model(directory: Path, prefix: Path) -> Path:
    """A SavedModel whose signature writes a checkpoint at `prefix` (SaveV2: the op every
    SavedModel's saver holds, which writes any path it is given). Its function is named as the
    saver's are (__inference__traced_save_<n>): only what calls it tells them apart."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")])
    def _traced_save(input):
        written = tf.raw_ops.SaveV2(
            prefix=str(prefix), tensor_names=["x"], shape_and_slices=[""], tensors=[input]
        )
        with tf.control_dependencies([written]):
            return {"output_0": tf.identity(tf.reshape(input, [-1, 784])[:, :10])}

    module.serve = _traced_save
    tf.saved_model.save(module, str(directory), signatures={"serving_default": _traced_save})
    return directory


def restoring_v1_saved_model(directory: Path, prefix: Path) -> Path:
    """A TF1 SavedModel (no object graph) whose saver_def's restore op calls a function writing
    a checkpoint at `prefix` (SaveV2): tf.saved_model.load runs it to restore the variables."""
    quiet = logging.getLogger("tensorflow")  # TF1's deprecation notes are not the test's news
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with tf.Graph().as_default():
            images = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1], name="input")
            logits = tf.identity(tf.reshape(images, [-1, 784])[:, :10], name="output")
            filename = tf.compat.v1.placeholder(tf.string, [], name="saver_filename")

            @tf.function
            def restore(name):
                written = tf.raw_ops.SaveV2(
                    prefix=str(prefix), tensor_names=["x"], shape_and_slices=[""], tensors=[name]
                )
                with tf.control_dependencies([written]):
                    return tf.identity(name)

            saver_def = saver_pb2.SaverDef(
                filename_tensor_name=filename.name,
                save_tensor_name=tf.identity(filename, name="saved").name,
                restore_op_name=restore(filename).name,
                version=saver_pb2.SaverDef.V2,
            )
            with tf.compat.v1.Session() as session:
                builder = tf.compat.v1.saved_model.Builder(str(directory))
                signature = tf.compat.v1.saved_model.predict_signature_def(
                    {"input": images}, {"output_0": logits}
                )
                builder.add_meta_graph_and_variables(
                    session,
                    ["serve"],
                    signature_def_map={"serving_default": signature},
                    saver=tf.compat.v1.train.Saver(saver_def=saver_def),
                )
                builder.save()
    finally:
        quiet.setLevel(level)
    return directory


def printing_saved_model(directory: Path) -> Path:
    """A SavedModel whose signature prints its input (PrintV2): it reads and writes no file."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")])
    def serve(input):
        tf.print(input)
        return {"output_0": tf.reshape(input, [-1, 784])[:, :10]}

    module.serve = serve
    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve})
    return directory


def listing_saved_model(directory: Path, folder: Path) -> Path:
    """A SavedModel whose signature lists the files of `folder` (MatchingFiles), an op no
    default denylist names: it reads no file, writes none, prints nothing."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")])
    def serve(input):
        found = tf.cast(tf.size(tf.io.matching_files(str(folder / "*"))), tf.float32)
        return {"output_0": tf.reshape(input, [-1, 784])[:, :10] + found}

    module.serve = serve
    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve})
    return directory


@keras.saving.register_keras_serializable(package="kata_tests")
class SafeModeProbe(keras.layers.Layer):
    """A layer the tests trust: it records whether Keras rebuilt it in safe mode, and writes
    `marker` (when set) as it is rebuilt; it passes its input on."""

    rebuilt_in_safe_mode: typing.ClassVar[list[bool | None]] = []
    marker: Path | None = None

    @classmethod
    def from_config(cls, config):
        cls.rebuilt_in_safe_mode.append(serialization_lib.in_safe_mode())
        if cls.marker is not None:
            cls.marker.write_text("rebuilt")
        return cls(**config)

    def call(self, inputs):
        return inputs


@keras.saving.register_keras_serializable(package="kata_tests")
class MarkerInitializer(keras.initializers.Initializer):
    """An initializer the tests registered: it writes SafeModeProbe.marker (when set) as it is
    called, and gives zeros."""

    def __call__(self, shape, dtype=None):
        if SafeModeProbe.marker is not None:
            SafeModeProbe.marker.write_text("initialized")
        return keras.ops.zeros(shape, dtype=dtype)


MARKER_INITIALIZER = "kata_tests>MarkerInitializer"


def with_probe() -> keras.Model:
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            SafeModeProbe(),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )


def rewrite_config(keras_file: Path, change) -> None:
    """`change(config)` edits config.json inside the zip; the other members are kept."""
    with zipfile.ZipFile(keras_file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(keras_file, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


class Attack:
    """A test-made file, the marker its code writes, what a refusal must name, and where a
    loader that lets it through should look."""

    def __init__(self, path: Path, marker: Path, names: str, look: str) -> None:
        self.path, self.marker, self.names, self.look = path, marker, names, look


def make_attacks(folder: Path) -> dict[str, Attack]:
    secret = folder / "secret.txt"
    secret.write_text("not yours to read")
    attacks = {}

    marker = folder / "savedmodel.marker"
    attacks["tf-export-reading-and-writing-files"] = Attack(
        marker_writing_saved_model(folder / "writes-files", marker, secret),
        marker,
        "WriteFile",
        "its signature reads and writes files (ReadFile, WriteFile, in the function library: "
        "check graph_def.library.function's node_def too, not only graph_def.node), and its "
        "initializer writes one as tf.saved_model.load runs it. Read saved_model.pb as a proto "
        "before loading anything (saved_model_cli scan exits 0 whatever it finds: its exit "
        "status says nothing)",
    )
    attacks["tf-export-writing-a-checkpoint"] = Attack(
        checkpoint_writing_saved_model(folder / "saves", folder / "saves.marker"),
        folder / "saves.marker.index",
        "SaveV2",
        "its signature writes a checkpoint where it likes (SaveV2), an op every SavedModel "
        "holds for its saver: allow the saver's ops (SAVER_OPS) only in functions nothing that "
        "loading or calling runs reaches (the object graph's functions, the graph's nodes but "
        "the two saver_def names, and all they call), never everywhere, never by a name",
    )
    attacks["tf-export-v1-restoring-through-its-checkpoint-ops"] = Attack(
        restoring_v1_saved_model(folder / "restores", folder / "restores.marker"),
        folder / "restores.marker.index",
        "SaveV2",
        "a TF1 SavedModel (no object graph): tf.saved_model.load restores it by running its "
        "saver_def's restore op, whose function writes a checkpoint (SaveV2). Its saver's "
        "functions run: without an object graph, no function may hold SAVER_OPS",
    )
    attacks["tf-export-printing"] = Attack(
        printing_saved_model(folder / "prints"),
        folder / "prints.marker",
        "PrintV2",
        "its signature prints (PrintV2): allow only the ops a classifier needs, not only "
        "'no file ops'",
    )
    attacks["tf-export-listing-files"] = Attack(
        listing_saved_model(folder / "lists", folder),
        folder / "lists.marker",
        "MatchingFiles",
        "its signature lists your files (MatchingFiles), which no default denylist names "
        "(saved_model_cli's is ReadFile, WriteFile, PrintV2): allow only the ops a classifier "
        "needs, CLASSIFIER_OPS, never a denylist",
    )

    marker = folder / "lambda.marker"
    code = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")
    nested = keras.Sequential([keras.layers.Lambda(code)])
    model = keras.Sequential(
        [keras.Input(shape=(28, 28, 1)), nested, keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.save(folder / "lambda.keras")
    attacks["lambda-in-a-nested-model"] = Attack(
        folder / "lambda.keras",
        marker,
        "Lambda",
        "a Lambda layer (Python bytecode) inside a nested Sequential: walk every dict of the "
        "config at every depth, not only the top-level layers, and refuse Lambda",
    )

    marker = folder / "payload.marker"
    (folder / f"{PAYLOAD_MODULE}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "def GlorotUniform(**config):\n"
        f"    Path({str(marker)!r}).write_text('called')\n"
    )
    keras_own_model().save(folder / "module-function.keras")

    def point_an_initializer_at_the_payload(config):
        dense = config["config"]["layers"][-1]
        dense["config"]["kernel_initializer"] = {
            "module": PAYLOAD_MODULE,
            "class_name": "GlorotUniform",
            "config": {},
            "registered_name": "GlorotUniform",  # no '>': no registry finds it
        }

    rewrite_config(folder / "module-function.keras", point_an_initializer_at_the_payload)
    attacks["module-function-in-an-initializer"] = Attack(
        folder / "module-function.keras",
        marker,
        PAYLOAD_MODULE,
        f"a Dense layer's kernel_initializer names module {PAYLOAD_MODULE!r} (CVE-2025-1550's "
        "shape): judge every nested object, by its module: Keras' own is module == 'keras' or "
        "module.startswith('keras.'), never 'keras' in module, never the class name alone; "
        "its registered_name 'GlorotUniform' is no licence: only a name in `allowed` is",
    )

    marker = folder / "tfsm.marker"
    inner = marker_writing_saved_model(folder / "tfsm-target", marker, secret)
    layer = keras.layers.TFSMLayer(str(inner), call_endpoint="serving_default")
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.Sequential([layer])])
    model.save(folder / "tfsm.keras")
    attacks["tfsm-layer-in-a-nested-model"] = Attack(
        folder / "tfsm.keras",
        marker,
        "TFSMLayer",
        "a TFSMLayer inside a nested Sequential loads a SavedModel of its own (CVE-2026-1462's "
        "shape): it is in keras.layers, and still refused",
    )

    marker = folder / "probe.marker"
    with_probe().save(folder / "not-allowed.keras")
    attacks["custom-object-not-allowed"] = Attack(
        folder / "not-allowed.keras",
        marker,
        PROBE,
        f"its layer {PROBE!r} is registered in this process but not in `allowed`: refuse every "
        "registered name that is not allowed (Keras would rebuild it, running its code)",
    )
    marker = folder / "by-class-name.marker"
    with_probe().save(folder / "by-class-name.keras")

    def name_the_probe_by_its_class_name_only(config):
        (probe,) = [e for e in config["config"]["layers"] if e["class_name"] == "SafeModeProbe"]
        probe.update({"class_name": PROBE, "module": "keras.layers"})
        del probe["registered_name"]  # Keras then takes the class_name for it

    rewrite_config(folder / "by-class-name.keras", name_the_probe_by_its_class_name_only)
    attacks["registered-name-as-a-class-name"] = Attack(
        folder / "by-class-name.keras",
        marker,
        PROBE,
        f"a layer with class_name {PROBE!r}, module 'keras.layers' and no registered_name: "
        "Keras looks every name up in the registry of custom objects first, whatever the module "
        "says. Refuse every string of the config with a '>' (or that is a key of "
        "keras.saving.get_custom_objects()) that is not in `allowed`, not only registered_name",
    )

    marker = folder / "bare-string.marker"
    keras_own_model().save(folder / "bare-string.keras")

    def name_an_initializer_by_a_bare_string(config):
        config["config"]["layers"][-1]["config"]["kernel_initializer"] = MARKER_INITIALIZER

    rewrite_config(folder / "bare-string.keras", name_an_initializer_by_a_bare_string)
    attacks["registered-initializer-as-a-bare-string"] = Attack(
        folder / "bare-string.keras",
        marker,
        MARKER_INITIALIZER,
        f"a Dense layer's kernel_initializer is the bare string {MARKER_INITIALIZER!r}, no dict, "
        "no class_name: Keras finds it in the registry of custom objects and calls it as the "
        "layer is built. Refuse every string of the config with a '>' (or that is a key of "
        "keras.saving.get_custom_objects()) that is not in `allowed`",
    )

    marker = folder / "polyglot.marker"
    polyglot = folder / "polyglot.h5"
    quiet = logging.getLogger("absl")  # Keras' legacy-format warning is not the test's news
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with_probe().save(polyglot)  # HDF5, Keras' legacy format
    finally:
        quiet.setLevel(level)
    keras_own_model().save(folder / "innocent.keras")
    # A zip is read from its end, HDF5 from its start: the file is both.
    polyglot.write_bytes(polyglot.read_bytes() + (folder / "innocent.keras").read_bytes())
    attacks["hdf5-that-is-also-a-zip"] = Attack(
        polyglot,
        marker,
        ".h5",
        "an .h5 file that is also a zip: its config.json names Keras' own layers only, but "
        "load_model reads a file by its suffix, an .h5 as HDF5, whose model config rebuilds "
        f"{PROBE!r}. Read as the zip checked only a path ending in '.keras'; refuse the rest",
    )

    for attack in attacks.values():
        attack.marker.unlink(missing_ok=True)  # building some of them ran their code here
    return attacks


@pytest.fixture(scope="module")
def attacks(tmp_path_factory) -> dict[str, Attack]:
    return make_attacks(tmp_path_factory.mktemp("attacks"))


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize(
    "case",
    [
        "lambda-in-a-nested-model",
        "module-function-in-an-initializer",
        "tfsm-layer-in-a-nested-model",
        "custom-object-not-allowed",
        "registered-name-as-a-class-name",
        "registered-initializer-as-a-bare-string",
        "hdf5-that-is-also-a-zip",
        "tf-export-reading-and-writing-files",
        "tf-export-printing",
        "tf-export-listing-files",
        "tf-export-writing-a-checkpoint",
        "tf-export-v1-restoring-through-its-checkpoint-ops",
    ],
)
def test_load_signature_tensors_refuses_before_anything_runs(student, attacks, monkeypatch, case):
    attack = attacks[case]
    attack.marker.unlink(missing_ok=True)  # an earlier run's code under test may have written it
    monkeypatch.syspath_prepend(str(attack.path.parent))  # the payload module is importable
    SafeModeProbe.marker = attack.marker
    try:
        loaded = student.load_signature_tensors(str(attack.path))
    except StudentError as error:
        if error.failure == Failure.NOT_IMPLEMENTED:
            raise
        refusal = str(error)
    else:
        refusal = None
        del loaded
    finally:
        SafeModeProbe.marker = None
        sys.modules.pop(PAYLOAD_MODULE, None)
    what = f"a test-made {'SavedModel' if attack.path.is_dir() else '.keras file'} ({case})"
    assert not attack.marker.exists(), (
        f"loading {what} ran its code: the marker {attack.marker.name} appeared. Look before "
        f"you load, and never with safe_mode=False: {attack.look}"
    )
    assert refusal is not None, f"{what} was loaded, not refused: {attack.look}"
    first = refusal.splitlines()[0][:500]
    assert "UnsafeModelError" in first, (
        f"{what} was refused, but not by your check: {first}\nThat is Keras' own guard (or an "
        f"accident). Raise UnsafeModelError before loading: {attack.look}"
    )
    assert attack.names.lower() in refusal.lower(), (
        f"your UnsafeModelError for {what} does not name what it found ({attack.names!r}): {first}"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_rebuilds_an_allowed_layer_in_safe_mode(student, tmp_path, mnist):
    model = with_probe()
    keras_file = tmp_path / "probe.keras"
    model.save(keras_file)
    SafeModeProbe.rebuilt_in_safe_mode.clear()
    try:
        loaded = student.load_signature_tensors(str(keras_file), allowed=(PROBE,))
    except StudentError as error:
        not_implemented_or(
            error,
            f"a .keras file with a layer registered as {PROBE!r}, loaded with "
            f"allowed=({PROBE!r},), was refused: allow every registered name in `allowed`, "
            "besides Keras' own",
        )
    assert SafeModeProbe.rebuilt_in_safe_mode == [True], (
        f"Keras rebuilt the allowed layer with safe mode {SafeModeProbe.rebuilt_in_safe_mode}: "
        "load with keras.saving.load_model(path, safe_mode=True), never safe_mode=False (the "
        "check narrows what loads, safe mode still guards what it does not know)"
    )
    images = mnist.test_images[:100]
    worst = float(np.max(np.abs(softmax(loaded["model"](images)) - softmax(model(images)))))
    assert worst <= PROBABILITY_TOLERANCE and "SafeModeProbe" in loaded["checked"], (
        f"the model loaded predicts other probabilities (by {worst:.3g}) or 'checked' "
        f"{loaded['checked']} misses SafeModeProbe"
    )


def check_loaded(loaded, format: str) -> None:
    assert isinstance(loaded, dict) and {"model", "format", "checked"} <= set(loaded), (
        f"load_signature_tensors returned {type(loaded).__name__} "
        f"{sorted(loaded) if isinstance(loaded, dict) else ''}; expected a dict with 'model', "
        "'format' and 'checked'"
    )
    assert loaded["format"] == format, f"'format' is {loaded['format']!r}, expected {format!r}"


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_loads_the_kata_model_after_checking_every_layer(
    student, reference_export, before_save, mnist
):
    loaded = student.load_signature_tensors(str(keras_file_in(reference_export.directory)))
    check_loaded(loaded, "keras")
    missing = LAYER_CLASSES - set(loaded["checked"])
    assert not missing, (
        f"'checked' is {loaded['checked']}: it misses {sorted(missing)}, classes the file's "
        "config names. Return the sorted class names of every object the check read"
    )
    probabilities = softmax(logits_of(loaded["model"], mnist.test_images))
    worst = float(np.max(np.abs(probabilities - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"the model loaded predicts other probabilities (by up to {worst:.3g}) than the "
        "trained one: return keras.saving.load_model(path, safe_mode=True)'s model"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_refuses_the_kata_layer_unless_allowed(student, reference_export):
    path = str(keras_file_in(reference_export.directory))
    try:
        student.load_signature_tensors(path=path, allowed=())
    except StudentError as error:
        if error.failure == Failure.NOT_IMPLEMENTED:
            raise
        assert "UnsafeModelError" in str(error) and STANDARDIZE in str(error), (
            f"with allowed=(), the kata's model was refused, but not naming {STANDARDIZE!r} "
            f"with an UnsafeModelError: {str(error).splitlines()[0]}"
        )
        return
    pytest.fail(
        f"with allowed=(), the kata's model was loaded: {STANDARDIZE!r} is not Keras' own. "
        "Trust only the registered names in `allowed` (the argument, not a constant)",
        pytrace=False,
    )


def functional_model(seed: int = 6):
    """Keras' own layers, as a functional model: its config holds tensors (__keras_tensor__)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(28, 28, 1))
    hidden = keras.layers.Dense(32, activation="relu")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(10)(hidden))


KERAS_OWN_MODELS = {
    "exercise 3's network, compiled (Adam, a loss)": keras_own_model,
    "a functional model": functional_model,
}


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_loads_keras_own_layers_with_nothing_else_allowed(
    student, tmp_path, mnist
):
    images = mnist.test_images[:200]
    for number, (what, build) in enumerate(KERAS_OWN_MODELS.items()):
        model = build()
        if number == 0:
            model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
            model.optimizer.build(model.trainable_variables)  # its state is saved too
        keras_file = tmp_path / f"keras-own-{number}.keras"
        model.save(keras_file)
        try:
            loaded = student.load_signature_tensors(path=str(keras_file), allowed=())
        except StudentError as error:
            not_implemented_or(
                error,
                f"a .keras file of Keras' own layers ({what}) was refused with allowed=(): "
                "Keras' own objects (module 'keras' or 'keras.<...>') are always allowed, and "
                "so is what Keras writes as data (a functional model's '__keras_tensor__')",
            )
        check_loaded(loaded, "keras")
        predicted = softmax(loaded["model"](images))
        worst = float(np.max(np.abs(predicted - softmax(model(images)))))
        assert worst <= PROBABILITY_TOLERANCE, (
            f"the model loaded from a file of {what} predicts other probabilities (by up to "
            f"{worst:.3g}) than the file's"
        )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_loads_a_classifiers_tf_export_after_checking_its_ops(
    student, trained_copy, tmp_path, before_save, mnist
):
    export_dir = tmp_path / "exported"
    trained_copy().export(str(export_dir), verbose=False)
    try:
        loaded = student.load_signature_tensors(str(export_dir))
    except StudentError as error:
        not_implemented_or(
            error,
            "the kata's classifier exported with model.export (a SavedModel folder) was "
            "refused: allow the ops a classifier needs (CLASSIFIER_OPS), in the graph and its "
            "function library",
        )
    check_loaded(loaded, "savedmodel")
    missing = CLASSIFIER_OPS - set(loaded["checked"])
    assert not missing, (
        f"'checked' is {loaded['checked']}: it misses the ops {sorted(missing)} of the "
        "network's function. Read every function of graph_def.library, not only graph_def.node"
    )
    signature = loaded["model"]
    (name,) = signature.structured_input_signature[1]
    (logits,) = signature(**{name: tf.constant(mnist.test_images)}).values()
    worst = float(np.max(np.abs(softmax(logits) - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"the 'serving_default' signature returned predicts other probabilities (by up to "
        f"{worst:.3g}) than the exported model"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_reads_a_file_rewritten_at_the_same_path(
    student, reference, reference_export, trained_copy, tmp_path, mnist
):
    path = tmp_path / "served.keras"
    images = mnist.test_images[:200]
    other = trained_copy()
    other.layers[0].deviation.assign(0.9)
    for number, model in enumerate((trained_copy(), other)):
        reference.save(model, str(path))
        loaded = student.load_signature_tensors(str(path))
        worst = float(np.max(np.abs(softmax(loaded["model"](images)) - softmax(model(images)))))
        assert worst <= PROBABILITY_TOLERANCE, (
            f"{'rewritten with another model and ' if number else ''}loaded, the file gives "
            f"a model predicting other probabilities (by up to {worst:.3g}) than the file's: "
            "read and check the path anew on every call"
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
