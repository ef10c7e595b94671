"""Graded exercises kept between the steps of one per-function checks run (GitHub Actions).

The workflow has one step per function. The first step of an
exercise grades it (one TensorFlow import) and stores the result here; the
exercise's other steps read it back. A stored result counts only for the
exercise file and the grading manifest it was computed from. The store lives
in the runner's home folder, outside the repository, so a student cannot
commit one; a first step that did not finish leaves a `started` mark, and
the later steps say so instead of grading again (one time limit must not
cascade into the next steps).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.errors import GradingError
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.results import TestResult

DEFAULT_STORE = Path("~/.cache/kata-grading")


def fingerprint(root: Path, exercise: catalogue.Exercise) -> dict[str, str]:
    """What a stored result depends on: the student's file and the pristine harness's manifest."""
    from savedmodel_kata.grading.workspace import MANIFEST_FILE

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"

    return {
        "exercise_file": digest(root / "exercises" / exercise.file_name),
        "manifest": digest(root / MANIFEST_FILE),
    }


def _paths(store: Path, exercise: catalogue.Exercise) -> tuple[Path, Path]:
    store = store.expanduser()
    return store / f"{exercise.id}.json", store / f"{exercise.id}.started"


def mark_started(store: Path, exercise: catalogue.Exercise) -> None:
    result, started = _paths(store, exercise)
    started.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    started.write_text("")


def save(store: Path, root: Path, exercise: catalogue.Exercise, graded) -> None:
    result, started = _paths(store, exercise)
    record = {
        "fingerprint": fingerprint(root, exercise),
        "tests": [t.to_json() for t in graded.tests if t.exercise == exercise.id],
        "problems": graded.problems,
        "tampered": graded.tampered,
        "notes": graded.notes,
        "seconds": graded.seconds,
    }
    with tempfile.NamedTemporaryFile("w", dir=result.parent, delete=False) as handle:
        json.dump(record, handle)
    os.replace(handle.name, result)
    started.unlink(missing_ok=True)


def load(store: Path, root: Path, exercise: catalogue.Exercise) -> GradingResults:
    """The stored grading of `exercise` (a GradingResults), or GradingError saying why there
    is none."""

    result, started = _paths(store, exercise)
    if not result.is_file():
        why = (
            "its first step started but did not finish (a time limit?)"
            if started.is_file()
            else "its first step did not run"
        )
        raise GradingError(f"exercise {exercise.number} was not graded: {why}")
    record = json.loads(result.read_text())
    if record["fingerprint"] != fingerprint(root, exercise):
        raise GradingError(
            f"exercise {exercise.number}'s stored grading is for another version of its file "
            "or of the harness: its first step must grade it again"
        )
    return GradingResults(
        exercises=[exercise],
        tests=[TestResult.from_json(t) for t in record["tests"]],
        problems=record["problems"],
        tampered=record["tampered"],
        notes=record["notes"],
        seconds=record["seconds"],
    )
