"""The untouched stubs in exercises/ fail every exercise test, each with its pointer.

A maintainers' check (it reads exercises/ as committed): a stub that passes
a test means the test cannot fail; an error instead of a failure means a
student would meet a crash instead of a lesson.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.plugin.in_process import run_tests
from savedmodel_kata.results import Failure

ROOT = Path(__file__).resolve().parents[2]


def test_every_exercise_test_fails_on_the_stubs_with_its_pointer(pristine_exercises):
    exercises = list(catalogue.exercises())
    recorder = run_tests(ROOT, exercises)  # the same in-process run `kata status` makes
    assert recorder.exit_code == pytest.ExitCode.TESTS_FAILED
    assert not recorder.errors, "\n".join(recorder.errors)
    expected_modules = {f"tests/{e.test_file_name}" for e in exercises}
    assert {r.nodeid.split("::")[0] for r in recorder.results} == expected_modules
    for result in recorder.results:
        assert not result.passed, f"{result.nodeid} passed on the untouched stub: it cannot fail"
        assert result.failure == Failure.NOT_IMPLEMENTED, (
            f"{result.nodeid} failed as {result.failure}, not with the stub's NotImplementedError:"
            f"\n{result.message}"
        )
        assert "is not implemented yet" in result.message and "kata hint" in result.message, (
            f"{result.nodeid} failed without the stub's pointer:\n{result.message}"
        )


def test_a_stubs_tests_set_nothing_up(pristine_exercises, monkeypatch):
    # Every fixture that trains, exports or reloads goes through the exercise's kind: a run
    # on the untouched stubs must never ask for one (it failed after 4.75 bare TensorFlow
    # imports' time, training and exporting each reference before the first pointer).
    from savedmodel_kata import kinds

    def no_kind(exercise):
        raise AssertionError(f"a test of exercise {exercise.number}'s stubs set up its kind")

    monkeypatch.setattr(kinds, "for_exercise", no_kind)
    recorder = run_tests(ROOT, list(catalogue.exercises()))
    assert recorder.results and not recorder.errors
    assert {r.failure for r in recorder.results} == {Failure.NOT_IMPLEMENTED}
