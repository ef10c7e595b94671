"""The runner's train and load jobs, on small data, and their answers to bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import StudentCode
from savedmodel_kata.errors import JobError, StudentError
from savedmodel_kata.kinds.base import Score
from savedmodel_kata.mnist import Digits, load_mnist_dataset
from savedmodel_kata.runner import cli, jobs

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = catalogue.exercises()[0]


@pytest.fixture(scope="module")
def small_data():
    """640 training and 200 test digits: enough for one quick epoch."""
    digits = load_mnist_dataset("bundled")
    return Digits(
        digits.train_images[:640], digits.train_labels[:640],
        digits.test_images[:200], digits.test_labels[:200],
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference_code():
    return StudentCode(ROOT, "solutions", EXERCISE)


@pytest.fixture(scope="module", params=catalogue.exercises(), ids=lambda e: e.id)
def any_reference(request):
    """Each exercise's reference, so every kind (graph, module, keras, bridge) runs the jobs."""
    return StudentCode(ROOT, "solutions", request.param)


@pytest.fixture(scope="module")
def exported(any_reference, small_data, tmp_path_factory):
    export_dir = tmp_path_factory.mktemp("jobs") / "backup"
    lines = []
    stats = jobs.train_and_export(any_reference, small_data, export_dir, epochs=1, log=lines.append)
    return export_dir, stats, lines


def test_train_prints_the_tutorials_epoch_line_and_records_stats(exported):
    export_dir, stats, lines = exported
    epoch_lines = [line for line in lines if line.startswith("  Epoch:")]
    assert len(epoch_lines) == 1
    assert (
        epoch_lines[0].startswith("  Epoch:  0, Loss: ")
        and ", Accuracy (train): " in epoch_lines[0]
    )
    assert stats["parameters"] == 2830
    recorded = json.loads((export_dir / jobs.RECORD_FILE).read_text())
    assert recorded["test"] == stats["test"] and recorded["exercise"] == stats["exercise"]


def test_load_reproduces_the_last_epochs_accuracies_exactly(exported, any_reference, small_data):
    export_dir, trained, _ = exported
    lines = []
    stats = jobs.load_and_check(any_reference, small_data, export_dir, log=lines.append)
    assert stats["matches_training"] is True
    reloaded = (
        Score.from_accuracy(stats["train_accuracy"], len(small_data.train_labels)),
        Score.from_accuracy(stats["test_accuracy"], len(small_data.test_labels)),
    )
    assert reloaded == (Score(*trained["train"]), Score(*trained["test"]))
    shown = [line for line in lines if line.startswith("  Image ")]
    assert len(shown) == 10
    assert shown[0].startswith(
        f"  Image 0, Groundtruth = {small_data.test_labels[0]}, Prediction = "
    )


def test_train_refuses_to_overwrite_without_being_asked(exported, any_reference, small_data):
    export_dir, _, _ = exported
    with pytest.raises(JobError, match=r"already exists.*--overwrite"):
        jobs.train_and_export(
            any_reference, small_data, export_dir, epochs=0, log=lambda line: None
        )


def test_overwrite_replaces_an_export_of_the_same_exercise(
    exported, any_reference, small_data, tmp_path
):
    # Every kind's folder (a SavedModel, checkpoints, a flatbuffer beside its SavedModel) is
    # recognised as an export, not mistaken for somebody's files.
    export_dir = tmp_path / "backup"
    shutil.copytree(exported[0], export_dir)
    (export_dir / jobs.RECORD_FILE).unlink()
    jobs.train_and_export(
        any_reference, small_data, export_dir, epochs=0, overwrite=True, log=lambda line: None
    )
    assert json.loads((export_dir / jobs.RECORD_FILE).read_text())["exercise"] == (
        any_reference.exercise.id
    )


def test_overwrite_never_deletes_a_folder_holding_other_files(reference_code, small_data, tmp_path):
    folder = tmp_path / "my-work"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    with pytest.raises(JobError, match=r"holds more than a SavedModel.*notes.txt"):
        jobs.train_and_export(
            reference_code, small_data, folder, epochs=0, overwrite=True, log=lambda line: None
        )
    assert (folder / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda path: None,
            r"does not exist: run `kata train --exercise 1 --target solutions --export-dir \S+` ",
        ),
        (lambda path: path.write_text("x"), "is a file, not a SavedModel folder"),
        (lambda path: path.mkdir(), "holds no saved_model.pb"),
        (
            lambda path: (path.mkdir(), (path / "saved_model.pb").write_bytes(b"\xff\xff garbage")),
            "is damaged",
        ),
    ],
    ids=["missing", "a-file", "empty", "corrupt"],
)
def test_load_explains_a_bad_export_dir(reference_code, small_data, tmp_path, make, message):
    export_dir = tmp_path / "backup"
    make(export_dir)
    with pytest.raises(JobError, match=message):
        jobs.load_and_check(reference_code, small_data, export_dir, log=lambda line: None)


