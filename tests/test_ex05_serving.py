"""Tests of exercise 5: the serving contract (client inputs, answers, assets, version folders).

Each test grades one function (its `function` mark) and takes the other
three from solutions/. The classifier is exercise 2's reference, trained
once by the shared fixtures through the `serving` kind (savedmodel_kata/kinds/serving.py,
which reuses exercise 2's training and cache); every test wraps a private
copy of it.

Tolerances: probabilities through a signature are compared with the
classifier's on the same pixels scaled by hand (uint8 -> float32 / 255, a
channel axis added) at PROBABILITY_TOLERANCE (plugin/checks.py), absolute:
the bundled digits are exactly k/255, so `cast / 255` gives the training
images bit for bit. Other correct ways to scale (`* (1 / 255)`,
`tf.image.convert_image_dtype`) differ by at most 6e-8 per pixel, which
moves the probabilities by up to 9.2e-7 on the first 500 test digits (1.6e-6
on all 2,000); other ways to compute the softmax (exp of log_softmax, exp
over its sum, float64 then cast) by up to 3.0e-7 on all 2,000. Digits and
labels are compared exactly, accuracies as counts of digits.

Subprocesses: the real `saved_model_cli show --all` and `saved_model_cli
run` (each imports TensorFlow: about 4 s) run at the same time, once per
module, on a copy of the export moved elsewhere, the original and its
labels file deleted; they start once that copy has answered in the fresh
process and are read by the module's last two tests, so their imports
overlap the tests between; the shared fresh process (`python -I`) reloads
moved exports too. A signature's declared inputs are checked before it is
called with a client's batch: a reloaded signature does not check shapes,
and a [N, 28, 28] batch reaching a convolution declared for [N, 28, 28, 1]
can abort the whole process (oneDNN's CHECK), which would cost the run
instead of one test.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from savedmodel_kata.errors import StudentError
from savedmodel_kata.kinds.serving import client_pixels, write_labels
from savedmodel_kata.plugin.checks import (
    PROBABILITY_TOLERANCE,
    SAVED_MODEL_INIT_OP,
    check_accuracy,
    check_counts_correct,
    check_end_to_end,
    check_the_loaded_objects_own_signature,
    examples,
    read_saved_model,
    shape_of,
)
from savedmodel_kata.plugin.fresh_process import FreshProcessError
from savedmodel_kata.results import Failure
from savedmodel_kata.tensorflow_setup import import_tensorflow

tf = import_tensorflow()

# French labels for the exports the tests make, German ones written over an exported asset:
# labels that change with the file in assets/ are read from the asset. The French ones hold a
# space each: a label is its whole line, which a split on whitespace would cut.
LABELS = tuple(
    f"chiffre {name}"
    for name in ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf")
)
EDITED_LABELS = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun")
OUTPUTS = {
    "digit": (tf.int64, [-1]),
    "probabilities": (tf.float32, [-1, 10]),
    "label": (tf.string, [-1]),
}
EXPECTED_SIGNATURES = {
    "serving_default": ({"pixels": (tf.uint8, [-1, 28, 28])}, OUTPUTS),
    "classify_png": ({"png": (tf.string, [-1])}, OUTPUTS),
}
INPUT_LESSONS = {
    "serving_default": (
        "Clients send raw pixels: declare tf.TensorSpec([None, 28, 28], tf.uint8, name='pixels') "
        "and cast, scale and add the channel axis inside the function."
    ),
    "classify_png": (
        "A batch of PNG files is a batch of scalar strings: "
        "tf.TensorSpec([None], tf.string, name='png')."
    ),
}
OUTPUT_LESSONS = {
    "digit": "the digit is tf.argmax(logits, axis=1), int64 (not the probabilities, not int32)",
    "probabilities": "tf.nn.softmax of the logits, one row of 10 per image",
    "label": "one string per image, looked up from the digit",
}
ASSET_LESSON = (
    "Read the labels through a tf.saved_model.Asset (or give the path to a "
    "tf.lookup.TextFileInitializer): the file is copied into assets/ and found again wherever "
    "the export goes."
)
NUMPY_FUNCTION_LESSON = (
    "Python code run through tf.numpy_function or tf.py_function is not saved: another process "
    "(a server, saved_model_cli) cannot run it. Write the preprocessing with TensorFlow ops."
)
PNG_LESSON = (
    "Decode each PNG with tf.io.decode_png(one, channels=1) inside tf.map_fn "
    "(fn_output_signature uint8), so grayscale and colour files alike become [28, 28, 1], then "
    "reshape the batch to [-1, 28, 28]."
)
SCALING_LESSON = (
    "The classifier was trained on [0, 1] images: cast to float32 and divide by 255 (so 255 "
    "becomes 1.0) inside the signature, once."
)
OTHER_NAMES = ("tmp", "latest", "v999", "998.partial")
# A version folder's proto, binary or text: both loaders (and TensorFlow Serving) read either.
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
SUBPROCESS_TIMEOUT = 300  # a safety net, never a measure: a hung command fails, not the run


# --- helpers -----------------------------------------------------------------


def labels_answered(description, pixels) -> tuple[list[str], np.ndarray]:
    """The labels and digits the described function answers for the first ten digits."""
    outputs = description["function"](pixels=tf.constant(pixels[:10]))
    return decoded(outputs["label"].numpy()), outputs["digit"].numpy()


def decoded(labels) -> list[str]:
    return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in labels]


def png_bytes(pixels: np.ndarray, colour: bool = False) -> bytes:
    """One [28, 28] uint8 digit as the bytes of a PNG file (grayscale, or RGB with R = G = B)."""
    image = pixels[..., np.newaxis]
    if colour:
        image = np.repeat(image, 3, axis=-1)
    return tf.io.encode_png(image).numpy()


def one_line(error) -> str:
    """The line of an error that says what happened (TensorFlow's first is often generic)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    for line in lines:
        if re.search(r"No such file|not found|Could not find|NotFound|callback", line):
            return line[:300]
    telling = [line for line in lines if not line.startswith(("Graph execution", "File ", "["))]
    return (telling or lines or [repr(error)])[0][:300]


def run_lesson(text: str) -> str:
    """What an error met while running an export teaches."""
    if re.search(r"No such file|NotFound", text):
        return (
            "The graph reads the labels file by the path it had on your machine, which no "
            "longer exists. " + ASSET_LESSON
        )
    if re.search(r"pyfunc|PyFunc|py_function|numpy_function|callback", text):
        return NUMPY_FUNCTION_LESSON
    if "Check failed" in text:
        return (
            "The batch a client sends reached a kernel written for another shape. "
            + (INPUT_LESSONS["serving_default"])
        )
    return "Everything a signature needs must be in the graph, its variables and its assets."


def signature_table(export_dir) -> dict:
    """{key: ({input: (dtype, shape)}, {output: (dtype, shape)})}, read from saved_model.pb."""
    table = {}
    for key, signature in read_saved_model(export_dir).meta_graphs[0].signature_def.items():
        if key != SAVED_MODEL_INIT_OP:
            table[key] = tuple(
                {
                    name: (tf.dtypes.as_dtype(info.dtype), shape_of(info))
                    for name, info in getattr(signature, side).items()
                }
                for side in ("inputs", "outputs")
            )
    return table


def compare_signatures(found: dict, where: str) -> None:
    """Both signatures, with the contract's inputs and outputs (dtypes and shapes)."""
    for key, (inputs, outputs) in EXPECTED_SIGNATURES.items():
        assert key in found, f"{where} has no signature {key!r} (it has {sorted(found)})"
        found_inputs, found_outputs = found[key]
        assert found_inputs == inputs, (
            f"{where}: signature {key!r} takes {described(found_inputs)}; expected "
            f"{described(inputs)}. {INPUT_LESSONS[key]}"
        )
        assert set(found_outputs) == set(outputs), (
            f"{where}: signature {key!r} returns {sorted(found_outputs)}; expected "
            f"{sorted(outputs)}: return a dict with exactly these keys"
        )
        for name, expected in outputs.items():
            assert found_outputs[name] == expected, (
                f"{where}: {key!r} output {name!r} is {described({name: found_outputs[name]})}; "
                f"expected {described({name: expected})}: {OUTPUT_LESSONS[name]}"
            )


def described(specs: dict) -> str:
    return ", ".join(f"{name!r} {dtype.name} {shape}" for name, (dtype, shape) in specs.items())


def check_accepts(function, key: str, inputs: dict) -> None:
    """Fail unless the signature declares these inputs with compatible dtypes and shapes
    (a reloaded signature does not check shapes itself: see the module's docstring)."""
    _, specs = function.structured_input_signature
    for name, value in inputs.items():
        spec, value = specs.get(name), tf.constant(value)
        if spec is None or not spec.is_compatible_with(value):
            declared = {
                n: (s.dtype, [-1 if d is None else d for d in s.shape]) for n, s in specs.items()
            }
            pytest.fail(
                f"signature {key!r} declares inputs {described(declared)}; a client sends "
                f"{name!r} as {value.dtype.name} {value.shape.as_list()}. {INPUT_LESSONS[key]}",
                pytrace=False,
            )


def load_export(export_dir):
    try:
        return tf.saved_model.load(str(export_dir))
    except (tf.errors.OpError, ValueError, OSError) as error:
        pytest.fail(
            f"loading the export failed: {type(error).__name__}: {one_line(error)}\n"
            + run_lesson(str(error)),
            pytrace=False,
        )


def call_signature(loaded, key: str, **inputs) -> dict:
    """A reloaded signature's answers, as numpy; a missing signature, wrong inputs or an error
    in the graph fail with a lesson."""
    if key not in loaded.signatures:
        pytest.fail(
            f"the export has no signature {key!r} (it has {sorted(loaded.signatures)})",
            pytrace=False,
        )
    check_accepts(loaded.signatures[key], key, inputs)
    try:
        outputs = loaded.signatures[key](**{n: tf.constant(v) for n, v in inputs.items()})
    except (tf.errors.OpError, ValueError, TypeError) as error:
        lesson = PNG_LESSON if key == "classify_png" else run_lesson(str(error))
        pytest.fail(
            f"the reloaded {key!r} signature failed: {type(error).__name__}: {one_line(error)}\n"
            + lesson,
            pytrace=False,
        )
    missing = sorted(set(OUTPUTS) - set(outputs))
    if missing:
        pytest.fail(
            f"the reloaded {key!r} signature returns {sorted(outputs)}: {missing} missing. Return "
            "a dict with the keys 'digit', 'probabilities' and 'label'.",
            pytrace=False,
        )
    answers = {name: value.numpy() for name, value in outputs.items()}
    digit = answers["digit"]
    if digit.dtype != np.int64 or digit.ndim != 1:
        pytest.fail(
            f"the reloaded {key!r} signature's 'digit' is {digit.dtype} shaped "
            f"{list(digit.shape)}; expected int64 [N]: {OUTPUT_LESSONS['digit']}",
            pytrace=False,
        )
    return answers


def tree_snapshot(folder: Path) -> dict:
    """Every entry under `folder`: a file's sha256, None for a folder."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        )
        for path in sorted(folder.rglob("*"))
    }


def saved_model_cli() -> list[str]:
    """The console script if it is on PATH, else its module (the same code, the same flags)."""
    found = shutil.which("saved_model_cli")
    return [found] if found else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def parse_show_all(text: str) -> dict:
    """`saved_model_cli show --all` -> {key: ({input: (dtype, shape)}, {output: ...})}."""
    table = {}
    for block in re.split(r"\nsignature_def\['", text)[1:]:
        key, body = block.split("']:", 1)
        if key == SAVED_MODEL_INIT_OP:
            continue
        sides = ({}, {})
        for match in re.finditer(
            r"(inputs|outputs)\['([^']+)'\] tensor_info:\n\s+dtype: DT_(\w+)\n\s+shape: ([^\n]+)",
            body,
        ):
            side, name, dtype, shape = match.groups()
            dims = [int(d) for d in re.findall(r"-?\d+", shape)]
            name_of = {"FLOAT": "float32", "DOUBLE": "float64"}.get(dtype, dtype.lower())
            sides[side == "outputs"][name] = (tf.dtypes.as_dtype(name_of), dims)
        table[key] = sides
    return table


def parse_run(text: str) -> dict:
    """`saved_model_cli run` ("Result for output key K:" then numpy's print) -> {K: text}."""
    pattern = r"Result for output key (\w+):\n(.*?)(?=\nResult for output key |\Z)"
    return {m.group(1): m.group(2) for m in re.finditer(pattern, text, re.S)}


def printed_labels(text: str) -> list[str]:
    """numpy prints a string array as [b'un' b'z\\xc3\\xa9ro' ...]: read each literal back."""
    tokens = re.findall(r"""b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""", text)
    return [ast.literal_eval(token).decode("utf-8") for token in tokens]


def last_error_line(stderr: str) -> str:
    lines = [
        line.strip()
        for line in stderr.strip().splitlines()
        if line.strip() and not re.match(r"^([IWEF]\d{4} |WARNING)", line.strip())
    ]
    aborted = [line for line in stderr.splitlines() if "Check failed" in line]
    telling = [line for line in lines if re.search(r"No such file|Error\b", line)]
    if aborted:
        return "the process aborted: " + aborted[-1].strip()[:300]
    return (telling or lines or ["(no output)"])[-1][:300]


# --- fixtures of this exercise -------------------------------------------------


@pytest.fixture(scope="module")
def pixels(mnist) -> np.ndarray:
    """The test digits as a client has them: uint8 [2000, 28, 28], 0 to 255."""
    return client_pixels(mnist.test_images)


@pytest.fixture(scope="module")
def by_hand(kind, trained_snapshot):
    """The classifier's probabilities on uint8 pixels scaled by hand, as it was trained."""
    classifier = kind.classifier(trained_snapshot)

    def probabilities(pixels, divide_by=255.0):
        """`divide_by` a number, or one per image shaped [N, 1, 1, 1]."""
        images = pixels.astype(np.float32)[..., np.newaxis] / np.asarray(divide_by, np.float32)
        return tf.nn.softmax(classifier(tf.constant(images))).numpy()

    return probabilities


def scaling_cause(probabilities, pixels, by_hand) -> str:
    """'; they are those of pixels <scaled so>' when a usual wrong scaling explains
    `probabilities` (a signature's answers on `pixels`), else ''."""
    highest_of_each = pixels.max(axis=(1, 2)).astype(np.float32)[:, None, None, None]
    divisors = (
        ("not scaled at all", 1.0),
        ("scaled twice", 255.0 * 255.0),
        ("divided by 256 instead of 255", 256.0),
        ("divided by the batch's highest pixel, not by 255", float(pixels.max())),
        ("divided by each image's highest pixel, not by 255", highest_of_each),
    )
    for scaled_so, divide_by in divisors:
        if np.all(np.asarray(divide_by) == 255.0) or probabilities.shape[0] != len(pixels):
            continue  # the right scaling on these pixels: it explains nothing
        worst = np.max(np.abs(probabilities - by_hand(pixels, divide_by)))
        if worst <= PROBABILITY_TOLERANCE:
            return f"; they are those of pixels {scaled_so}"
    return ""


def check_scaled_as_by_hand(probabilities, expected, pixels, by_hand, differ: str, fix: str):
    """Assert that a signature's `probabilities` on `pixels` are `expected`; else `differ`
    (whose differ from what), the scaling that explains them if one does, `fix` and the
    scaling lesson."""
    worst = float(np.max(np.abs(probabilities - expected)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"{differ} by up to {worst:.3g}"
        + scaling_cause(probabilities, pixels, by_hand)
        + fix
        + SCALING_LESSON
    )


def export_students_module(kind, student, reference, trained_snapshot, factory) -> dict:
    """The student's create_model around the trained classifier, exported by the reference's
    save; the labels file is deleted once the export is written."""
    labels_folder = factory.mktemp("labels")
    labels = write_labels(labels_folder, LABELS)
    server = kind.wrap(student.create_model, trained_snapshot, labels)
    try:
        export_dir = Path(reference.save(server, str(factory.mktemp("base") / "digits")))
    except AttributeError as error:
        pytest.fail(
            f"exporting your module failed: {one_line(error)}. save() exports its methods "
            "classify_pixels and classify_png: define both, each a tf.function with an "
            "input_signature.",
            pytrace=False,
        )
    except (TypeError, ValueError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        telling = [line for line in lines if re.match(r"^\w*(Error|Exception)\b", line)]
        pytest.fail(
            f"exporting your module failed while TensorFlow traced its functions: "
            f"{type(error).__name__}: {(telling or lines or [''])[-1][:300]}\nEach function must "
            "trace with its input_signature alone; tf.map_fn needs fn_output_signature when fn "
            "returns another dtype than it receives (decode_png: string in, uint8 out).",
            pytrace=False,
        )
    shutil.rmtree(labels_folder)
    return {"export_dir": export_dir, "labels": labels}


@pytest.fixture(scope="module")
def students_module_export(kind, student, reference, trained_snapshot, tmp_path_factory, memo):
    """For the in-process tests of create_model (the labels file already deleted)."""

    def export():
        return export_students_module(kind, student, reference, trained_snapshot, tmp_path_factory)

    return lambda: memo.remember("students_module_export", export)


@pytest.fixture(scope="module")
def moved_module_export(kind, student, reference, trained_snapshot, tmp_path_factory, memo):
    """Another export of the student's module, copied to another path as version 1 of a new
    base, the original base and labels file deleted, and German labels written over its asset."""

    def move():
        original = export_students_module(
            kind, student, reference, trained_snapshot, tmp_path_factory
        )
        moved = tmp_path_factory.mktemp("moved") / "elsewhere" / "digits" / "1"
        shutil.copytree(original["export_dir"], moved)
        shutil.rmtree(original["export_dir"].parent)
        asset = moved / "assets" / original["labels"].name
        if asset.is_file():
            asset.write_text("\n".join(EDITED_LABELS) + "\n", encoding="utf-8")
        return {"export_dir": moved, "labels": original["labels"], "asset": asset}

    return lambda: memo.remember("moved_module_export", move)


class SavedModelCli:
    """`saved_model_cli show --all` and `run` (serving_default, 20 digits) on the moved export.

    Each is a TensorFlow import (about 4 s of one core): `start()` launches both as soon as
    the moved export has answered in the fresh process (that test calls it), so they import
    while the tests after it run, and the two tests that read them come last in this module.
    A create_model that fails before then costs no CLI process; those two tests start them
    themselves if nothing did."""

    def __init__(self, moved_module_export, pixels, tmp_path_factory):
        self.moved_module_export = moved_module_export
        self.pixels = pixels
        self.tmp_path_factory = tmp_path_factory
        self.started: dict[str, subprocess.Popen] = {}
        self.results: dict[str, tuple[int, str, str]] | None = None

    def start(self) -> None:
        if self.started or self.results is not None:
            return
        export_dir = self.moved_module_export()["export_dir"]
        inputs = signature_table(export_dir).get("serving_default", ({},))[0]
        work = self.tmp_path_factory.mktemp("cli")
        np.save(work / "pixels.npy", self.pixels[:20])
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        commands = {"show": ["show", "--all", "--dir", str(export_dir)]}
        if inputs == EXPECTED_SIGNATURES["serving_default"][0]:  # else `run` would feed it wrongly
            commands["run"] = [
                "run", "--dir", str(export_dir), "--tag_set", "serve",
                "--signature_def", "serving_default", "--inputs", "pixels=pixels.npy",
            ]  # fmt: skip
        for name, arguments in commands.items():
            self.started[name] = subprocess.Popen(
                saved_model_cli() + arguments,
                cwd=work,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

    def __call__(self) -> dict[str, tuple[int, str, str]]:
        """{"show": (returncode, stdout, stderr), "run": ...} once both have ended."""
        if self.results is None:
            self.start()
            self.results = {}
            for name, process in self.started.items():
                try:
                    stdout, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    stdout, stderr = process.communicate()
                    stderr += "\n(no answer: stopped)"
                self.results[name] = (process.returncode, stdout, stderr)
            self.started = {}
        return self.results

    def stop(self) -> None:
        """Started, never read (their tests deselected or skipped): no process outlives us."""
        for process in self.started.values():
            process.kill()
            process.communicate()
        self.started = {}


@pytest.fixture(scope="module")
def saved_model_cli_runs(moved_module_export, pixels, tmp_path_factory):
    cli = SavedModelCli(moved_module_export, pixels, tmp_path_factory)
    yield cli
    cli.stop()


@pytest.fixture(scope="module")
def reference_server(trained_copy):
    """The reference's module around the trained classifier, for save's tests."""
    return trained_copy()


def call_save(student, server, base: Path) -> Path:
    returned = student.save(server, str(base))
    assert isinstance(returned, str), (
        f"save returned {returned!r}; expected the path of the version folder it wrote, as a str"
    )
    assert any((Path(returned) / name).is_file() for name in SAVED_MODEL_FILES), (
        f"save returned {returned!r}, which holds no saved_model.pb: return the version folder "
        "you exported to"
    )
    return Path(returned)


@pytest.fixture(scope="module")
def exports_for_loading(kind, reference, trained_snapshot, tmp_path_factory):
    """Two reference exports told apart by their labels: 'old' (French) and 'new' (German)."""
    made = {}
    for name, labels in (("old", LABELS), ("new", EDITED_LABELS)):
        labels_file = write_labels(tmp_path_factory.mktemp("labels"), labels)
        server = kind.wrap(reference.create_model, trained_snapshot, labels_file)
        made[name] = Path(reference.save(server, str(tmp_path_factory.mktemp(name))))
    return made


def make_base(base: Path, versions, exports: dict) -> Path:
    """A model base whose highest version is the 'new' export; every other version and every
    other name is a copy of the 'old' one, the lowest version modified last."""
    versions = sorted(versions)
    for name in (*OTHER_NAMES, *map(str, versions[:-1])):
        shutil.copytree(exports["old"], base / name)
    shutil.copytree(exports["new"], base / str(versions[-1]))
    future = time.time() + 3600
    os.utime(base / str(versions[0]), (future, future))
    return base


def describe(student, base: Path, key: str = "serving_default") -> dict:
    try:
        description = student.load_signature_tensors(str(base), key)
    except StudentError as error:
        if error.failure != Failure.RAISED:
            raise
        listing = sorted(p.name for p in base.iterdir())
        pytest.fail(
            f"{error}\nThe base holds {listing}: load the highest integer-named folder, not "
            "the base itself, and skip other names.",
            pytrace=False,
        )
    assert isinstance(description, dict) and {
        "inputs",
        "outputs",
        "function",
        "loaded",
        "version",
    } <= set(description), (
        f"load_signature_tensors returned {type(description).__name__}"
        f"{' with keys ' + str(sorted(description)) if isinstance(description, dict) else ''}; "
        "expected a dict with 'inputs', 'outputs', 'function', 'loaded' and 'version'"
    )
    return description


def other_names_export(model, export_dir: Path, input_name: str = "image") -> None:
    """An export by another exporter: 'classify' maps uint8 `input_name` to 'scores' and
    'digit'; labels are the digits as text, no asset."""

    def answers(image):
        logits = model(tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0)
        digit = tf.argmax(logits, axis=1)
        return {"scores": tf.nn.softmax(logits), "digit": digit}

    spec = tf.TensorSpec([None, 28, 28], tf.uint8, name=input_name)
    serve = tf.function(answers, input_signature=[spec])
    tf.saved_model.save(model, str(export_dir), signatures={"classify": serve})


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_returns_a_module_with_the_two_functions(
    kind, student, trained_snapshot, tmp_path_factory
):
    labels = write_labels(tmp_path_factory.mktemp("labels"), LABELS)
    server = kind.wrap(student.create_model, trained_snapshot, labels)
    assert isinstance(server, tf.Module), (
        f"create_model returned {type(server).__name__}; expected a tf.Module, so "
        "tf.saved_model.save finds the classifier's variables, the asset and the table through "
        "its attributes"
    )
    for name in ("classify_pixels", "classify_png"):
        function = getattr(server, name, None)
        assert callable(function), f"the module has no method {name!r}: save() exports it"
        assert getattr(function, "input_signature", None), (
            f"{name} has no input_signature: decorate it with "
            "@tf.function(input_signature=[tf.TensorSpec(...)])"
        )


@pytest.mark.function("create_model")
def test_create_model_signatures_take_client_inputs_and_give_three_answers(
    students_module_export,
):
    compare_signatures(signature_table(students_module_export()["export_dir"]), "the export")


@pytest.mark.function("create_model")
def test_create_model_probabilities_are_the_classifiers_on_pixels_scaled_by_hand(
    students_module_export, pixels, by_hand
):
    loaded = load_export(students_module_export()["export_dir"])
    some = pixels[:500]
    answers = call_signature(loaded, "serving_default", pixels=some)
    probabilities, expected = answers["probabilities"], by_hand(some)
    assert probabilities.shape == expected.shape, (
        f"'probabilities' is shaped {list(probabilities.shape)} for {len(some)} images; "
        f"expected {list(expected.shape)}: {OUTPUT_LESSONS['probabilities']}"
    )
    assert probabilities.min() >= 0 and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4), (
        "'probabilities' rows do not sum to 1: return tf.nn.softmax(logits), not the logits"
    )
    check_scaled_as_by_hand(
        probabilities,
        expected,
        some,
        by_hand,
        "serving_default's probabilities differ from the classifier's on the same pixels scaled "
        "by hand (uint8 -> float32 / 255, channel axis added)",
        ". ",
    )
    assert np.array_equal(answers["digit"], np.argmax(expected, axis=1)), (
        "'digit' is not the most likely digit of each image: tf.argmax(logits, axis=1)"
    )


@pytest.mark.function("create_model")
def test_create_model_answers_faint_digits_as_the_classifier_does(
    students_module_export, pixels, by_hand
):
    # Most digits have a pixel at 255, so dividing by the batch's (or the image's) highest pixel
    # looks right on them; a client's image may be fainter, and must not depend on its batch.
    loaded = load_export(students_module_export()["export_dir"])
    dimmed_by = np.arange(40) % 4 + 2  # 2 to 5: the brightest pixel of each is 127, 85, 63 or 51
    faint = (pixels[:40] // dimmed_by[:, None, None]).astype(np.uint8)
    answers = call_signature(loaded, "serving_default", pixels=faint)
    probabilities, expected = answers["probabilities"], by_hand(faint)
    worst = (
        float(np.max(np.abs(probabilities - expected)))
        if probabilities.shape == expected.shape
        else np.inf
    )
    assert worst <= PROBABILITY_TOLERANCE, (
        f"on 40 faint digits (pixels divided by 2 to 5, none above 127), serving_default's "
        f"probabilities differ from the classifier's on the same pixels / 255 by up to "
        f"{worst:.3g}" + scaling_cause(probabilities, faint, by_hand) + ". Divide by 255, a "
        "constant: an image's answer must not depend on how bright it is or on the rest of its "
        "batch. " + SCALING_LESSON
    )


@pytest.mark.function("create_model")
def test_create_model_each_module_answers_with_its_own_classifier_and_labels(
    kind, student, trained_snapshot, tmp_path_factory, pixels, by_hand
):
    folder = tmp_path_factory.mktemp("labels")
    first = kind.wrap(student.create_model, trained_snapshot, write_labels(folder / "1", LABELS))
    # A second module around an untrained classifier and German labels, made after the first.
    kind.wrap(student.create_model, None, write_labels(folder / "2", EDITED_LABELS))
    some = pixels[:40]
    try:
        answers = {k: v.numpy() for k, v in first.classify_pixels(tf.constant(some)).items()}
    except (tf.errors.OpError, TypeError, ValueError, AttributeError, KeyError) as error:
        pytest.fail(
            f"your module's classify_pixels failed on uint8 [40, 28, 28] pixels: "
            f"{type(error).__name__}: {one_line(error)}\n{INPUT_LESSONS['serving_default']}",
            pytrace=False,
        )
    after_another = "once create_model has made a second module (another classifier, other labels)"
    keep_them = (
        "Each module answers with the classifier and labels it was given: keep them on the "
        "module (self.) and read them there, never through a global."
    )
    worst = float(np.max(np.abs(answers["probabilities"] - by_hand(some))))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"{after_another}, the first's probabilities differ from its own classifier's by up to "
        f"{worst:.3g}. {keep_them}"
    )
    labels, wanted = decoded(answers["label"]), [LABELS[d] for d in answers["digit"]]
    assert labels == wanted, (
        f"{after_another}, the first answers labels {labels[:3]}; its file says {wanted[:3]}. "
        + keep_them
    )


@pytest.mark.function("create_model")
def test_create_model_png_and_pixel_signatures_agree(students_module_export, pixels, by_hand):
    loaded = load_export(students_module_export()["export_dir"])
    for count in (1, 40):
        some = pixels[:count]
        from_pixels = call_signature(loaded, "serving_default", pixels=some)
        for colour in (False, True):
            kind_of_png = "RGB" if colour else "grayscale"
            pngs = [png_bytes(p, colour) for p in some]
            from_png = call_signature(loaded, "classify_png", png=pngs)
            assert from_png["digit"].shape == from_pixels["digit"].shape, (
                f"for {count} {kind_of_png} PNG files, classify_png answers "
                f"{len(from_png['digit'])} digits: decode each PNG to one channel "
                "(tf.io.decode_png(..., channels=1)), one image per file"
            )
            check_scaled_as_by_hand(
                from_png["probabilities"],
                from_pixels["probabilities"],
                some,
                by_hand,
                f"classify_png's probabilities ({kind_of_png} PNG files) differ from "
                "serving_default's on the same digits",
                ": decode, then preprocess exactly as serving_default (call classify_pixels). ",
            )
            assert np.array_equal(from_png["digit"], from_pixels["digit"]), (
                f"on the same {count} digits, classify_png ({kind_of_png} PNG files) answers "
                f"{from_png['digit'].tolist()[:8]} and serving_default "
                f"{from_pixels['digit'].tolist()[:8]}: decode each PNG to one channel "
                "(tf.io.decode_png(..., channels=1)) and preprocess exactly as serving_default"
            )
            assert decoded(from_png["label"]) == decoded(from_pixels["label"]), (
                "classify_png and serving_default give other labels for the same digits"
            )


@pytest.mark.function("create_model")
def test_create_model_labels_come_from_the_exported_asset(students_module_export, pixels):
    export = students_module_export()
    assets = export["export_dir"] / "assets"
    found = sorted(p.name for p in assets.glob("*"))
    asset = assets / export["labels"].name
    assert asset.is_file(), (
        f"the export's assets/ holds {found or 'nothing'}; expected {export['labels'].name}. "
        "Wrap the labels file's path in tf.saved_model.Asset, kept as an attribute of the module "
        "(or give it to a tf.lookup.TextFileInitializer): tf.saved_model.save copies it there."
    )
    loaded = load_export(export["export_dir"])
    answers = call_signature(loaded, "serving_default", pixels=pixels[:100])
    expected, labels = [LABELS[d] for d in answers["digit"]], decoded(answers["label"])
    cut = not any(" " in label for label in labels)  # every expected label holds a space
    assert labels == expected, (
        f"for digits {answers['digit'][:5].tolist()} the labels are {labels[:5]}; expected "
        f"{expected[:5]}: line d of the labels file (counting from 0) is digit d's label"
        + (
            ", the whole line, spaces included: read it whole (TextFileIndex.WHOLE_LINE, or "
            "split the file on '\\n'), never on whitespace"
            if cut
            else ""
        )
    )


@pytest.mark.function("create_model")
def test_create_model_export_answers_moved_in_a_fresh_process(
    moved_module_export, fresh_process, saved_model_cli_runs, by_hand, pixels
):
    moved = moved_module_export()
    compare_signatures(signature_table(moved["export_dir"]), "the export")
    some = pixels[:20]
    expected = by_hand(some)
    pngs = np.array([png_bytes(p, colour=i % 2 == 1) for i, p in enumerate(some)], dtype="S")
    for key, feeds in (("serving_default", {"pixels": some}), ("classify_png", {"png": pngs})):
        try:
            answers = fresh_process.run(
                moved["export_dir"], "tf2", key, feeds, ["digit", "probabilities", "label"]
            )
        except FreshProcessError as error:
            pytest.fail(
                f"reloaded with tf.saved_model.load in a fresh process after a move, {key!r} "
                f"failed: {one_line(error)}\n{run_lesson(str(error))}",
                pytrace=False,
            )
        check_scaled_as_by_hand(
            answers["probabilities"],
            expected,
            some,
            by_hand,
            f"reloaded in a fresh process after a move, the {key!r} signature's probabilities "
            "differ from the classifier's on the same pixels / 255",
            ". ",
        )
        assert np.array_equal(answers["digit"], np.argmax(expected, axis=1)), (
            f"reloaded in a fresh process after a move, {key!r} answers digits "
            f"{answers['digit'].tolist()[:8]}; the classifier says "
            f"{np.argmax(expected, axis=1).tolist()[:8]}"
        )
        labels = decoded(answers["label"])
        wanted = [EDITED_LABELS[d] for d in answers["digit"]]
        assert labels == wanted, (
            f"reloaded in a fresh process after a move, {key!r} answers labels {labels[:3]} for "
            f"a copy whose asset was rewritten in German (expected {wanted[:3]}): read them at "
            "run time from the exported asset, never in Python into constants. " + ASSET_LESSON
        )
    saved_model_cli_runs.start()  # the export answers: the last two tests read the CLI on it


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_writes_version_1_into_a_new_base_and_returns_its_path(
    student, reference_server, tmp_path_factory
):
    base = tmp_path_factory.mktemp("save") / "models" / "digits"
    returned = call_save(student, reference_server, base)
    assert returned == base / "1", (
        f"into a base folder that did not exist, save wrote and returned {returned}; expected "
        f"{base / '1'}: versions are integer-named folders inside the base, starting at 1"
    )
    entries = sorted(p.name for p in base.iterdir())
    assert entries == ["1"], f"the base holds {entries}; expected only the version folder '1'"


@pytest.mark.function("save")
def test_save_exports_the_two_signatures(student, reference_server, tmp_path_factory):
    export_dir = call_save(student, reference_server, tmp_path_factory.mktemp("save") / "digits")
    found = signature_table(export_dir)
    assert set(found) == set(EXPECTED_SIGNATURES), (
        f"the export has signatures {sorted(found)}; expected {sorted(EXPECTED_SIGNATURES)}: "
        "signatures={'serving_default': model.classify_pixels, 'classify_png': model.classify_png}"
    )
    compare_signatures(found, "the export")


@pytest.mark.function("save")
def test_save_second_save_makes_version_2_and_leaves_version_1_byte_identical(
    student, reference_server, tmp_path_factory
):
    base = tmp_path_factory.mktemp("save") / "digits"
    first = call_save(student, reference_server, base)
    before = tree_snapshot(base)
    second = call_save(student, reference_server, base)
    assert (first, second) == (base / "1", base / "2"), (
        f"two saves into a new base returned {first.name!r}, then {second.name!r}; expected '1', "
        "then '2'"
    )
    after = {k: v for k, v in tree_snapshot(base).items() if k.split(os.sep)[0] != "2"}
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, (
        f"the second save changed version 1 ({', '.join(changed[:4])}): a server may be serving "
        "it, and it is your rollback. Write each export into a new folder; never delete, rewrite "
        "or overwrite an existing version."
    )


@pytest.mark.function("save")
@settings(max_examples=examples(3))
@given(existing=st.sets(st.integers(1, 40), max_size=4))
@example(existing={9, 10})
@example(existing={1, 3})
def test_save_numbers_versions_as_integers_and_skips_other_names(
    student, reference_server, tmp_path_factory, existing
):
    base = tmp_path_factory.mktemp("base") / "digits"
    for number, name in enumerate((*map(str, sorted(existing)), *OTHER_NAMES)):
        (base / name).mkdir(parents=True)
        proto = SAVED_MODEL_FILES[number % 2]  # a version is its name, whichever proto it holds
        (base / name / proto).write_text(f"not a version: {name}")
    before = tree_snapshot(base)
    expected = str(max(existing, default=0) + 1)
    returned = call_save(student, reference_server, base)
    assert returned == base / expected, (
        f"with versions {sorted(existing)} and folders {', '.join(OTHER_NAMES)} in the base, save "
        f"wrote {returned.name!r}; expected {expected!r}: one more than the highest "
        "integer-named folder, compared as integers (as strings '9' > '10'), other names ignored"
    )
    after = tree_snapshot(base)
    touched = sorted(k for k, v in before.items() if after.get(k, "deleted") != v)
    assert not touched, f"save changed or deleted what was already in the base: {touched[:4]}"


@pytest.mark.function("save")
def test_save_export_reloaded_elsewhere_gives_the_models_answers(
    student_export, fresh_process, before_save, pixels
):
    directory = student_export().directory  # written by your save, then moved as a base's '1'
    try:
        answers = fresh_process.run(
            directory, "tf2", "serving_default", {"pixels": pixels}, ["probabilities", "digit"]
        )
    except FreshProcessError as error:
        pytest.fail(
            f"reloaded with tf.saved_model.load in a fresh process after a move, serving_default "
            f"failed: {one_line(error)}\nExport the module you were given, with "
            "signatures={'serving_default': "
            "model.classify_pixels, 'classify_png': model.classify_png}.",
            pytrace=False,
        )
    worst = float(np.max(np.abs(answers["probabilities"] - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"reloaded in a fresh process, serving_default's probabilities differ from the model's by "
        f"up to {worst:.3g}: export the module you were given, as it is (never a new one)"
    )
    assert np.array_equal(answers["digit"], np.argmax(before_save.probabilities, axis=1)), (
        "reloaded in a fresh process, serving_default's digits are not the model's"
    )


# --- load_signature_tensors --------------------------------------------------


@pytest.mark.function("load_signature_tensors")
@settings(max_examples=examples(3))
@given(versions=st.sets(st.integers(1, 300), min_size=1, max_size=5))
@example(versions={9, 10})
@example(versions={1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
@example(versions={99, 100})
def test_load_signature_tensors_serves_the_highest_integer_version(
    student, exports_for_loading, tmp_path_factory, pixels, versions
):
    base = make_base(tmp_path_factory.mktemp("base") / "digits", versions, exports_for_loading)
    description = describe(student, base)
    expected = max(versions)
    assert type(description["version"]) is int and description["version"] == expected, (
        f"with versions {sorted(versions)} (and folders {', '.join(OTHER_NAMES)}), 'version' is "
        f"{description['version']!r}; expected the int {expected}: the highest integer, compared "
        "as integers (as strings '9' > '10'), whatever the folders' modification times or order"
    )
    labels, digits = labels_answered(description, pixels)
    assert labels == [EDITED_LABELS[d] for d in digits], (
        f"'version' says {description['version']}, but the function answers {labels[:3]}, the "
        "labels of another folder: load the folder of the highest version"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_serves_a_version_written_after_an_earlier_load(
    student, exports_for_loading, tmp_path_factory, pixels
):
    base = tmp_path_factory.mktemp("base") / "digits"
    shutil.copytree(exports_for_loading["old"], base / "1")
    describe(student, base)
    shutil.copytree(exports_for_loading["new"], base / "2")  # as a server sees a new export
    description = describe(student, base)
    assert description["version"] == 2, (
        f"after version 2 was written into a base loaded before at version 1, 'version' is "
        f"{description['version']!r}; expected 2. A server picks up each new version: list the "
        "base's folders and load the highest at every call; never keep what an earlier call "
        "found or loaded."
    )
    labels, digits = labels_answered(description, pixels)
    old = labels == [LABELS[d] for d in digits]
    assert labels == [EDITED_LABELS[d] for d in digits], (
        f"after version 2 was written into a base loaded before at version 1, 'version' says 2 "
        f"but the function answers {labels[:3]}, {'version 1' if old else 'another folder'}'s "
        "labels: load the highest version at every call; never keep what an earlier call found "
        "or loaded."
    )


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", sorted(EXPECTED_SIGNATURES))
def test_load_signature_tensors_describes_the_signature(
    student, exports_for_loading, tmp_path_factory, key
):
    base = make_base(tmp_path_factory.mktemp("base") / "digits", [1, 2], exports_for_loading)
    description = describe(student, base, key)
    check_the_loaded_objects_own_signature(description, key)
    for side, expected in zip(("inputs", "outputs"), EXPECTED_SIGNATURES[key], strict=True):
        found = {
            name: (spec.dtype, [-1 if d is None else d for d in spec.shape.as_list()])
            for name, spec in description[side].items()
        }
        assert found == expected, (
            f"for signature {key!r}, {side} are {described(found)}; the export says "
            f"{described(expected)}: read them from the function (structured_input_signature[1], "
            "structured_outputs)"
        )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_reads_names_from_the_export(
    student, kind, trained_snapshot, tmp_path_factory
):
    base = tmp_path_factory.mktemp("other") / "digits"
    other_names_export(kind.classifier(trained_snapshot), base / "7")
    description = describe(student, base, "classify")
    inputs, outputs = sorted(description["inputs"]), sorted(description["outputs"])
    assert (inputs, outputs) == (["image"], ["digit", "scores"]), (
        f"for an export whose 'classify' signature maps 'image' to 'scores' and 'digit', you "
        f"returned inputs {inputs} and outputs {outputs}: read them from the function "
        "(structured_input_signature, structured_outputs), never assume them"
    )
    assert type(description["version"]) is int and description["version"] == 7, (
        f"for a base whose only version folder is '7', 'version' is {description['version']!r}; "
        "expected the int 7"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_raises_file_not_found_without_a_version(
    student, exports_for_loading, tmp_path_factory
):
    base = tmp_path_factory.mktemp("empty") / "digits"
    shutil.copytree(exports_for_loading["old"], base / "tmp")
    (base / "v2").mkdir()
    try:
        student.load_signature_tensors(str(base), "serving_default")
    except StudentError as error:
        if error.failure != Failure.RAISED:
            raise
        if "raised FileNotFoundError" in str(error):
            return
        pytest.fail(
            f"{str(error).splitlines()[0]}\nOn a base holding only 'tmp' and 'v2' there is no "
            "version to serve: raise FileNotFoundError (check before taking the highest).",
            pytrace=False,
        )
    pytest.fail(
        "on a base holding only 'tmp' and 'v2', load_signature_tensors returned instead of "
        "raising FileNotFoundError: when no folder is named by an integer, no version can be "
        "served",
        pytrace=False,
    )


# --- evaluate ----------------------------------------------------------------


def check_served_accuracy(accuracy, expected) -> None:
    """check_accuracy, with what an accuracy of zero shows about a served signature."""
    assert accuracy != 0.0 or expected.correct == 0, (
        f"evaluate returned 0.0; the served model gets {expected} of these digits right. Not one "
        "counted: compare outputs['digit'] (int64 digits) with the labels, not 'label' (strings) "
        "or 'probabilities'"
    )
    check_accuracy(accuracy, expected)


# Tests written once for several exercises (shared_tests.py), imported where they run.
from savedmodel_kata.plugin.shared_tests import test_evaluate_returns_a_fraction  # noqa: E402, F401


@pytest.mark.function("evaluate")
def test_evaluate_counts_the_same_digits_as_the_served_model(
    kind, student, reference_loaded, before_save, mnist
):
    accuracy = kind.evaluate(
        student.evaluate, reference_loaded("serving_default"), mnist.test_images, mnist.test_labels
    )
    check_served_accuracy(accuracy, before_save.score)


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401
    test_evaluate_counts_correct_predictions_on_any_subset,
)


@pytest.mark.function("evaluate")
def test_evaluate_reads_the_input_name_from_the_signature(
    kind, student, reference, trained_snapshot, tmp_path_factory, by_hand, pixels, mnist
):
    base = tmp_path_factory.mktemp("other") / "digits"
    other_names_export(kind.classifier(trained_snapshot), base / "1", input_name="image")
    signature = reference.load_signature_tensors(str(base), "classify")
    some, labels = pixels[:300], mnist.test_labels[:300]
    accuracy = student.evaluate(signature, some, labels)
    check_counts_correct(accuracy, by_hand(some), labels)


@pytest.mark.function("evaluate")
def test_evaluate_takes_labels_of_any_integer_dtype(
    student, reference_loaded, before_save, pixels, mnist
):
    labels = mnist.test_labels.astype(np.int32)  # integer digits, not int64
    accuracy = student.evaluate(reference_loaded("serving_default").value, pixels, labels)
    check_served_accuracy(accuracy, before_save.score)


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_evaluate_answers_each_call_for_its_own_digits,
)


# --- all four together -------------------------------------------------------


@pytest.mark.end_to_end
def test_end_to_end_with_all_your_functions(kind, student, reference, mnist, tmp_path_factory):
    trained = kind.train(student.create_model, mnist)  # exercise 2's classifier, cached
    base = tmp_path_factory.mktemp("end-to-end") / "digits"
    student.save(trained.model, str(base))
    export = kind.export(student.save, trained.model, base)
    assert export.directory == base / "2", (
        f"two saves into a new base wrote {export.directory.name!r} last; expected '2'"
    )
    check_end_to_end(kind, student, reference, trained, mnist, export.directory)


# --- create_model, through saved_model_cli -----------------------------------
# Last in the module: the two processes these tests read were started by the fresh-process
# test above and imported TensorFlow while the tests in between ran.


@pytest.mark.function("create_model")
def test_create_model_cli_show_lists_the_contract(saved_model_cli_runs):
    returncode, stdout, stderr = saved_model_cli_runs()["show"]
    assert returncode == 0, (
        f"`saved_model_cli show --all` failed on your export: {last_error_line(stderr)}\n"
        + run_lesson(stderr)
    )
    compare_signatures(parse_show_all(stdout), "`saved_model_cli show --all`")


@pytest.mark.function("create_model")
def test_create_model_cli_run_gives_the_python_digits(
    saved_model_cli_runs, moved_module_export, by_hand, pixels
):
    runs = saved_model_cli_runs()
    if "run" not in runs:
        compare_signatures(signature_table(moved_module_export()["export_dir"]), "the export")
    returncode, stdout, stderr = runs["run"]
    assert returncode == 0, (
        "`saved_model_cli run --signature_def serving_default --inputs pixels=pixels.npy` failed "
        f"on your moved export: {last_error_line(stderr)}\n" + run_lesson(stderr)
    )
    printed = parse_run(stdout)
    digits = [int(token) for token in re.findall(r"-?\d+", printed.get("digit", ""))]
    expected = np.argmax(by_hand(pixels[:20]), axis=1).tolist()
    assert digits == expected, (
        f"`saved_model_cli run` prints digits {digits[:8]} (outputs {sorted(printed)}); in "
        f"Python the classifier answers {expected[:8]}"
    )
    labels = printed_labels(printed.get("label", ""))
    assert labels == [EDITED_LABELS[d] for d in expected], (
        f"`saved_model_cli run` prints labels {labels[:3]} for the moved export whose asset was "
        f"rewritten in German (expected {[EDITED_LABELS[d] for d in expected[:3]]}): read them "
        "at run time from the exported asset, never in Python into constants. " + ASSET_LESSON
    )
