"""How a failing exercise test reads: what is wrong, what was expected, where to look.

The test's own message (or the lesson of the student's error) replaces
pytest's traceback; a line says which check it was; a section says which
function and file to look at and which hint to ask for. Nothing of pytest's
or TensorFlow's frames, no arrays: the verbose setting (`-v` is not enough:
`kata --verbose`, KATA_VERBOSE=1) keeps pytest's full report instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from savedmodel_kata.catalogue import END_TO_END, Exercise
from savedmodel_kata.errors import ModelError, StudentError
from savedmodel_kata.lessons import advice_for, shorten
from savedmodel_kata.results import Failure

NOTE_WIDTH = 160  # Hypothesis' notes print the falsifying arguments: keep each to a line


def classify(excinfo) -> Failure:
    """How the test failed, from the exception that ended it."""
    if excinfo.errisinstance(StudentError):
        return Failure(excinfo.value.failure)
    if excinfo.errisinstance((AssertionError, pytest.fail.Exception, ModelError)):
        return Failure.CHECK
    return Failure.TEST_ERROR


def _notes(error: BaseException) -> str:
    lines = []
    for note in getattr(error, "__notes__", ()):
        for line in str(note).splitlines():
            lines.append(line if len(line) <= NOTE_WIDTH else line[: NOTE_WIDTH - 1] + "…")
    return "".join(f"\n{line}" for line in lines)


def _test_location(excinfo, item) -> str:
    """file:line of the innermost frame in the test module (where the check is)."""
    for entry in reversed(excinfo.traceback):
        if Path(str(entry.path)) == Path(item.path):
            return f"{Path(str(entry.path)).name}:{entry.lineno + 1}"
    entry = excinfo.traceback[-1]
    return f"{Path(str(entry.path)).name}:{entry.lineno + 1}"


def lesson(item, excinfo, failure: Failure) -> str:
    """The short report of a failed test."""
    error = excinfo.value
    if failure in (
        Failure.NOT_IMPLEMENTED,
        Failure.RAISED,
        Failure.TIMED_OUT,
        Failure.DOES_NOT_IMPORT,
        Failure.MISSING_FUNCTION,
    ):
        return f"{error}{_notes(error)}"  # the lesson already says what and where
    where = _test_location(excinfo, item)
    if failure == Failure.CHECK:
        # A message's operand dump (pytest's "assert x == y" after it) is noise to a
        # student; a bare assert has only the dump, so it stays.
        message = str(error).split("\nassert ")[0] if str(error).strip() else "check failed"
        return f"{message}{_notes(error)}\n(checked at {where})"
    return (
        f"the test itself raised {type(error).__name__} at {where}: {shorten(str(error))}"
        f"{advice_for(str(error))}{_notes(error)}"
    )


def where_to_look(exercise: Exercise, function: str, target: str) -> str:
    where = f"{target}/{exercise.file_name}"
    if function == END_TO_END:
        look = (
            f"all four functions in {where} (this test chains them; their own tests say "
            "which is wrong)"
        )
        hint = f"kata hint {exercise.number}"
    else:
        look = f"{function}() in {where}"
        hint = f"kata hint {exercise.number} {function}"
    return f"{look}\nHints: `{hint}`"
