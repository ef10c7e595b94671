"""Tests of exercise 7: a SavedModel's signatures through the LiteRT converter and interpreter.

Each test grades one function and takes the other three from solutions/.
The shared fixtures train the reference once as exercise 3's Keras model;
the LiteRT kind (kinds/litert.py) writes the harness's own SavedModel of it
('serving_default' and 'evaluate') and hands that folder to `save`.

What a flatbuffer holds is read from the file with the tests' own
`ai_edge_litert` interpreter and its schema (never from what the student's
loader returns), and compared with the SavedModel it was converted from.
The device is a fresh Python process (`DeviceProcess`: `python -I`, an empty
folder, one for the run) where `import tensorflow` raises: it imports the
code under test from its file, loads a moved flatbuffer and reports the
probabilities and the accuracy back.

Tolerances, measured on the trained reference and the 2,000 test digits (TF
2.21, ai-edge-litert 2.3.0, XNNPACK on x86-64):
* float flatbuffer vs SavedModel: probabilities within 1.4e-6, the same
  digit for all 2,000; FLOAT_TOLERANCE is 1e-5 (XNNPACK sums in another
  order than TensorFlow: float rounding, nothing more), no disagreement.
* dynamic-range quantized: probabilities off by up to 0.031, 3 digits
  predicted otherwise, the same count right (1,848) as the float model; the
  tests allow 20 digits of 2,000 either way (1 point of accuracy), never an
  exact match of probabilities.
* size: this 2,830-parameter network's flatbuffer is mostly structure
  (two signatures, each its own subgraph with its own copy of the weights),
  and only its two tensors of 1,152 weights reach the converter's threshold
  for int8 (1,024 elements): quantized it is 74 % of the float file (15,800
  of 21,436 bytes). The 35 % bound is checked on a wide test-made model
  (784 x 256 x 10): quantized 25.6 % of the float flatbuffer, float16 50.1 %.
"""

from __future__ import annotations

import atexit
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from savedmodel_kata.errors import StudentError
from savedmodel_kata.kinds.base import Export
from savedmodel_kata.kinds.litert import savedmodel_dir_of, tflite_file_of, write_savedmodel
from savedmodel_kata.kinds.score import Score
from savedmodel_kata.plugin import shared_tests
from savedmodel_kata.plugin.checks import check_accuracy, check_counts_correct, key_id, same_count
from savedmodel_kata.plugin.fresh_process import FreshProcess, FreshProcessError, relocate
from savedmodel_kata.plugin.shared_tests import any_batch_size
from savedmodel_kata.results import Failure
from savedmodel_kata.tensorflow_setup import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)

FLOAT_TOLERANCE = 1e-5  # measured 1.4e-6: see the module docstring
QUANTIZED_DIGITS_APART = 20  # of 2,000: 1 point of accuracy (measured: 0 apart, 3 differ)
QUANTIZED_SIZE_SHARE = 0.35  # of the float flatbuffer, on the wide model (measured 25.6 %)
INT8_THRESHOLD = 1024  # weights the converter quantizes: tensors of at least this many
# What the harness's SavedModel declares: {key: ({input: (dtype, shape)}, {output: ...})}.
SIGNATURES = {
    "serving_default": (
        {"input": (np.float32, (-1, 28, 28, 1))},
        {"prediction": (np.float32, (-1, 10))},
    ),
    "evaluate": (
        {"input": (np.float32, (-1, 28, 28, 1)), "label": (np.int64, (-1,))},
        {"accuracy": (np.float32, ())},
    ),
}
FLEX_ISSUE = "LiteRT#6458"
MAINTAINED = "ai_edge_litert.interpreter.Interpreter"


# --- reading a flatbuffer, the tests' own way ------------------------------------


def signatures_in(path) -> dict:
    """{key: ({input: (dtype, shape_signature)}, {output: ...})}, read by the tests' own
    interpreter from the file."""
    interpreter = Interpreter(model_path=str(path))
    found = {}
    for key in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(key)
        found[key] = tuple(
            {
                name: (np.dtype(d["dtype"]).type, tuple(int(n) for n in d["shape_signature"]))
                for name, d in details.items()
            }
            for details in (runner.get_input_details(), runner.get_output_details())
        )
    return found


def savedmodel_signatures(directory) -> dict:
    """The same description of a SavedModel's signatures, read by TensorFlow."""
    found = {}
    for key, function in tf.saved_model.load(str(directory)).signatures.items():
        _, inputs = function.structured_input_signature
        found[key] = tuple(
            {
                name: (spec.dtype.as_numpy_dtype, tuple(-1 if n is None else n for n in spec.shape))
                for name, spec in specs.items()
            }
            for specs in (inputs, function.structured_outputs)
        )
    return found


_OPERATORS = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


