"""The runner's commands for students: status, watch's check, reset, solution."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from savedmodel_kata import catalogue, results
from savedmodel_kata.results import Failure, State, TestResult
from savedmodel_kata.runner import cli
from savedmodel_kata.runner.reset import BACKUP_FOLDER
from savedmodel_kata.runner.watch import check_once

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = catalogue.by_number(1)


def result(function, passed, failure=None):
    return TestResult(f"tests/x.py::test_{function}", EXERCISE.id, function, passed, failure)


def test_summary_tells_not_started_failing_and_passing_apart_and_points_to_the_next_step():
    tests = [
        result("create_model", True),
        result("create_model", True),
        result("save", False, Failure.NOT_IMPLEMENTED),
        result("load_signature_tensors", True),
        result("load_signature_tensors", False, Failure.CHECK),
        result("evaluate", False, Failure.NOT_IMPLEMENTED),
        result("end_to_end", False, Failure.NOT_IMPLEMENTED),
    ]
    scores = results.score(tests, [EXERCISE])
    states = {score.function: score.state for score in scores.functions}
    assert states == {
        "create_model": State.PASSING,
        "save": State.NOT_STARTED,
        "load_signature_tensors": State.FAILING,
        "evaluate": State.NOT_STARTED,
        "end_to_end": State.NOT_STARTED,
    }
    half = EXERCISE.function("load_signature_tensors").points / 2
    assert scores.earned == EXERCISE.function("create_model").points + half
    assert scores.points == EXERCISE.points
    assert scores.next_step().function == "save"


def test_reset_restores_the_stub_and_keeps_the_students_version(kata_copy, capsys):
    student_file = kata_copy / "exercises" / EXERCISE.file_name
    stub = student_file.read_text()
    student_file.write_text(stub + "\n# my work in progress\n")
    assert cli.main(["reset", "1"]) == 0
    assert student_file.read_text() == stub
    (backup,) = (kata_copy / "exercises" / BACKUP_FOLDER).iterdir()
    assert backup.read_text().endswith("# my work in progress\n")
    assert str(backup.relative_to(kata_copy)) in capsys.readouterr().out
    assert cli.main(["reset", "1"]) == 0  # already the stub: nothing to keep
    assert len(list((kata_copy / "exercises" / BACKUP_FOLDER).iterdir())) == 1
    assert "already the stub" in capsys.readouterr().out


def test_reset_all_backs_up_every_changed_exercise(kata_copy):
    for exercise in catalogue.exercises():
        path = kata_copy / "exercises" / exercise.file_name
        path.write_text(path.read_text() + "# edited\n")
    assert cli.main(["reset", "--all"]) == 0
    assert len(list((kata_copy / "exercises" / BACKUP_FOLDER).iterdir())) == len(
        catalogue.exercises()
    )


def test_solution_stays_closed_until_the_exercise_passes(kata_copy, capsys):
    assert cli.main(["solution", "1"]) == 1
    assert "opens once your exercise 1 passes" in capsys.readouterr().out
    shutil.copy(
        kata_copy / "solutions" / EXERCISE.file_name, kata_copy / "exercises" / EXERCISE.file_name
    )
    assert cli.main(["solution", "1"]) == 0
    assert "def load_signature_tensors" in capsys.readouterr().out


def test_watch_check_reports_the_first_failures_lesson_failing_function_first(kata_copy):
    source = (kata_copy / "solutions" / EXERCISE.file_name).read_text()
    student = kata_copy / "exercises" / EXERCISE.file_name
    student.write_text(source.replace("    return float(value)", "    return 100 * float(value)"))
    check = check_once(kata_copy, EXERCISE)
    assert not check.passed and check.failing == "evaluate"
    assert (
        check.text.startswith("test_evaluate_returns_a_fraction") and "drop the * 100" in check.text
    )
    # Saved again, still wrong: evaluate's tests run first, so its lesson comes at once.
    again = check_once(kata_copy, EXERCISE, first=check.failing)
    assert again.failing == "evaluate" and again.seconds < check.seconds
    student.write_text(source)
    check = check_once(kata_copy, EXERCISE, first="evaluate")
    assert check.passed and check.text.startswith("all ")


def test_status_when_only_the_end_to_end_test_fails_names_it_and_a_real_hint():
    from savedmodel_kata.runner.console import console, show_scores

    tests = [result(f, True) for f in catalogue.EXERCISE_FUNCTIONS]
    tests.append(result("end_to_end", False, Failure.CHECK))
    scores = results.score(tests, [EXERCISE])
    step = scores.next_step()
    assert step.function == "end_to_end" and step.state == State.FAILING
    with console.capture() as captured:
        show_scores(scores)
    text = " ".join(captured.get().split())  # as read, whatever the terminal's width
    assert "the end-to-end test" in text and "end_to_end()" not in text
    assert f"`kata hint {EXERCISE.number}`" in text and "[1m" not in text
    assert cli.main(["hint", str(EXERCISE.number), "end_to_end"]) == 0


def test_solution_wraps_long_lines_instead_of_cutting_them(kata_copy, capsys):
    from savedmodel_kata.runner.console import console

    shutil.copy(
        kata_copy / "solutions" / EXERCISE.file_name, kata_copy / "exercises" / EXERCISE.file_name
    )
    source = (kata_copy / "solutions" / EXERCISE.file_name).read_text()
    longest = max(source.splitlines(), key=len).strip()
    width = console.width
    console.width = 60
    try:
        with console.capture() as captured:
            assert cli.main(["solution", "1"]) == 0
    finally:
        console.width = width
    shown = " ".join(line.split("│", 1)[-1].strip() for line in captured.get().splitlines())
    assert " ".join(longest.split()) in " ".join(shown.split()), "a long line was cut"


POOLING = re.compile(r"max[-_ ]?pool|MaxPooling", re.I)


def test_hints_that_mention_pooling_give_the_references_pool_padding():
    # The tutorial's pools are 2x2, stride 2, 'VALID' (28 -> 14 -> 7 -> 3, flattened to 36
    # values); its convolutions are 'SAME'. A hint that names only 'SAME' reads as if the pools
    # were 'SAME' too (7 -> 4, 64 values), so a hint about padding and pooling names the pools'.
    pool_paddings = {
        padding
        for exercise in catalogue.exercises()
        for padding in re.findall(
            r"max_pool2d\([^)]*padding=\"(\w+)\"",
            (ROOT / "solutions" / exercise.file_name).read_text(),
        )
    }
    assert pool_paddings == {"VALID"}, pool_paddings
    for exercise in catalogue.exercises():
        for function in exercise.functions:
            for hint in function.hints:
                if POOLING.search(hint) and "padding" in hint:
                    assert re.search(r"'VALID'|'valid'", hint), (
                        f"exercise {exercise.number} {function.name}: a hint about padding and "
                        f"pooling does not give the pools' padding: {hint}"
                    )


def _terminal():
    import io

    from rich.console import Console

    output = io.StringIO()
    return output, Console(file=output, force_terminal=True, width=80)


def test_watch_shows_a_slow_rerun_running_with_its_seconds_and_clears_it():
    import time

    from savedmodel_kata.runner.watch import Check, check_showing_status

    output, terminal = _terminal()

    def slow_check(root, exercise, first):
        # A rerun that lasts until its status has counted to 1 s (or 20 s have gone by).
        deadline = time.monotonic() + 20
        while "tests... 1 s" not in output.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        return Check(False, "a lesson", 1.0, "save")

    check = check_showing_status(ROOT, EXERCISE, after=0, status_console=terminal, check=slow_check)
    assert check.failing == "save"
    shown = output.getvalue()
    assert "running exercise 1's tests... 0 s" in shown
    assert "running exercise 1's tests... 1 s" in shown, "the seconds did not count up"
    assert shown.endswith("\x1b[2K"), "the status line was not erased when the run ended"


def test_watch_shows_no_status_for_a_rerun_quicker_than_the_threshold():
    from savedmodel_kata.runner.watch import Check, check_showing_status

    output, terminal = _terminal()

    def quick_check(root, exercise, first):
        return Check(True, "all pass", 0.3)

    check_showing_status(ROOT, EXERCISE, after=60, status_console=terminal, check=quick_check)
    assert output.getvalue() == ""


def test_ctrl_c_during_a_watch_rerun_ends_the_watch_not_reported_as_a_pass(kata_copy):
    # pytest ends a session on KeyboardInterrupt and returns: the watch reported the tests run
    # until then as "all N tests pass" and went on watching. Here evaluate() stands for Ctrl-C.
    import pytest

    source = (kata_copy / "solutions" / EXERCISE.file_name).read_text()
    evaluate = "def evaluate(sess, tensors, images, labels):\n"
    assert source.count(evaluate) == 1
    interrupted = source.replace(evaluate, evaluate + "    raise KeyboardInterrupt\n")
    (kata_copy / "exercises" / EXERCISE.file_name).write_text(interrupted)
    with pytest.raises(KeyboardInterrupt):
        check_once(kata_copy, EXERCISE, first="evaluate")
