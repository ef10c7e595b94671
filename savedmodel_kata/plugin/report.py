"""How a failing exercise test reads: what is wrong, what was expected, where to look.

The test's own message (or the lesson of the student's error) replaces
pytest's traceback; a line says which check it was; a section says which
function and file to look at and which hint to ask for. Nothing of pytest's
or TensorFlow's frames, no arrays: `pytest -vv` (or KATA_VERBOSE=1, `kata
--verbose`) keeps pytest's full report instead.
"""

from __future__ import annotations

import re
import sys
import traceback
from pathlib import Path

import pytest

from savedmodel_kata.catalogue import END_TO_END, Exercise
from savedmodel_kata.errors import ModelError, StudentError
from savedmodel_kata.lessons import advice_for, shorten
from savedmodel_kata.results import Failure

NOTE_WIDTH = 160  # Hypothesis' notes print the falsifying arguments: keep each to a line


def first_error(error: BaseException) -> tuple[BaseException, int]:
    """The error to report, and how many others came with it (Hypothesis may raise a group
    of distinct failures: the first teaches, the count says there is more)."""
    others = 0
    while group := getattr(error, "exceptions", None):  # an ExceptionGroup (3.11, or backported)
        others += len(group) - 1
        error = group[0]
    return error, others


def classify(excinfo: pytest.ExceptionInfo[BaseException]) -> Failure:
    """How the test failed, from the exception that ended it."""
    error, _ = first_error(excinfo.value)
    if isinstance(error, StudentError):
        return Failure(error.failure)
    if isinstance(error, (AssertionError, pytest.fail.Exception, ModelError)):
        return Failure.CHECK
    return Failure.TEST_ERROR


def _notes(error: BaseException, fixtures: frozenset[str] = frozenset()) -> str:
    """The notes on an error (Hypothesis' falsifying example), each argument on one short
    line, and the fixtures left out: they are the same in every example."""
    lines: list[str] = []
    skipping = False
    for note in getattr(error, "__notes__", ()):
        for line in str(note).splitlines():
            argument = re.match(r"^    (\w+)=", line)
            if argument:
                skipping = argument.group(1) in fixtures
                if not skipping:
                    lines.append(line)
            elif line.startswith("     "):
                if not skipping:  # a long value's next line: joined to its first
                    lines[-1] += " " + line.strip()
            elif line.strip():
                skipping = False  # the example's closing parenthesis, or another note
                lines.append(line)
    shortened = (
        line if len(line) <= NOTE_WIDTH else line[: NOTE_WIDTH - 1] + "…" for line in lines
    )
    return "".join(f"\n{line}" for line in shortened)


def _location(error: BaseException, item: pytest.Item) -> str:
    """file:line of the innermost frame in the test's own file (where the check is): its
    module's, or the shared module's that a test module takes it from (shared_tests.py)."""
    frames = traceback.extract_tb(error.__traceback__)
    module = sys.modules.get(getattr(getattr(item, "obj", None), "__module__", ""))
    defined_in = getattr(module, "__file__", None)
    files = {Path(item.path), Path(defined_in or item.path)}
    mine = [f for f in frames if Path(f.filename) in files] or frames[-1:]
    return f"{Path(mine[-1].filename).name}:{mine[-1].lineno}" if mine else Path(item.path).name


def lesson(
    item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException], failure: Failure
) -> str:
    """The short report of a failed test."""
    error, others = first_error(excinfo.value)
    if failure == Failure.DOES_NOT_IMPORT:
        # The same for every example and every test: Hypothesis' notes would only repeat it.
        return (
            f"{error}\nNo test of this exercise can run until the file imports: the others "
            "are skipped."
        )
    fixtures = frozenset(getattr(item, "fixturenames", ()))
    notes = _notes(error, fixtures)
    if others:
        notes += f"\n(and {others} other failing example{'s' if others > 1 else ''})"
    if failure in (
        Failure.NOT_IMPLEMENTED,
        Failure.RAISED,
        Failure.TIMED_OUT,
        Failure.MISSING_FUNCTION,
    ):
        return f"{error}{notes}"  # the lesson already says what and where
    where = _location(error, item)
    if failure == Failure.CHECK:
        # A message's operand dump (pytest's "assert x == y" after it) is noise to a
        # student; a bare assert has only the dump, so it stays.
        message = str(error).split("\nassert ")[0] if str(error).strip() else "check failed"
        return f"{message}{notes}\n(checked at {where})"
    return (
        f"the test itself raised {type(error).__name__} at {where}: {shorten(str(error))}"
        f"{advice_for(str(error))}{notes}"
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


def where_to_look_on_import(exercise: Exercise, target: str, line: int | None) -> str:
    """Where to look when the module does not import: its line, and Python's own report."""
    where = f"{target}/{exercise.file_name}"
    at_line = f", line {line}" if line else ""
    return (
        f"{where}{at_line}: the file must import before any test can run\n"
        f"Python's own report of it: `python {where}`"
    )
