"""Grading: scores, determinism, isolation, tampering, hidden tests, and the platforms' files.

Most cases grade exercise 1 only (one worker process, about 8 s) to keep the
suite quick; one grading of three exercises shows that a crash, a hang and a
memory blow-up each cost only their own points.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from savedmodel_kata import catalogue, settings
from savedmodel_kata.errors import GradingError
from savedmodel_kata.grading import actions, reports, workspace
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.grading.grader import grade as grade_submission
from savedmodel_kata.maintainer import generated
from savedmodel_kata.results import Failure

ROOT = Path(__file__).resolve().parents[2]
EX1, EX2, EX4 = (catalogue.by_number(n) for n in (1, 2, 4))


def make_submission(folder: Path, files: dict[str, str]) -> Path:
    (folder / "exercises").mkdir(parents=True)
    for exercise in catalogue.exercises():
        source = files.get(
            exercise.file_name, (ROOT / "exercises" / exercise.file_name).read_text()
        )
        (folder / "exercises" / exercise.file_name).write_text(source)
    return folder


def solution(exercise) -> str:
    return (ROOT / "solutions" / exercise.file_name).read_text()


def grade(submission, exercises=(EX1,), **options) -> GradingResults:
    return grade_submission(submission, pristine=ROOT, exercises=list(exercises), **options)


def points(graded, exercise) -> float:
    return sum(f.earned for f in graded.scores.functions if f.exercise == exercise)


# --- generated files stay in step -------------------------------------------------


def test_every_generated_file_is_up_to_date():
    stale = generated.stale(ROOT)
    assert not stale, f"{', '.join(map(str, stale))} out of date: run `kata dev update`"


def test_actions_checks_have_one_step_per_function_with_everything_on_its_command_line():
    import yaml

    steps = yaml.safe_load((ROOT / actions.WORKFLOW).read_text())["jobs"][actions.JOB]["steps"]
    graders = [
        s
        for s in steps
        if s.get("uses", "").startswith("classroom-resources/autograding-command-grader")
    ]
    expected = [(e, f) for e in catalogue.exercises() for f in e.graded_functions]
    assert [s["with"]["max-score"] for s in graders] == [f.points for _, f in expected]
    digest = workspace.manifest_digest(ROOT)
    for step, (exercise, function) in zip(graders, expected, strict=True):
        command = step["with"]["command"]
        assert command.startswith(
            f"exec kata grade --exercise {exercise.number} --function {function.name}"
        ), command
        assert "$" not in command
        # The first step of an exercise grades it (pinned to the manifest); the others reuse it.
        assert (f"--manifest-sha256 {digest}" in command) != ("--reuse" in command), command


# --- scores ----------------------------------------------------------------------


def test_the_same_code_gets_the_same_score_and_words(tmp_path):
    half = solution(EX1).replace("    return float(value)", "    return 100 * float(value)")
    submission = make_submission(tmp_path / "half", {EX1.file_name: half})
    first, second = grade(submission), grade(submission)
    assert 0 < first.scores.earned < first.scores.points
    assert reports.report_json(first) == reports.report_json(second)
    assert reports.junit_xml(first) == reports.junit_xml(second)


def test_edited_tests_and_harness_do_not_change_the_grade(tmp_path):
    submission = make_submission(tmp_path / "cheat", {})
    (submission / "tests").mkdir()
    (submission / "tests" / EX1.test_file_name).write_text("def test_nothing():\n    pass\n")
    (submission / "conftest.py").write_text("")
    graded = grade(submission)
    assert graded.scores.earned == 0
    assert graded.tampered == ["conftest.py", f"tests/{EX1.test_file_name}"]
    assert "Tampering" in reports.summary_text(graded)


def test_hidden_tests_count_and_keep_their_messages_hidden(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_ex01_graph_mode_extra.py").write_text(
        "import pytest\n\n\n"
        '@pytest.mark.function("evaluate")\n'
        "def test_evaluate_on_ten_digits(kind, student, reference_loaded, mnist):\n"
        "    loaded = reference_loaded(kind.evaluate_key)\n"
        "    images, labels = mnist.test_images[:10], mnist.test_labels[:10]\n"
        "    accuracy = kind.evaluate(student.evaluate, loaded, images, labels)\n"
        '    assert abs(accuracy * 10 - round(accuracy * 10)) < 1e-4, "never shown"\n'
        "\n\n"
        '@pytest.mark.function("evaluate")\n'
        "def test_evaluate_an_expectation_no_reference_meets(student):\n"
        '    assert False, "SECRET expectation"\n'
    )
    solved_file = {EX1.file_name: solution(EX1)}
    graded = grade(make_submission(tmp_path / "solved", solved_file), hidden_tests=hidden)
    hidden_results = {t.name: t for t in graded.tests if t.hidden}
    assert set(hidden_results) == {
        "test_evaluate_on_ten_digits",
        "test_evaluate_an_expectation_no_reference_meets",
    }
    assert hidden_results["test_evaluate_on_ten_digits"].passed
    assert all(t.function == "evaluate" for t in hidden_results.values())
    # The failing hidden test costs evaluate() its share; every other function keeps its points.
    evaluate = next(f for f in graded.scores.functions if f.function == "evaluate")
    assert 0 < evaluate.earned < evaluate.points
    assert graded.scores.earned == EX1.points - (evaluate.points - evaluate.earned)
    for rendering in (
        reports.gradescope_results(graded),
        reports.report_json(graded)["functions"],
    ):
        assert "SECRET" not in json.dumps(rendering)
    assert b"SECRET" not in reports.junit_xml(graded)


def test_a_hidden_module_that_fails_to_load_costs_nothing_and_shows_nothing(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_ex01_graph_mode_broken.py").write_text(
        'raise RuntimeError("SECRET the instructor\'s own check")\n'
    )
    solved_file = {EX1.file_name: solution(EX1)}
    graded = grade(make_submission(tmp_path / "solved", solved_file), hidden_tests=hidden)
    assert graded.scores.earned == EX1.points, "the student paid for the instructor's file"
    assert any("a hidden test module failed to load" in p for p in graded.problems)
    assert "SECRET" not in json.dumps(reports.report_json(graded))
    assert "SECRET" not in json.dumps(reports.gradescope_results(graded))


# --- the pristine harness from git -------------------------------------------------


def test_the_pristine_harness_is_rebuilt_from_git_objects(tmp_path):
    changed = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    harness = workspace.harness_files(ROOT)
    if any(
        line[3:] in harness or line[3:] == workspace.MANIFEST_FILE for line in changed.splitlines()
    ):
        pytest.skip("harness files have local changes: this check is about the committed manifest")
    tampered = workspace.build(ROOT, tmp_path, manifest_sha256=workspace.manifest_digest(ROOT))
    assert tampered == []
    for path in harness:
        assert (tmp_path / path).read_bytes() == (ROOT / path).read_bytes()
    with pytest.raises(GradingError, match="was changed"):
        workspace.build(ROOT, tmp_path / "again", manifest_sha256="0" * 64)


def test_a_crash_a_hang_and_a_memory_blow_up_cost_only_their_own_points(tmp_path, monkeypatch):
    """One grading, three ways of failing: exercise 4's process dies in create_model (graded
    first: the exercises after it must not notice), exercise 1's save never returns, exercise
    2's create_model asks for more memory than the grader allows."""
    monkeypatch.setenv("KATA_CALL_TIMEOUT", "3")  # the grader passes it on to its worker processes
    monkeypatch.setattr(settings, "_current", None)  # resolved again, from the environment
    crashing = solution(EX4).replace(
        '    hidden = _conv_block("conv1", x, size=3, filters=8)', "    import os\n    os._exit(3)"
    )
    hanging = solution(EX1).replace(
        "    v1.saved_model.simple_save(",
        "    while True:\n        pass\n    v1.saved_model.simple_save(",
    )
    # 16 GiB of address space, over the grader's 12 GiB limit: refused at once, no memory touched.
    greedy = solution(EX2).replace(
        "    return DigitClassifier()",
        "    np.empty(16 * 1024**3, dtype=np.uint8)\n    return DigitClassifier()",
    )
    files = {EX4.file_name: crashing, EX1.file_name: hanging, EX2.file_name: greedy}
    graded = grade(make_submission(tmp_path / "bad", files), exercises=(EX4, EX1, EX2))
    assert points(graded, EX4) == 0
    # The crash is the one problem of the grading: a hang and a MemoryError are test failures.
    (problem,) = graded.problems
    assert (
        "exercise 4: the test process ended abruptly (exit code 3) in test_create_model" in problem
    )
    scores = {(f.exercise.number, f.function): f for f in graded.scores.functions}
    assert scores[(1, "save")].earned == 0
    assert "did not return within 3 s" in reports.function_output(scores[(1, "save")])
    assert scores[(2, "create_model")].earned == 0
    assert "MemoryError" in reports.function_output(scores[(2, "create_model")])
    for (number, function), score in scores.items():
        if number != 4 and (number, function) not in {
            (1, "save"),
            (2, "create_model"),
            (1, "end_to_end"),
            (2, "end_to_end"),
        }:
            assert score.earned == score.points, (
                f"exercise {number} {function} lost points: {reports.function_output(score)}"
            )


