"""The suite's power to catch the mistakes students make, itself tested.

Each case plants one common mistake in a copy of the reference solution,
runs that exercise's tests for the function concerned (in-process, against
the copy) and requires a failure whose message names the mistake and its
fix. A case that stops failing means a test lost its teeth; a message that
stops matching means a student would be left without the lesson.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.runner.test_runs import run_tests

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mistake:
    name: str
    exercise: int
    function: str
    original: str  # text of the reference solution ...
    planted: str  # ... replaced by this
    message: str  # a failing test's report must contain this

    def __str__(self):
        return self.name


MISTAKES = [
    Mistake(
        "tags given as a string",
        1,
        "load_signature_tensors",
        "loader.load(sess, [SERVE_TAG], export_dir)",
        "loader.load(sess, SERVE_TAG, export_dir)",
        "Tags are a list, ['serve'], not the string 'serve'",
    ),
    Mistake(
        "wrong tags",
        4,
        "save",
        "[SERVE_TAG], signature_def_map",
        "['train'], signature_def_map",
        "tags are ['train']; expected ['serve']",
    ),
    Mistake(
        "tensor name without :0",
        1,
        "load_signature_tensors",
        "get_tensor_by_name(info.name)",
        "get_tensor_by_name(info.name.split(':')[0])",
        "A tensor's name ends with its output index, ':0'",
    ),
    Mistake(
        "an Operation instead of a Tensor",
        1,
        "load_signature_tensors",
        "sess.graph.get_tensor_by_name(info.name)",
        "sess.graph.get_operation_by_name(info.name.split(':')[0])",
        "is the Operation 'myInput', not a Tensor",
    ),
    Mistake(
        "tensor names used as signature keys",
        1,
        "load_signature_tensors",
        "{key: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints.items()}",
        "{info.name: sess.graph.get_tensor_by_name(info.name) for key, info in endpoints.items()}",
        "expected the signature's keys",
    ),
    Mistake(
        "signature key misspelt: predictions",
        1,
        "save",
        '"prediction": y_pred',
        '"predictions": y_pred',
        "Keys are the names you choose in the inputs= and outputs= dicts",
    ),
    Mistake(
        "signature key misspelt: inputs",
        1,
        "save",
        'inputs={"input": x}',
        'inputs={"inputs": x}',
        "expected inputs ['input']",
    ),
    Mistake(
        "a fixed batch size in a reshape",
        1,
        "create_model",
        "tf.reshape(hidden, [-1,",
        "tf.reshape(hidden, [32,",
        "use -1 for the batch dimension",
    ),
    Mistake(
        "softmax in the model, then softmax again",
        1,
        "create_model",
        'return _dense("dense2", hidden, units=NUM_CLASSES)',
        'return tf.nn.softmax(_dense("dense2", hidden, units=NUM_CLASSES))',
        "create_model applies a softmax",
    ),
    Mistake(
        "prediction mapped to the logits",
        2,
        "save",
        '{"prediction": tf.nn.softmax(model(input))}',
        '{"prediction": model(input)}',
        "is it the softmax of the model's logits?",
    ),
    Mistake(
        "variables re-initialised before export",
        1,
        "save",
        "    v1.saved_model.simple_save(",
        "    sess.run(v1.global_variables_initializer())\n    v1.saved_model.simple_save(",
        "Running an initializer in save() resets the model to untrained weights",
    ),
    Mistake(
        "exporting into a folder that is not empty",
        1,
        "save",
        '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n    )',
        '        outputs={"output": y, "prediction": y_pred, "accuracy": acc},\n    )\n'
        '    v1.saved_model.simple_save(sess, export_dir, inputs={"input": x}, '
        'outputs={"prediction": y_pred})',
        "SavedModel exporters refuse a folder that already holds files",
    ),
    Mistake(
        "no serving_default signature",
        2,
        "save",
        'signatures={"serving_default": serve,',
        'signatures={"serve": serve,',
        "expected ['evaluate', 'serving_default']",
    ),
    Mistake(
        "TF2 outputs left as output_0",
        2,
        "save",
        'return {"prediction": tf.nn.softmax(model(input))}',
        "return tf.nn.softmax(model(input))",
        "TensorFlow names an unnamed output 'output_0'",
    ),
    Mistake(
        "TFSMLayer called with an endpoint the export lacks",
        3,
        "load_signature_tensors",
        "TFSMLayer(export_dir, call_endpoint=endpoint),",
        'TFSMLayer(export_dir, call_endpoint="serving"),',
        "TFSMLayer's call_endpoint must be an endpoint the export has",
    ),
    Mistake(
        "metrics.accuracy without local-variable initialisation",
        1,
        "evaluate",
        '    value = sess.run(\n        tensors["accuracy"],',
        '    _, update = v1.metrics.accuracy(tf.argmax(tensors["output"], 1), '
        'tf.argmax(tensors["prediction"], 1))\n'
        "    value = sess.run(\n        update,",
        "local_variables_initializer()",
    ),
    Mistake(
        "placeholders with eager execution on",
        2,
        "evaluate",
        '    outputs = signature["function"](',
        "    tf.compat.v1.placeholder(tf.int64, [None], name='label')\n"
        '    outputs = signature["function"](',
        "Placeholders exist only in graph mode",
    ),
    Mistake(
        "accuracy returned as a percentage",
        1,
        "evaluate",
        "    return float(value)",
        "    return 100 * float(value)",
        "this looks like a percentage, drop the * 100",
    ),
    Mistake(
        "evaluate computed on a subset of the data",
        1,
        "evaluate",
        'feed_dict={tensors["input"]: images, tensors["output"]: one_hot_labels}',
        'feed_dict={tensors["input"]: images[:1000], tensors["output"]: one_hot_labels[:1000]}',
        "Feed all images and their one-hot labels",
    ),
]


def plant(mistake: Mistake, workspace: Path) -> Path:
    """A kata root whose exercises/ holds the reference with the mistake planted."""
    for name in ("solutions", "tests"):
        (workspace / name).symlink_to(ROOT / name)
    (workspace / "exercises").mkdir()
    (workspace / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    exercise = catalogue.by_number(mistake.exercise)
    source = (ROOT / "solutions" / exercise.file_name).read_text()
    assert source.count(mistake.original) == 1, (
        f"{mistake}: the reference no longer contains {mistake.original!r}"
    )
    target = workspace / "exercises" / exercise.file_name
    target.write_text(source.replace(mistake.original, mistake.planted))
    return target


def test_every_listed_mistake_is_named_by_a_case():
    named = {m.name for m in MISTAKES}
    assert len(named) == len(MISTAKES), "two cases share a name"


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_a_planted_mistake_fails_its_functions_tests_with_the_lesson(
    mistake, tmp_path, monkeypatch
):
    plant(mistake, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KATA_ROOT", raising=False)
    prefix = (
        "test_load" if mistake.function == "load_signature_tensors" else f"test_{mistake.function}"
    )
    recorder = run_tests(tmp_path, [catalogue.by_number(mistake.exercise)], select=prefix)
    assert not recorder.errors, "\n".join(recorder.errors)
    failures = {r.nodeid: r.message for r in recorder.results if not r.passed}
    assert recorder.exit_code == pytest.ExitCode.TESTS_FAILED and failures, (
        f"planting '{mistake}' in {mistake.function}() failed none of its tests: "
        "the suite cannot see it"
    )
    teaching = [nodeid for nodeid, text in failures.items() if mistake.message in text]
    assert teaching, (
        f"planting '{mistake}' failed {sorted(failures)}, "
        f"but no report says {mistake.message!r}:\n\n" + "\n\n".join(failures.values())
    )
    shutil.rmtree(tmp_path / "exercises")
