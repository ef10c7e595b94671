"""A student's file that does not import: one report, its other tests skipped, and grades that
still count every one of its tests as not passed (and no other exercise's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from savedmodel_kata import catalogue, results
from savedmodel_kata.grading.grader import grade
from savedmodel_kata.plugin.in_process import run_tests
from savedmodel_kata.results import Failure

ROOT = Path(__file__).resolve().parents[2]
EX1, EX2 = catalogue.by_number(1), catalogue.by_number(2)
MAX_LINES = 40  # pytest's header and summary included; one report per test was 168 lines


def with_a_syntax_error(exercise: catalogue.Exercise) -> str:
    """The stub with `def create_model(:(x):`, the line numbered as in the stub."""
    stub = (ROOT / "exercises" / exercise.file_name).read_text()
    broken = stub.replace("def create_model(", "def create_model(:(", 1)
    assert broken != stub
    return broken


def syntax_error_line(source: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if "create_model(:(" in line)


def test_a_syntax_error_is_reported_once_with_its_line_and_the_other_tests_skipped(kata_copy):
    source = with_a_syntax_error(EX1)
    (kata_copy / "exercises" / EX1.file_name).write_text(source)
    environment = {k: v for k, v in os.environ.items() if k != "KATA_TARGET"}
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", f"exercises/{EX1.file_name}", "-p", "no:cacheprovider"],
        cwd=kata_copy,
        env=environment,
        capture_output=True,
        text=True,
    )
    output = finished.stdout
    assert finished.returncode == 1, output + finished.stderr
    line = syntax_error_line(source)
    # One report, naming the file, the line and Python's error, with the line and a caret...
    assert output.count("Python cannot read this file") == 1, output
    assert f"exercises/{EX1.file_name} line {line}: Python cannot read this file" in output
    assert "    def create_model(:(x):\n                     ^" in output
    assert len(re.findall(r"^FAILED ", output, re.M)) == 1, output
    # ...the module's other tests skipped, said in one line, and the whole run on a screen.
    collected = int(re.search(r"collected (\d+) items", output).group(1))
    assert f"1 failed, {collected - 1} skipped" in output, output
    assert f"{collected - 1} other tests of exercises/{EX1.file_name} skipped" in output
    assert len(output.splitlines()) <= MAX_LINES, output


def test_status_counts_a_module_that_does_not_import_as_failing_every_test_of_it(kata_copy):
    broken = with_a_syntax_error(EX2)
    (kata_copy / "exercises" / EX2.file_name).write_text(broken)
    recorder = run_tests(kata_copy, [EX2])
    assert recorder.results and not recorder.errors
    assert {(r.passed, r.failure) for r in recorder.results} == {(False, Failure.DOES_NOT_IMPORT)}
    skipped = [r for r in recorder.results if r.message.startswith("not run:")]
    assert len(skipped) == len(recorder.results) - 1
    line = syntax_error_line(broken)
    assert f"exercises/{EX2.file_name} does not import (line {line})" in skipped[0].message
    scores = results.score(recorder.results, [EX2])
    assert scores.earned == 0 and scores.points == EX2.points
    assert all(s.state == results.State.FAILING and s.total for s in scores.functions)


def test_a_skip_in_student_code_never_counts_as_passed(kata_copy):
    # evaluate() skips its test when given the whole test set (pytest.skip is a BaseException:
    # no `except Exception` of the harness sees it), and answers right otherwise.
    source = (ROOT / "solutions" / EX1.file_name).read_text()
    evaluate = "def evaluate(sess, tensors, images, labels):\n"
    skipping = evaluate + "    if len(labels) >= 2000:\n        __import__('pytest').skip('slow')\n"
    assert source.count(evaluate) == 1
    (kata_copy / "exercises" / EX1.file_name).write_text(source.replace(evaluate, skipping))
    recorder = run_tests(kata_copy, [EX1], select="evaluate")
    not_run = [r for r in recorder.results if r.failure == Failure.NOT_RUN]
    assert not_run and all(not r.passed and "not run: slow" in r.message for r in not_run)
    (score,) = [s for s in results.score(recorder.results, [EX1]).functions if s.total]
    assert score.function == "evaluate" and score.earned < score.points


def test_a_grade_costs_a_module_that_does_not_import_its_own_exercise_only(tmp_path):
    submission = tmp_path / "submission"
    (submission / "exercises").mkdir(parents=True)
    for exercise in catalogue.exercises():
        (submission / "exercises" / exercise.file_name).write_text(
            (ROOT / "exercises" / exercise.file_name).read_text()
        )
    (submission / "exercises" / EX1.file_name).write_text(
        (ROOT / "solutions" / EX1.file_name).read_text()
    )
    (submission / "exercises" / EX2.file_name).write_text(with_a_syntax_error(EX2))
    graded = grade(submission, pristine=ROOT, exercises=[EX1, EX2])
    earned = {
        exercise: sum(f.earned for f in graded.scores.for_exercise(exercise))
        for exercise in (EX1, EX2)
    }
    assert earned == {EX1: EX1.points, EX2: 0}, graded.problems
    ex2_tests = [t for t in graded.tests if t.exercise == EX2.id]
    assert ex2_tests and all(t.failure == Failure.DOES_NOT_IMPORT for t in ex2_tests)