def test_an_exercise_past_its_time_limit_keeps_what_it_finished(tmp_path, monkeypatch):
    """A call that outlasts the exercise's time limit (stuck in C code, say) loses the worker:
    the test it was in is the one that crashed, the tests after it are not run, the tests
    before it keep their results."""
    monkeypatch.setenv("KATA_CALL_TIMEOUT", "600")  # the exercise's limit comes first
    monkeypatch.setattr(settings, "_current", None)  # resolved again, from the environment
    sleeping = solution(EX1).replace(
        "    return float(value)", "    import time\n    time.sleep(600)\n    return float(value)"
    )
    graded = grade(make_submission(tmp_path / "slow", {EX1.file_name: sleeping}), time_limit=60)
    (problem,) = graded.problems
    assert "exercise 1: the tests did not finish within 60 s and were stopped in test_" in problem
    (crashed,) = [t for t in graded.tests if t.failure == Failure.CRASHED]
    assert crashed.name in problem and "(this test was running)" in crashed.message
    after = graded.tests[graded.tests.index(crashed) + 1 :]
    assert all(t.failure == Failure.NOT_RUN for t in after)
    create_model = next(f for f in graded.scores.functions if f.function == "create_model")
    assert create_model.earned == create_model.points


def test_a_worker_killed_by_a_signal_is_named_by_the_signal():
    import signal

    from savedmodel_kata.grading.grader import _ended

    assert "killed by SIGSEGV" in _ended(-signal.SIGSEGV)
    assert "most likely for memory" in _ended(-signal.SIGKILL)
    assert "exit code 3" in _ended(3)


def test_a_student_s_problems_read_in_exercise_order_whichever_worker_ends_first(tmp_path):
    from savedmodel_kata.grading.grader import Target, results_of

    found = Target()
    ex1, ex2 = catalogue.by_number(1), catalogue.by_number(2)
    # Exercise 2's worker ended first.
    found.problems.setdefault(2, []).append("exercise 2: it crashed")
    found.problems.setdefault(1, []).append("exercise 1: it crashed")
    _, problems = results_of(found, [ex1, ex2], tmp_path, "students/a")
    assert problems == ["exercise 1: it crashed", "exercise 2: it crashed"]


def test_the_maximum_is_every_function_s_points_whatever_ran():
    from savedmodel_kata.results import score

    # No result at all (no file, or a run stopped before any test): the same maximum, so
    # leaving a file out never raises a fraction on any platform.
    assert score([], [EX1]).points == EX1.points
    assert [f.function for f in score([], [EX1]).functions][-1] == catalogue.END_TO_END
