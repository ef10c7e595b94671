"""The untouched stubs in exercises/ fail every exercise test, each with its pointer.

A maintainers' check (it reads exercises/ as committed): a stub that passes
a test means the test cannot fail; an error instead of a failure means a
student would meet a crash instead of a lesson.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from savedmodel_kata import catalogue, progress

ROOT = Path(__file__).resolve().parents[2]


def test_every_exercise_test_fails_on_the_stubs_with_its_pointer(pristine_exercises):
    exercises = list(catalogue.exercises())
    collected = progress.run_tests(ROOT, exercises)  # the same in-process run `kata status` makes
    assert collected.exit_code == pytest.ExitCode.TESTS_FAILED
    problems = collected.errors + [f"{r.nodeid} {r.when}: errored" for r in collected.results if r.when != "call"]
    assert not problems, "\n".join(problems)
    expected_modules = {f"exercises/{e.file_name}" for e in exercises}
    assert {r.nodeid.split("::")[0] for r in collected.results} == expected_modules
    for result in collected.results:
        assert not result.passed, f"{result.nodeid} passed on the untouched stub: it cannot fail"
        assert "is not implemented yet" in result.message and "kata hint" in result.message, (
            f"{result.nodeid} failed without the stub's pointer:\n{result.message}"
        )