def operators_in(path) -> set[str]:
    """Every operator the flatbuffer uses, in all its subgraphs: builtin names, or
    'CUSTOM:<code>' (Select TF ops are custom ops named Flex...)."""
    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    names = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = _OPERATORS[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        custom = code.CustomCode()
        names.add(f"CUSTOM:{custom.decode()}" if custom else builtin)
    return names


def tensor_types(path) -> list[tuple[bool, str, int]]:
    """(holds constant data, type name, element count) of every tensor of every subgraph."""
    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    found = []
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            buffer = model.Buffers(tensor.Buffer())
            constant = bool(buffer is not None and (buffer.DataLength() or buffer.Size()))
            shape = tensor.ShapeAsNumpy() if tensor.ShapeLength() else np.zeros(0, int)
            found.append((constant, _TYPES[tensor.Type()], int(np.prod(shape))))
    return found


def quantization_of(path) -> str:
    """What the flatbuffer's quantization is: 'float32', 'dynamic range', 'float16' or
    'full integer', from the types of its weights and activations."""
    types = tensor_types(path)
    if any(not constant and kind in ("INT8", "UINT8") for constant, kind, _ in types):
        return "full integer"
    if any(constant and kind == "FLOAT16" for constant, kind, _ in types):
        return "float16"
    if any(constant and kind == "INT8" for constant, kind, _ in types):
        return "dynamic range"
    return "float32"


def run_signature(path, key, **inputs) -> dict[str, np.ndarray]:
    """One signature of the flatbuffer run by the tests' own interpreter, by input name."""
    interpreter = Interpreter(model_path=str(path))
    return interpreter.get_signature_runner(key)(**inputs)


def predicted(path, images) -> np.ndarray:
    return run_signature(path, "serving_default", input=np.asarray(images, np.float32))[
        "prediction"
    ]


def not_implemented_or(error: StudentError, message: str):
    """A stub's pointer stays the report; any other error of the student's fails with
    `message`, the error (its first line) and where it was raised (its last)."""
    if error.failure == Failure.NOT_IMPLEMENTED:
        raise error
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    shown = "\n  ".join(dict.fromkeys(lines[:1] + lines[-1:]))
    pytest.fail(f"{message}\n  {shown}"[:1500], pytrace=False)


# --- flatbuffers the tests convert themselves ------------------------------------


def wide_savedmodel(directory: Path) -> Path:
    """A test-made SavedModel big enough for quantization to show in its size: dense 784 ->
    256 -> 10 with fixed random weights, one signature 'serving_default' ('input' ->
    'prediction')."""
    rng = np.random.default_rng(7)
    model = tf.Module()
    model.hidden = tf.Variable(rng.normal(0, 0.05, (784, 256)).astype(np.float32))
    model.out = tf.Variable(rng.normal(0, 0.05, (256, 10)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")])
    def serve(input):
        hidden = tf.nn.relu(tf.matmul(tf.reshape(input, [-1, 784]), model.hidden))
        return {"prediction": tf.nn.softmax(tf.matmul(hidden, model.out))}

    tf.saved_model.save(model, str(directory), signatures={"serving_default": serve})
    return directory


def keras_savedmodel(model, directory: Path, endpoints: dict) -> Path:
    """`model` exported with `endpoints` ({key: (function, input specs)}) by ExportArchive,
    which tracks a Keras 3 model's variables (a tf.Module holding one does not, for the
    converter: its flatbuffer then computes with uninitialised weights)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    for key, (function, specs) in endpoints.items():
        archive.add_endpoint(key, function, input_signature=specs)
    archive.write_out(str(directory), verbose=False)
    return directory


def other_names_savedmodel(model, directory: Path) -> Path:
    """`model` exported under other keys and names, and no 'serving_default': 'classify'
    ('pixels' -> 'scores', softmax) and 'check' ('pixels', 'digits' -> 'right', a count)."""
    pixels = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="pixels")
    digits = tf.TensorSpec([None], tf.int64, name="digits")

    def check(pixels, digits):
        right = tf.equal(tf.argmax(model(pixels), 1), digits)
        return {"right": tf.reduce_sum(tf.cast(right, tf.int32))}

    archived = keras_savedmodel(
        model,
        directory.with_name(directory.name + "-archived"),
        {
            "classify": (lambda pixels: {"scores": tf.nn.softmax(model(pixels))}, [pixels]),
            "check": (check, [pixels, digits]),
        },
    )
    # ExportArchive also writes its first endpoint as 'serving_default': saved again with the
    # two keys only, so that a 'serving_default' assumed anywhere finds nothing.
    loaded = tf.saved_model.load(str(archived))
    keys = ("classify", "check")
    tf.saved_model.save(
        loaded, str(directory), signatures={key: loaded.signatures[key] for key in keys}
    )
    return directory


def needs_select_tf_ops(directory: Path) -> Path:
    """A SavedModel whose one signature needs MatrixInverse: LiteRT has no builtin op for it,
    and Select TF ops have (it converts only with SELECT_TF_OPS allowed)."""
    module = tf.Module()
    module.f = tf.function(
        lambda input: {"prediction": tf.linalg.inv(tf.reshape(input, [-1, 28, 28]) + tf.eye(28))},
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")],
    )
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.f})
    return directory


def converted_by_test(savedmodel: Path, tflite: Path) -> Path:
    """The tests' own conversion (as the contract asks: builtin ops, float)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(savedmodel))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    tflite.write_bytes(converter.convert())
    return tflite


# --- the module's conversions, once each ----------------------------------------


@pytest.fixture(scope="module")
def savedmodel_probabilities(reference_export, mnist) -> np.ndarray:
    """What the harness's SavedModel (the one save is given) computes on the test digits."""
    function = tf.saved_model.load(str(savedmodel_dir_of(reference_export.directory))).signatures[
        "serving_default"
    ]
    return function(input=tf.constant(mnist.test_images))["prediction"].numpy()


@pytest.fixture(scope="module")
def students_flatbuffer(kind, student, trained_copy, new_export_dir, memo):
    """students_flatbuffer(quantize): the trained model's SavedModel converted by the student's
    save (once each per module), moved away from where it was written."""

    def convert(quantize: bool) -> Export:
        def written() -> Export:
            try:
                export = kind.export_quantized(
                    student.save, trained_copy(), new_export_dir(), quantize=quantize
                )
            except StudentError as error:
                not_implemented_or(
                    error,
                    f"save(saved_model_dir, tflite_path, quantize={quantize}) raised on the "
                    "trained model's SavedModel" + (f". {DYNAMIC_RANGE_ONLY}" if quantize else ""),
                )
            return relocate(export, new_export_dir())

        return memo.remember(f"students_flatbuffer-{quantize}", written)

    return convert


@pytest.fixture(scope="module")
def reference_quantized(kind, reference, trained_copy, new_export_dir) -> Export:
    return kind.export_quantized(reference.save, trained_copy(), new_export_dir(), quantize=True)


DYNAMIC_RANGE_ONLY = (
    "Dynamic-range quantization is converter.optimizations = [tf.lite.Optimize.DEFAULT] and "
    "nothing else: a representative_dataset makes activations int8 too (full integer, and it "
    "must feed every signature's inputs); inference_input_type / inference_output_type make "
    "inputs and outputs int8, where dynamic range keeps float32 inputs and outputs"
)


def students_save(
    student, savedmodel: Path, tflite: Path, quantize: bool, what: str, by_position=False
) -> None:
    """The student's save, called by keyword (or, by_position, as save(dir, path, quantize))."""
    try:
        if by_position:
            student.save(str(savedmodel), str(tflite), quantize)
        else:
            student.save(
                saved_model_dir=str(savedmodel), tflite_path=str(tflite), quantize=quantize
            )
    except StudentError as error:
        not_implemented_or(
            error,
            f"save(saved_model_dir, tflite_path, quantize={quantize}) raised on {what}"
            + (f". {DYNAMIC_RANGE_ONLY}" if quantize else ""),
        )


# --- create_model ------------------------------------------------------------


logits_of = shared_tests.keras_logits_of


@pytest.mark.function("create_model")
def test_create_model_returns_a_keras_model(student_model):
    model = student_model()
    assert isinstance(model, keras.Model), (
        f"create_model returned {type(model).__name__}; expected a Keras 3 model "
        "(keras.Sequential, as in exercise 3)"
    )


test_create_model_output_shape_for_any_batch_size = shared_tests.output_shape_test(
    logits_of, max_examples=4
)

test_create_model_returns_logits_not_probabilities = shared_tests.logits_not_probabilities_test(
    logits_of,
    lesson="the model's outputs are probabilities (non-negative rows summing to 1): the last "
    "Dense layer takes no activation; the SavedModel's 'serving_default' adds the softmax",
)

test_create_model_computes_the_tutorials_function = (
    shared_tests.computes_the_tutorials_function_test(
        logits_of,
        problem="with the reference's trained weights, your model's probabilities differ by up "
        "to {worst:.3g}: exercise 3's layers, in its order, 'same' padding and ReLU",
    )
)

from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_starts_from_the_tutorials_initial_values,
    test_create_model_returns_a_new_model_each_call,
    test_create_model_trains_like_the_reference,
)


# --- save --------------------------------------------------------------------


@pytest.mark.function("save")
def test_save_keeps_every_signature_its_keys_and_names(students_flatbuffer):
    export = students_flatbuffer(False)
    tflite = tflite_file_of(export.directory)
    assert tflite.is_file(), (
        f"save wrote no file at tflite_path ({tflite.name}): write converter.convert()'s bytes "
        "there"
    )
    expected = savedmodel_signatures(savedmodel_dir_of(export.directory))
    found = signatures_in(tflite)
    assert sorted(found) == sorted(expected), (
        f"the flatbuffer's signatures are {sorted(found)}; the SavedModel's are "
        f"{sorted(expected)}. Convert the SavedModel folder with "
        "tf.lite.TFLiteConverter.from_saved_model(saved_model_dir): it keeps every signature "
        "under its key (a concrete function converted alone loses the keys)"
    )
    for key in expected:
        assert found[key] == expected[key], (
            f"signature {key!r} has inputs {found[key][0]} and outputs {found[key][1]} in the "
            f"flatbuffer; the SavedModel declares {expected[key][0]} and {expected[key][1]} "
            "(name: (dtype, shape), -1 a dynamic batch). Convert from the SavedModel, as it is, "
            "with no fixed batch"
        )


@pytest.mark.function("save")
def test_save_keeps_the_keys_and_names_of_another_savedmodel(student, trained_copy, tmp_path):
    savedmodel = other_names_savedmodel(trained_copy(), tmp_path / "other")
    tflite = tmp_path / "other.tflite"
    students_save(
        student, savedmodel, tflite, False, "a SavedModel with signatures 'classify' and 'check'"
    )
    found, expected = signatures_in(tflite), savedmodel_signatures(savedmodel)
    assert found == expected, (
        f"a SavedModel whose signatures are 'classify' ('pixels' -> 'scores') and 'check' "
        f"('pixels', 'digits' -> 'right') became a flatbuffer with {found}: convert every "
        "signature of the folder you are given, under its own key and names "
        "(TFLiteConverter.from_saved_model(saved_model_dir); never assume the harness's names)"
    )


@pytest.mark.function("save")
def test_save_float_flatbuffer_predicts_what_the_savedmodel_predicts(
    students_flatbuffer, savedmodel_probabilities, mnist
):
    export = students_flatbuffer(False)
    probabilities = predicted(tflite_file_of(export.directory), mnist.test_images)
    worst = float(np.max(np.abs(probabilities - savedmodel_probabilities)))
    apart = int(np.sum(probabilities.argmax(1) != savedmodel_probabilities.argmax(1)))
    kind_found = quantization_of(tflite_file_of(export.directory))
    assert worst <= FLOAT_TOLERANCE and apart == 0, (
        f"with quantize=False the flatbuffer's probabilities differ from the SavedModel's by up "
        f"to {worst:.3g} (allowed {FLOAT_TOLERANCE}: float rounding) and {apart} of 2000 digits "
        f"are predicted otherwise; its weights are {kind_found}. quantize=False is a float32 "
        "conversion: no converter.optimizations, no supported_types"
    )
    keys = sorted(signatures_in(tflite_file_of(export.directory)))
    assert "evaluate" in keys, (
        f"the flatbuffer's signatures are {keys}, no 'evaluate': convert the SavedModel folder "
        "(from_saved_model), which keeps every signature with its computation"
    )
    accuracy = run_signature(
        tflite_file_of(export.directory), "evaluate",
        input=mnist.test_images, label=mnist.test_labels.astype(np.int64),
    )["accuracy"]  # fmt: skip
    right = Score(int(np.sum(savedmodel_probabilities.argmax(1) == mnist.test_labels)), 2000)
    assert same_count(float(accuracy), right), (
        f"the flatbuffer's 'evaluate' signature gives accuracy {float(accuracy)!r}; the "
        f"SavedModel's model gets {right}: every signature is converted, with its computation"
    )


@pytest.mark.function("save")
@any_batch_size(max_examples=6, largest=300, explicit=(1, 7, 2000))
def test_save_flatbuffer_runs_batches_never_seen_at_conversion(
    students_flatbuffer, savedmodel_probabilities, mnist, batch_size
):
    export = students_flatbuffer(False)
    rows = np.arange(batch_size) * 7 % 2000
    try:
        probabilities = predicted(tflite_file_of(export.directory), mnist.test_images[rows])
    except (ValueError, RuntimeError) as error:
        pytest.fail(
            f"the flatbuffer's 'serving_default' runner refused a batch of {batch_size}: "
            f"{str(error).splitlines()[0]}. Keep the SavedModel's dynamic batch (-1): convert "
            "from_saved_model, with no input shape fixed",
            pytrace=False,
        )
    assert probabilities.shape == (batch_size, 10), (
        f"a batch of {batch_size} gave probabilities shaped {probabilities.shape}; expected "
        f"{(batch_size, 10)}: keep the SavedModel's dynamic batch (-1)"
    )
    worst = float(np.max(np.abs(probabilities - savedmodel_probabilities[rows])))
    assert worst <= FLOAT_TOLERANCE, (
        f"a batch of {batch_size} ran, but its probabilities differ from the SavedModel's by up "
        f"to {worst:.3g} (allowed {FLOAT_TOLERANCE}: float rounding): with quantize=False the "
        f"flatbuffer is float32 (its weights here are "
        f"{quantization_of(tflite_file_of(export.directory))}), no converter.optimizations"
    )


@pytest.mark.function("save")
@pytest.mark.parametrize("quantize", [False, True], ids=["float", "quantized"])
def test_save_writes_only_builtin_ops(students_flatbuffer, quantize):
    operators = operators_in(tflite_file_of(students_flatbuffer(quantize).directory))
    custom = sorted(name for name in operators if name.startswith("CUSTOM"))
    assert not custom, (
        f"the flatbuffer (quantize={quantize}) uses custom ops {custom}: Select TF (Flex) ops "
        f"need TensorFlow's kernels, which the standalone interpreter has not ({FLEX_ISSUE}). "
        "Convert with converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] only"
    )


@pytest.mark.function("save")
@pytest.mark.parametrize("quantize", [False, True], ids=["float", "quantized"])
def test_save_raises_for_a_savedmodel_that_needs_select_tf_ops(student, tmp_path, quantize):
    save = student.save  # first: a stub's pointer is the report
    savedmodel = needs_select_tf_ops(tmp_path / "inverse")
    tflite = tmp_path / "inverse.tflite"
    try:
        save(saved_model_dir=str(savedmodel), tflite_path=str(tflite), quantize=quantize)
    except StudentError as error:
        if error.failure == Failure.NOT_IMPLEMENTED:
            raise
        return  # refused, on the desk
    problem = ""
    try:
        run_signature(tflite, "serving_default", input=np.zeros((1, 28, 28, 1), np.float32))
    except Exception as error:  # what the device would meet
        sentence = str(error).splitlines()[0].split(". ")[0].rstrip(".")[:200]
        problem = f" The device's interpreter then fails: {sentence}."
    operators = sorted(operators_in(tflite)) if tflite.exists() else []
    allowed = (
        f"Select TF (Flex) ops were allowed. They fail at run time in the standalone "
        f"interpreter ({FLEX_ISSUE})"
        if any(name.startswith("CUSTOM:Flex") for name in operators)
        else "custom ops were allowed (converter.allow_custom_ops = True): the interpreter has "
        "no kernel for them"
    )
    pytest.fail(
        f"save (quantize={quantize}) converted a SavedModel that needs tf.linalg.inv, which "
        f"LiteRT has no builtin op for, into {operators or 'nothing'}: {allowed}.{problem} "
        "Allow only tf.lite.OpsSet.TFLITE_BUILTINS and no custom ops, quantized or not, so "
        "conversion raises, on your desk",
        pytrace=False,
    )


@pytest.mark.function("save")
def test_save_quantized_is_dynamic_range_and_within_a_point(students_flatbuffer, mnist):
    quantized = tflite_file_of(students_flatbuffer(True).directory)
    floating = tflite_file_of(students_flatbuffer(False).directory)
    found = quantization_of(quantized)
    assert found == "dynamic range", (
        f"with quantize=True the flatbuffer is {found}; the contract asks for dynamic-range "
        "quantization: converter.optimizations = [tf.lite.Optimize.DEFAULT] and nothing else "
        "(a representative_dataset makes activations int8 too: full integer; "
        "supported_types=[tf.float16] stores float16 weights)"
    )
    large = [k for constant, k, n in tensor_types(quantized) if constant and n >= INT8_THRESHOLD]
    assert large and set(large) == {"INT8"}, (
        f"the quantized flatbuffer's weights of {INT8_THRESHOLD} values or more are {large}; "
        "dynamic range stores them as int8"
    )
    details = signatures_in(quantized)
    assert details == signatures_in(floating), (
        f"quantized, the signatures became {details}: dynamic range keeps float32 inputs and "
        "outputs (no inference_input_type, no inference_output_type)"
    )
    labels = mnist.test_labels
    right_float = int(np.sum(predicted(floating, mnist.test_images).argmax(1) == labels))
    right_quantized = int(np.sum(predicted(quantized, mnist.test_images).argmax(1) == labels))
    assert abs(right_quantized - right_float) <= QUANTIZED_DIGITS_APART, (
        f"quantized, the flatbuffer gets {right_quantized} of 2000 digits right, the float one "
        f"{right_float}: more than {QUANTIZED_DIGITS_APART} apart (1 point). Quantization trades "
        "size for accuracy: measure both, and quantize weights only (dynamic range)"
    )


@pytest.mark.function("save")
def test_save_quantized_wide_model_is_at_most_35_percent_of_float(student, tmp_path):
    student.save  # noqa: B018  (first: a stub's pointer is the report)
    savedmodel = wide_savedmodel(tmp_path / "wide")
    sizes = {}
    for quantize in (False, True):
        tflite = tmp_path / f"wide-{quantize}.tflite"
        students_save(student, savedmodel, tflite, quantize, "a wide dense model", quantize)
        sizes[quantize] = tflite.stat().st_size
    share = sizes[True] / sizes[False]
    assert share <= QUANTIZED_SIZE_SHARE, (
        f"a model of 203,264 weights converted with quantize=True is {sizes[True]:,} bytes, "
        f"{share:.0%} of the float flatbuffer ({sizes[False]:,} bytes); dynamic range (int8 "
        f"weights) gives at most {QUANTIZED_SIZE_SHARE:.0%}. quantize=True must set "
        "converter.optimizations = [tf.lite.Optimize.DEFAULT] (float16 halves it, no more), and "
        "quantize=False must not"
    )


@pytest.mark.function("save")
def test_save_converts_each_savedmodel_it_is_given_to_the_same_path(
    student, reference, trained_copy, kind, mnist, tmp_path
):
    # Two models, one tflite_path: the second save replaces the first flatbuffer.
    other = trained_copy()
    kind.assign(other, kind.initial_weights(reference.create_model, seed=12))
    images = mnist.test_images[:200]
    tflite = tmp_path / "model.tflite"
    for name, model in (
        ("the trained model", trained_copy()),
        ("a model with other weights", other),
    ):
        savedmodel = tmp_path / name.replace(" ", "-")
        write_savedmodel(model, savedmodel)
        students_save(student, savedmodel, tflite, False, name)
        expected = kind.predict(model, images)
        worst = float(np.max(np.abs(predicted(tflite, images) - expected)))
        assert worst <= FLOAT_TOLERANCE, (
            f"save was called for two SavedModels in turn, with the same tflite_path; the file "
            f"then predicts other probabilities than {name} (by up to {worst:.3g}): convert the "
            "SavedModel you are given, and replace the file at tflite_path"
        )


# --- load_signature_tensors --------------------------------------------------


def students_load(
    student, tflite, key, what="the reference's flatbuffer", lesson="see the error below"
) -> dict:
    try:
        loaded = student.load_signature_tensors(tflite_path=str(tflite), signature_key=key)
    except StudentError as error:
        not_implemented_or(
            error,
            f"load_signature_tensors(tflite_path=..., signature_key={key!r}) raised on {what}, "
            f"which has that signature: {lesson}",
        )
    assert isinstance(loaded, dict) and {"interpreter", "runner", "inputs", "outputs"} <= set(
        loaded
    ), (
        f"load_signature_tensors returned {type(loaded).__name__}"
        f"{sorted(loaded) if isinstance(loaded, dict) else ''}; expected a dict with "
        "'interpreter', 'runner', 'inputs' and 'outputs'"
    )
    return loaded


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", sorted(SIGNATURES), ids=key_id)
def test_load_signature_tensors_uses_the_maintained_interpreter(student, reference_export, key):
    loaded = students_load(student, tflite_file_of(reference_export.directory), key)
    module = type(loaded["interpreter"]).__module__
    assert module.startswith("ai_edge_litert"), (
        f"the interpreter returned is {module}.{type(loaded['interpreter']).__name__}: use the "
        f"maintained one, {MAINTAINED} (the ai-edge-litert package, no TensorFlow needed); "
        "tf.lite.Interpreter is scheduled for deletion, and the device has no TensorFlow"
    )
    runner_module = type(loaded["runner"]).__module__
    assert runner_module.startswith("ai_edge_litert"), (
        f"the runner is a {runner_module}.{type(loaded['runner']).__name__}; expected "
        f"interpreter.get_signature_runner({key!r}) of an {MAINTAINED}"
    )


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", sorted(SIGNATURES), ids=key_id)
def test_load_signature_tensors_describes_the_signature_by_name(student, reference_export, key):
    loaded = students_load(student, tflite_file_of(reference_export.directory), key)
    expected_inputs, expected_outputs = signatures_in(tflite_file_of(reference_export.directory))[
        key
    ]
    for side, described, expected in (
        ("inputs", loaded["inputs"], expected_inputs),
        ("outputs", loaded["outputs"], expected_outputs),
    ):
        try:
            found = {
                name: (np.dtype(dtype).type, tuple(int(n) for n in shape))
                for name, (dtype, shape) in dict(described).items()
            }
        except (TypeError, ValueError):
            pytest.fail(
                f"loaded[{side!r}] of signature {key!r} is {described!r}; expected "
                "{name: (numpy dtype, shape tuple)}",
                pytrace=False,
            )
        assert found == expected, (
            f"signature {key!r}: you described its {side} as {found}; the flatbuffer declares "
            f"{expected}. Read them from runner.get_{side[:-1]}_details(): keyed by name, with "
            "'dtype' and 'shape_signature' (-1 for the dynamic batch; 'shape' is only what is "
            "allocated now)"
        )


@pytest.mark.function("load_signature_tensors")
@any_batch_size(max_examples=6, largest=300, explicit=(1, 33, 2000))
def test_load_signature_tensors_runner_runs_any_batch_size(
    student, reference_export, savedmodel_probabilities, mnist, memo, batch_size
):
    loaded = memo.remember(
        "loaded-serving",
        lambda: students_load(
            student, tflite_file_of(reference_export.directory), "serving_default"
        ),
    )
    rows = np.arange(batch_size) * 11 % 2000
    try:
        outputs = loaded["runner"](input=mnist.test_images[rows])
    except Exception as error:
        pytest.fail(
            f"the runner you returned, called runner(input=images) on a batch of {batch_size}, "
            f"raised {type(error).__name__}: {str(error).splitlines()[0][:200]}. Return "
            "interpreter.get_signature_runner(signature_key): it runs the signature by input "
            "name and resizes its input to any batch (never by tensor index, never one fixed "
            "batch)",
            pytrace=False,
        )
    probabilities = np.array(dict(outputs).get("prediction"), copy=True)
    worst = (
        float(np.max(np.abs(probabilities - savedmodel_probabilities[rows])))
        if probabilities.shape == (batch_size, 10)
        else float("inf")
    )
    assert worst <= FLOAT_TOLERANCE, (
        f"the runner, on a batch of {batch_size}, gave 'prediction' shaped "
        f"{probabilities.shape}, off by up to {worst:.3g}: return the signature's own runner "
        "(by name, any batch)"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_reads_another_flatbuffers_names(
    student, trained_copy, tmp_path, mnist
):
    # Other keys and names, and no 'serving_default': each signature's runner is run, so a
    # runner of another signature than the key asked for shows.
    model = trained_copy()
    tflite = converted_by_test(
        other_names_savedmodel(model, tmp_path / "other"), tmp_path / "o.tflite"
    )
    what = (
        "a flatbuffer whose signatures are 'classify' ('pixels' -> 'scores') and 'check' "
        "('pixels', 'digits' -> 'right'), and no 'serving_default'"
    )
    expected = signatures_in(tflite)
    images, labels = mnist.test_images[:50], mnist.test_labels[:50]
    probabilities = tf.nn.softmax(model(tf.constant(images))).numpy()
    runs = {
        "classify": ({"pixels": images}, "scores", probabilities),
        "check": (
            {"pixels": images, "digits": labels.astype(np.int64)},
            "right",
            np.int32(np.sum(probabilities.argmax(1) == labels)),
        ),
    }
    for key, (inputs, output, wanted_output) in runs.items():
        lesson = (
            f"return interpreter.get_signature_runner(signature_key), the runner of {key!r}, "
            "the signature asked for"
        )
        loaded = students_load(student, tflite, key, what, lesson)
        described = {side: sorted(dict(loaded[side])) for side in ("inputs", "outputs")}
        wanted = {
            side: sorted(part)
            for side, part in zip(("inputs", "outputs"), expected[key], strict=True)
        }
        assert described == wanted, (
            f"for {what}, you described signature {key!r} as {described}; it maps "
            f"{wanted['inputs']} to {wanted['outputs']}: read the names from the signature "
            "runner, never assume the harness's"
        )
        try:
            outputs = dict(loaded["runner"](**inputs))
        except Exception as error:
            pytest.fail(
                f"for {what}, the runner you returned for {key!r}, called with "
                f"{sorted(inputs)}, raised {type(error).__name__}: "
                f"{str(error).splitlines()[0][:200]}. {lesson}",
                pytrace=False,
            )
        found = np.array(outputs[output], copy=True) if output in outputs else None
        worst = (
            float(np.max(np.abs(found - wanted_output)))
            if found is not None and found.shape == np.shape(wanted_output)
            else float("inf")
        )
        assert worst <= FLOAT_TOLERANCE, (
            f"for {what}, the runner you returned for {key!r} gave outputs {sorted(outputs)}"
            + ("" if found is None else f", {output!r} shaped {found.shape}")
            + f", off by {worst:.3g} from the model's: {lesson}"
        )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_raises_keyerror_for_a_missing_signature(student, reference_export):
    try:
        loaded = student.load_signature_tensors(
            str(tflite_file_of(reference_export.directory)), "serve"
        )
    except StudentError as error:
        if error.failure == Failure.NOT_IMPLEMENTED:
            raise
        assert "KeyError" in str(error), (
            f"asked for signature 'serve', which the flatbuffer has not, load_signature_tensors "
            f"raised {str(error).splitlines()[0]}; expected KeyError naming the keys there are"
        )
        return
    pytest.fail(
        f"asked for signature 'serve', which the flatbuffer has not (it has "
        f"{sorted(SIGNATURES)}), load_signature_tensors returned {type(loaded).__name__}: "
        "raise KeyError (check interpreter.get_signature_list())",
        pytrace=False,
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_reads_a_rewritten_file_anew(
    student, kind, reference, reference_export, tmp_path, savedmodel_probabilities, mnist
):
    other = kind.new_model(reference.create_model)
    other_export = kind.export(reference.save, other, tmp_path / "other")
    tflite = tmp_path / "served.tflite"
    images = mnist.test_images[:200]
    for rewritten, (source, expected) in enumerate(
        (
            (tflite_file_of(reference_export.directory), savedmodel_probabilities[:200]),
            (tflite_file_of(other_export.directory), kind.predict(other, images)),
        )
    ):
        # Replaced as a deployment replaces it (a new file renamed over the old one): an
        # interpreter still mapping the old file keeps reading the old model.
        shutil.copyfile(source, tmp_path / "incoming.tflite")
        os.replace(tmp_path / "incoming.tflite", tflite)
        runner = students_load(student, tflite, "serving_default")["runner"]
        try:
            probabilities = np.array(runner(input=images)["prediction"], copy=True)
        except Exception as error:
            when = ", replaced and loaded again" if rewritten else ""
            pytest.fail(
                f"the file at tflite_path was loaded{when}: its runner raised "
                f"{type(error).__name__}: {str(error).splitlines()[0][:200]}. "
                "Read the file anew on every call, and return that interpreter's runner",
                pytrace=False,
            )
        worst = float(np.max(np.abs(probabilities - expected)))
        assert worst <= FLOAT_TOLERANCE, (
            "the file at tflite_path was loaded, replaced by another model's flatbuffer and "
            f"loaded again: the second runner predicts other probabilities (by {worst:.3g}). "
            "Read the file anew on every call (never keep interpreters by path)"
            if rewritten
            else f"the runner predicts other probabilities than the flatbuffer (by {worst:.3g})"
        )


# --- a device: a fresh process with no TensorFlow ----------------------------------

DEVICE_SERVER = r"""
import importlib.abc, importlib.util, itertools, json, sys, traceback
BLOCKED = ("tensorflow", "keras", "tf_keras", "tensorboard")

class NoTensorFlow(importlib.abc.MetaPathFinder):
    # The device has no TensorFlow: any import of it fails, saying so.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(
                f"`import {name}` on the device: there is no TensorFlow here (the point of "
                "LiteRT). Import TensorFlow and Keras inside create_model and save only"
            )
        return None

sys.meta_path.insert(0, NoTensorFlow())
import numpy as np
numbers = itertools.count()

def imported(path):
    # Anew for every request: nothing of an earlier request's module stays.
    spec = importlib.util.spec_from_file_location(f"code_under_test_{next(numbers)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    stage = "importing " + request["loader"]
    try:
        loader = imported(request["loader"])
        stage = "importing " + request["evaluator"]
        evaluator = imported(request["evaluator"])
        images, labels = np.load(request["images"]), np.load(request["labels"])
        stage = "load_signature_tensors"
        loaded = loader.load_signature_tensors(request["tflite"], "serving_default")
        interpreter = type(loaded["interpreter"])
        stage = "the runner"
        probabilities = np.array(loaded["runner"](input=images)["prediction"], copy=True)
        stage = "evaluate"
        accuracy = evaluator.evaluate(loaded, images, labels)
        np.save(request["out"], probabilities)
        reply = {
            "accuracy": accuracy if isinstance(accuracy, float) else repr(accuracy),
            "interpreter": f"{interpreter.__module__}.{interpreter.__name__}",
            "tensorflow": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
        }
    except BaseException as error:
        # Where in the code under test (its files only, innermost last): the line to look at.
        ours = {request["loader"], request["evaluator"]}
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in ours]
        where = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.line}" for f in frames[-3:]]
        if stage.startswith("importing") and isinstance(error, ImportError):
            stage = (
                "your module imports TensorFlow (or Keras, which imports it) at its top level, "
                "where load_signature_tensors and evaluate must run without it (" + stage + ")"
            )
        reply = {
            "error": f"{stage}: {type(error).__name__}: {str(error)[:600]}",
            "where": where,
        }
    print(json.dumps(reply), flush=True)
"""


class DeviceProcess(FreshProcess):
    """A fresh, isolated Python process (python -I, an empty folder) in which TensorFlow cannot
    be imported: it imports a loader's and an evaluator's module from their files, loads a moved
    flatbuffer, and reports the probabilities and the accuracy."""

    def __init__(self) -> None:
        super().__init__()
        (self.folder / "reload_server.py").write_text(DEVICE_SERVER)

    def run_on_device(self, loader: Path, evaluator: Path, tflite: Path, images, labels):
        work = self.request_folder()
        np.save(work / "images.npy", images)
        np.save(work / "labels.npy", labels)
        request = {
            "loader": str(loader),
            "evaluator": str(evaluator),
            "tflite": str(tflite),
            "images": str(work / "images.npy"),
            "labels": str(work / "labels.npy"),
            "out": str(work / "probabilities.npy"),
        }
        try:
            reply = self.ask(request)
            if "error" in reply:
                where = "".join(f"\n  at {line}" for line in reply.get("where", []))
                raise FreshProcessError(reply["error"] + where)
            return reply, np.load(work / "probabilities.npy")
        finally:
            shutil.rmtree(work, ignore_errors=True)


_device: list[DeviceProcess] = []


@pytest.fixture(scope="session")
def device_process() -> DeviceProcess:
    """One for the run: a Python start and ai_edge_litert's import are its cost."""
    if not _device:
        _device.append(DeviceProcess())
        atexit.register(_device[0].remove)
    return _device[0]


def check_on_device(device_process, loader, evaluator, reference_export, new_export_dir, mnist,
                    savedmodel_probabilities, whose: str) -> None:  # fmt: skip
    moved_copy = new_export_dir()
    shutil.copytree(reference_export.directory, moved_copy)  # a copy, elsewhere: a device's
    try:
        reply, probabilities = device_process.run_on_device(
            loader, evaluator, tflite_file_of(moved_copy), mnist.test_images, mnist.test_labels
        )
    except FreshProcessError as error:
        pytest.fail(
            f"on a device (a fresh Python process where TensorFlow cannot be imported, the "
            f"flatbuffer moved), with {whose}:\n  {error}",
            pytrace=False,
        )
    assert reply["interpreter"].startswith("ai_edge_litert"), (
        f"on the device the interpreter is {reply['interpreter']}: use {MAINTAINED}"
    )
    assert not reply["tensorflow"], (
        f"on the device, {reply['tensorflow']} got imported: LiteRT code needs no TensorFlow"
    )
    worst = float(np.max(np.abs(probabilities - savedmodel_probabilities)))
    assert worst <= FLOAT_TOLERANCE, (
        f"on the device the runner predicts other probabilities than the SavedModel (by up to "
        f"{worst:.3g}), with {whose}"
    )
    right = Score(int(np.sum(savedmodel_probabilities.argmax(1) == mnist.test_labels)), 2000)
    check_accuracy(reply["accuracy"], right)


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_runs_on_a_device_without_tensorflow(
    student, reference, reference_export, device_process, new_export_dir, mnist,
    savedmodel_probabilities,
):  # fmt: skip
    check_on_device(
        device_process, Path(student.path), Path(reference.__file__), reference_export,
        new_export_dir, mnist, savedmodel_probabilities,
        "your module's load_signature_tensors (and the reference's evaluate)",
    )  # fmt: skip


# --- evaluate ----------------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_evaluate_returns_a_fraction,
    test_evaluate_counts_the_same_digits_as_the_trained_model,
    test_evaluate_counts_correct_predictions_on_any_subset,
    test_evaluate_takes_labels_of_any_integer_dtype,
    test_evaluate_answers_each_call_for_its_own_digits,
)


@pytest.mark.function("evaluate")
def test_evaluate_counts_one_digit_per_image(kind, student, reference_loaded, before_save, mnist):
    # Ten images: ten rows of ten probabilities, where an argmax over the wrong axis still gives
    # ten digits (and no broadcasting error) but other ones.
    rows = np.arange(10) * 97
    images, labels = mnist.test_images[rows], mnist.test_labels[rows]
    accuracy = kind.evaluate(
        student.evaluate, reference_loaded("serving_default", shared=True), images, labels
    )
    expected = Score(int(np.sum(before_save.probabilities[rows].argmax(1) == labels)), 10)
    assert isinstance(accuracy, float) and same_count(accuracy, expected), (
        f"for ten images evaluate returned {accuracy!r}; the model gets {expected}. Each image's "
        "digit is np.argmax(probabilities, axis=1): axis 0 runs over the images, axis 1 over "
        "the ten digits"
    )


@pytest.mark.function("evaluate")
def test_evaluate_counts_every_image_of_a_large_batch(
    kind, student, reference_loaded, before_save, mnist
):
    # 1,500 digits from the 251st: a count over part of them shows (the test set's two halves
    # happen to score alike, so the whole set would not).
    rows = np.arange(250, 1750)
    labels = mnist.test_labels[rows]
    accuracy = kind.evaluate(
        student.evaluate,
        reference_loaded("serving_default", shared=True),
        mnist.test_images[rows],
        labels,
    )
    check_counts_correct(accuracy, before_save.probabilities[rows], labels, before_save.score)


@pytest.mark.function("evaluate")
def test_evaluate_runs_the_signature_by_name_through_the_runner(
    student, reference, trained_copy, tmp_path, mnist
):
    # A flatbuffer whose 'serving_default' takes 'pixels', and whose first subgraph is another
    # signature, 'a_check' (one minus the probabilities): what tensor indices would run.
    model = trained_copy()
    pixels = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="pixels")
    savedmodel = keras_savedmodel(
        model,
        tmp_path / "named",
        {
            "serving_default": (
                lambda pixels: {"prediction": tf.nn.softmax(model(pixels))},
                [pixels],
            ),
            "a_check": (
                lambda pixels: {"prediction": 1.0 - tf.nn.softmax(model(pixels))},
                [pixels],
            ),
        },
    )
    tflite = converted_by_test(savedmodel, tmp_path / "named.tflite")
    loaded = reference.load_signature_tensors(str(tflite), "serving_default")
    images, labels = mnist.test_images[:300], mnist.test_labels[:300]
    expected = Score(int(np.sum(tf.nn.softmax(model(images)).numpy().argmax(1) == labels)), 300)
    lesson = (
        "Run the signature through loaded['runner'], by its input's name (the one key of "
        "loaded['inputs']), never by tensor index: get_input_details()[0]['index'] belongs to "
        "the interpreter's first subgraph, which may be another signature"
    )
    try:
        accuracy = student.evaluate(loaded=loaded, images=images, labels=labels)
    except StudentError as error:
        not_implemented_or(
            error,
            f"on a flatbuffer whose serving signature's input is 'pixels' and whose first "
            f"subgraph is another signature, evaluate raised (below). {lesson}. While a "
            "signature runner of it exists, the interpreter itself refuses resize_tensor_input, "
            "allocate_tensors and invoke ('There is at least 1 reference to internal data')",
        )
    assert isinstance(accuracy, float) and same_count(accuracy, expected), (
        f"on a flatbuffer whose serving signature's input is 'pixels' and whose first subgraph "
        f"is another signature, evaluate returned {accuracy!r}; the model gets {expected}. "
        f"{lesson}"
    )


@pytest.mark.function("evaluate")
def test_evaluate_runs_on_a_device_without_tensorflow(
    student, reference, reference_export, device_process, new_export_dir, mnist,
    savedmodel_probabilities,
):  # fmt: skip
    evaluator = Path(student.path)  # first: a stub's pointer is the report
    check_on_device(
        device_process, Path(reference.__file__), evaluator, reference_export,
        new_export_dir, mnist, savedmodel_probabilities,
        "your module's evaluate (and the reference's load_signature_tensors)",
    )  # fmt: skip


# --- all four together -------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import test_end_to_end_with_all_your_functions  # noqa: E402, F401
