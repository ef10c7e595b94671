"""A class on a Dask cluster: `kata grade --class FOLDER --cluster local:2` writes the gradebook
the local pool writes, byte for byte, contains a crash to its student, and resumes."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.errors import KataError
from savedmodel_kata.grading import workspace
from savedmodel_kata.runner.cli import main

ROOT = Path(__file__).resolve().parents[2]
EX1 = catalogue.by_number(1)
ONE_WRONG = ("    return float(value)", "    return 100 * float(value)")  # evaluate only
CRASH = (
    '    hidden = _conv_block("conv1", x, size=3, filters=8)',
    "    import os\n    os._exit(3)",
)


def _class(folder: Path) -> None:
    solution = (ROOT / "solutions" / EX1.file_name).read_text()
    uploads = {
        "ada": solution,
        "crasher": solution.replace(*CRASH),
        "stub": (ROOT / "exercises" / EX1.file_name).read_text(),
        "wrong": solution.replace(*ONE_WRONG),
    }
    for student, text in uploads.items():
        (folder / student / "exercises").mkdir(parents=True)
        (folder / student / "exercises" / EX1.file_name).write_text(text)


def _pristine(copy: Path) -> Path:
    """The harness as it is now: the reports' fingerprints are of it, whatever changes here."""
    for path in workspace.harness_files(ROOT):
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, copy / path)
    return copy


def _grade(folder: Path, out: Path, pristine: Path, *more: str) -> None:
    command = ["grade", "--class", str(folder), "--out", str(out), "--pristine", str(pristine)]
    assert main([*command, "--exercise", "1", *more]) == 0


def test_a_cluster_of_two_writes_the_local_pools_gradebook_and_resumes(tmp_path):
    folder, local, on_cluster = tmp_path / "class", tmp_path / "local", tmp_path / "cluster"
    _class(folder)
    pristine = _pristine(tmp_path / "pristine")
    _grade(folder, local, pristine)
    _grade(folder, on_cluster, pristine, "--cluster", "local:2")  # two tasks of two each

    book = (on_cluster / "gradebook.csv").read_bytes()
    assert book == (local / "gradebook.csv").read_bytes()
    for student in ("ada", "crasher", "stub", "wrong"):
        report = (on_cluster / student / "report.json").read_bytes()
        assert report == (local / student / "report.json").read_bytes(), student
    totals = {
        name: json.loads((on_cluster / name / "report.json").read_text())
        for name in ("ada", "crasher", "stub", "wrong")
    }
    assert [totals[name]["score"] for name in ("ada", "crasher", "stub", "wrong")] == [
        EX1.points,
        0,
        0,
        EX1.points - 2,  # evaluate and the end-to-end test
    ]
    assert any(
        "the test process ended abruptly (exit code 3) in test_create_model" in problem
        for problem in totals["crasher"]["problems"]
    )
    assert not totals["ada"]["problems"] and not totals["wrong"]["problems"]

    # Run again: nothing changed, so nothing is graded (no cluster is even started).
    before = {p: p.stat().st_mtime_ns for p in on_cluster.glob("*/report.json")}
    _grade(folder, on_cluster, pristine, "--cluster", "local:2")
    assert before == {p: p.stat().st_mtime_ns for p in on_cluster.glob("*/report.json")}
    assert (on_cluster / "gradebook.csv").read_bytes() == book


def test_without_dask_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "savedmodel_kata.grading.cluster", raising=False)
    with pytest.raises(KataError, match=r"pip install 'savedmodel-kata\[cluster\]'"):
        importlib.import_module("savedmodel_kata.grading.cluster")


def test_a_local_cluster_needs_a_number_of_workers():
    from savedmodel_kata.grading import cluster

    with pytest.raises(KataError, match="local:N needs a number"), cluster._client("local:none"):
        pass