def test_load_explains_an_export_with_other_tags(reference_code, small_data, tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    original = tmp_path / "original"
    jobs.train_and_export(reference_code, small_data, original, epochs=0, log=lambda line: None)
    export_dir = tmp_path / "retagged"
    export_dir.mkdir()
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((original / "saved_model.pb").read_bytes())
    del proto.meta_graphs[0].meta_info_def.tags[:]
    proto.meta_graphs[0].meta_info_def.tags.append("train")
    (export_dir / "saved_model.pb").write_bytes(proto.SerializeToString())
    with pytest.raises(
        JobError, match=r"no MetaGraph tagged 'serve' \(its tag sets: \[\['train'\]\]\)"
    ):
        jobs.load_and_check(reference_code, small_data, export_dir, log=lambda line: None)


def test_cli_on_the_stubs_prints_the_lesson_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("KATA_ROOT", raising=False)
    code = cli.main(
        ["train", "--impl", "exercises", "--epochs", "1", "--export-dir", str(tmp_path / "out")]
    )
    assert code == 1
    assert "create_model() is not implemented yet" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_hint_levels_reveal_progressively(capsys):
    assert cli.main(["hint", "1", "save"]) == 0
    first = capsys.readouterr().out
    assert "1. " in first and "2. " not in first and "--level 2" in first
    assert cli.main(["hint", "1", "save", "--level", "3"]) == 0
    assert "3. " in capsys.readouterr().out


def test_cli_unknown_exercise_lists_the_known_ones(capsys):
    assert cli.main(["hint", "99"]) == 1
    assert "there is no exercise 99" in capsys.readouterr().err


def test_load_refuses_another_exercises_export_and_names_it(exported, small_data):
    export_dir, stats, _ = exported
    owner = catalogue.by_id(stats["exercise"])
    other = next(e for e in catalogue.exercises() if e != owner)
    code = StudentCode(ROOT, "solutions", other)
    with pytest.raises(JobError, match=rf"holds exercise {owner.number}'s export"):
        jobs.load_and_check(code, small_data, export_dir, log=lambda line: None)


def test_overwrite_keeps_the_old_export_when_the_new_training_fails(small_data, tmp_path):
    export_dir = tmp_path / "ex01"
    good = StudentCode(ROOT, "solutions", EXERCISE)
    jobs.train_and_export(good, small_data, export_dir, epochs=0, log=lambda line: None)
    before = (export_dir / "saved_model.pb").read_bytes()
    stub = StudentCode(ROOT, "exercises", EXERCISE)
    with pytest.raises(StudentError, match="not implemented yet"):
        jobs.train_and_export(stub, small_data, export_dir, epochs=0, overwrite=True, log=print)
    assert (export_dir / "saved_model.pb").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ex01"], "a half-written export was left"


def test_train_imports_student_code_as_the_tests_do(kata_copy, small_data):
    # `from exercises.<module> import ...` works under pytest (the repository is on sys.path):
    # kata train must import the student's module the same way.
    (kata_copy / "exercises" / "my_layers.py").write_text("UNITS = 32\n")
    source = (ROOT / "solutions" / EXERCISE.file_name).read_text()
    helper_import = "import numpy as np\n\nfrom exercises.my_layers import UNITS\n"
    (kata_copy / "exercises" / EXERCISE.file_name).write_text(
        source.replace("import numpy as np\n", helper_import, 1)
    )
    code = StudentCode(kata_copy, "exercises", EXERCISE)
    stats = jobs.train_and_export(
        code, small_data, kata_copy / "out", epochs=0, log=lambda line: None
    )
    assert stats["parameters"] == 2830


def test_what_the_kata_writes_is_ignored_by_git():
    import subprocess

    written = [
        "backup/ex01/saved_model.pb",
        "backup/ex03.keras",
        "grading-report/summary.txt",
        "exercises/.backups/ex01_graph_mode.2026.py",
        "gradescope-autograder.zip",
    ]
    ignored = subprocess.run(
        ["git", "check-ignore", *written], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert sorted(ignored) == sorted(written)


@pytest.mark.parametrize("export_dir", [None, "elsewhere/model"], ids=["default-dir", "given-dir"])
def test_train_suggests_the_load_that_reloads_what_it_wrote(kata_copy, capsys, export_dir):
    import shlex

    chosen = ["--export-dir", export_dir] if export_dir else []
    train = ["train", "--target", "solutions", "--exercise", "1", "--epochs", "0", *chosen]
    assert cli.main(train) == 0
    suggested = re.search(r"`(kata load [^`]*)` reloads it", capsys.readouterr().out).group(1)
    assert "--target solutions" in suggested and "--exercise 1" in suggested
    assert ("--export-dir" in suggested) == bool(export_dir)
    # The suggestion, run as given, reloads this export and finds the training's accuracies.
    assert cli.main(shlex.split(suggested)[1:]) == 0
    assert "nothing was lost on the way to disk" in capsys.readouterr().out


def test_load_of_a_missing_export_suggests_the_train_that_writes_it(kata_copy, capsys):
    assert cli.main(["load", "--target", "solutions", "--export-dir", "nowhere"]) == 1
    assert "run `kata train --exercise 1 --target solutions --export-dir nowhere` first" in (
        capsys.readouterr().err
    )
