"""Classroom 50: the assignment's bundle (`kata dev classroom50-bundle DIR`) and its result.

Classroom 50 (foundation50/classroom50) grades each push to a student's
repository with the teacher's bundle, published at
CLASSROOM/autograders/ASSIGNMENT/ on the classroom's Pages site: its
`runner.py` downloads the folder as a tar.gz (10 MB at most) and runs the
bundle's `autograder.py`, in the student's checkout, with the interpreter
the assignment's `runtime.python` chose. The bundle:

    autograder.py   classroom50_autograder/autograder.py: the standard library only, so it
                    runs (and reports) under any Python, also one TensorFlow has no wheel for
    bundle.json     what it needs before the kata is installed: the exercises graded, every
                    function's test name and integer points, the Pythons TensorFlow supports
    harness/        every file git tracks, as in the Gradescope zip: the pristine tests,
                    harness and reference solutions, and the pinned requirements

autograder.py installs the harness into a virtual environment, grades the
checkout with `kata grade --submission . --pristine harness/` (the one
engine), and renders its report.json with this module into `result.json`
and `release-body.md`. The students' repositories need no `solutions/`: the
reference comes from the bundle.

Classroom 50 takes integer scores. The kata gives a function its points in
proportion to its tests passed, rounded to hundredths (results.earned_points),
so result.json counts hundredths of a point (POINT_SCALE): every function's
score is its points times 100, exactly, and the total is the kata's own
grade times 100 (48.5 / 50 is 4850 / 5000).

The trained reference models are not in the bundle: a cache entry's key
holds the processor's instruction sets and the Python version
(kinds/cache.py), and GitHub's runners differ in both from the machine that
builds the bundle, so each grading trains them (about a minute).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.grading import reports
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.results import FunctionScore, State

AUTOGRADER = Path(__file__).with_name("classroom50_autograder") / "autograder.py"
BUNDLE_CONFIG = "bundle.json"
HARNESS_FOLDER = "harness"
RESULT_SCHEMA = "classroom50/result/v1"
POINT_SCALE = 100  # result.json's points are hundredths of the kata's
BUNDLE_LIMIT_BYTES = 10 * 1024 * 1024  # runner.py's MAX_FETCH_BYTES
# TensorFlow 2.21's wheels; the assignment's runtime.python should name one of them.
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
RECOMMENDED_PYTHON = "3.12"
# Of the grade job's 15 minutes (timeout-minutes: 15, set-up included), what autograder.py
# may take: checkout, setup-python and the runner come before it, the commit status and the
# Release after it.
AUTOGRADER_BUDGET_SECONDS = 780
REQUIREMENTS = "savedmodel_kata/grading/gradescope_autograder/requirements.txt"
# Each failure's lesson in the Release body, and all of them: GitHub caps a Release's notes at
# 125,000 characters; the job log has everything.
LESSON_LIMIT = 2000
LESSONS_LIMIT = 80_000


def scaled(points: float) -> int:
    """Points as result.json's integer: hundredths, exact for the kata's two decimals."""
    return round(points * POINT_SCALE)


# --- the bundle -------------------------------------------------------------------------


def tracked_files(root: Path) -> list[str]:
    """The files git tracks in `root` that exist: what the Gradescope zip holds too."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return [path for path in listed if path and (root / path).is_file()]


def bundle_config(exercises: list[catalogue.Exercise]) -> dict:
    functions = [
        {
            "test-name": _test_name(exercise, function.name),
            "max-score": scaled(function.points),
        }
        for exercise in exercises
        for function in exercise.graded_functions
    ]
    return {
        "exercises": [exercise.number for exercise in exercises],
        "functions": functions,
        "max-score": sum(f["max-score"] for f in functions),
        "point-scale": POINT_SCALE,
        "supported-pythons": list(SUPPORTED_PYTHONS),
        "recommended-python": RECOMMENDED_PYTHON,
        "budget-seconds": AUTOGRADER_BUDGET_SECONDS,
        "harness": HARNESS_FOLDER,
        "requirements": REQUIREMENTS,
    }


def build(
    out: Path, root: Path | None = None, exercises: list[catalogue.Exercise] | None = None
) -> Path:
    """Write the bundle into the folder `out` (made empty first); return it."""
    root = root or find_root()
    exercises = list(exercises or catalogue.exercises())
    if out.exists():
        shutil.rmtree(out)
    harness = out / HARNESS_FOLDER
    for path in tracked_files(root):
        (harness / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, harness / path)
    shutil.copy2(AUTOGRADER, out / AUTOGRADER.name)
    (out / BUNDLE_CONFIG).write_text(json.dumps(bundle_config(exercises), indent=2) + "\n")
    return out


def packed_size(bundle: Path) -> int:
    """The bundle's size as Classroom 50 fetches it: `tar -czf` of the folder."""
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        archive.add(bundle, arcname=bundle.name)
    return len(packed.getvalue())


# --- the result: one more rendering of GradingResults -------------------------------------


def _test_name(exercise: catalogue.Exercise, function: str) -> str:
    name = "end-to-end" if function == catalogue.END_TO_END else function
    return f"Exercise {exercise.number}: {name}"


def _graded(graded: GradingResults) -> list[tuple[str, int, FunctionScore | None]]:
    """Every function of the graded exercises with its name, its scaled maximum and its score
    (None only for a function a report read back from an older kata leaves out)."""
    scores = {(f.exercise.id, f.function): f for f in graded.scores.functions}
    return [
        (
            _test_name(exercise, function.name),
            scaled(function.points),
            scores.get((exercise.id, function.name)),
        )
        for exercise in graded.exercises
        for function in exercise.graded_functions
    ]


def _notes(graded: GradingResults) -> list[str]:
    """How the submission's files were found, leaving out the exercises not graded here."""
    others = tuple(
        f"exercise {exercise.number}:"
        for exercise in catalogue.exercises()
        if exercise not in graded.exercises
    )
    return [note for note in graded.notes if not others or not note.startswith(others)]


def result_json(graded: GradingResults, identity: dict) -> dict:
    """Classroom 50's result.json: `identity` (schema, classroom, assignment, submission,
    commit, release, review, ...) and a test per function, in hundredths of a point."""
    tests = []
    for name, maximum, function in _graded(graded):
        tests.append(
            {
                "test-name": name,
                "passed": function is not None and function.state == State.PASSING,
                "score": scaled(function.earned) if function else 0,
                "max-score": maximum,
                "tests-passed": function.passed if function else 0,
                "tests-run": function.total if function else 0,
            }
        )
    score = sum(test["score"] for test in tests)
    if score != scaled(graded.scores.earned):  # the integer rule must keep the kata's grade
        raise AssertionError(f"{score} hundredths is not the kata's {graded.scores.earned}")
    return {
        **identity,
        "schema": RESULT_SCHEMA,
        "score": score,
        "max-score": sum(test["max-score"] for test in tests),
        "tests": tests,
        "kata": {
            "grading": "complete" if not graded.problems else "with problems",
            "points": graded.scores.earned,
            "max-points": sum(maximum for _, maximum, _ in _graded(graded)) / POINT_SCALE,
            "point-scale": POINT_SCALE,
            "problems": graded.problems,
            "notes": _notes(graded),
            "tampered": graded.tampered,
        },
    }


def fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in `text`: student-made text (an
    exception's message) cannot close it and write Markdown of its own."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n… (cut here: the job log has it all)"


def _fenced(text: str) -> list[str]:
    marks = fence(text)
    return [marks, text, marks]


def release_body(graded: GradingResults) -> str:
    """What the student reads on the submission's Release: the points per function, the
    problems, and the lessons of the failing visible tests (never a hidden test's message)."""
    scores = graded.scores
    maximum = sum(points for _, points, _ in _graded(graded))
    lines = [
        f"### The SavedModel kata: {reports.points(scores.earned)} / "
        f"{reports.points(maximum / POINT_SCALE)} points",
        "",
        f"Classroom 50 records {scaled(scores.earned)} / {maximum}: hundredths of a point.",
        "",
        "| Function | Tests passed | Points |",
        "|---|---|---|",
    ]
    for name, points, function in _graded(graded):
        passed = f"{function.passed}/{function.total}" if function else "not run"
        earned = reports.points(function.earned) if function else "0"
        lines.append(f"| {name} | {passed} | {earned} / {reports.points(points / POINT_SCALE)} |")
    lines.append("")
    if graded.problems:
        lines += ["**Problems while grading** (each costs only the exercise it names):", ""]
        lines += [f"- {problem}" for problem in graded.problems] + [""]
    if _notes(graded):
        lines += ["**Your files:**", ""] + [f"- {note}" for note in _notes(graded)] + [""]
    if graded.tampered:
        lines += [
            "**Changed harness files** (graded with the pristine copy instead):",
            "",
            *(f"- `{path}`" for path in graded.tampered),
            "",
        ]
    lessons, used = [], 0
    for function in scores.functions:
        if function.state == State.PASSING or not function.failures:
            continue
        first = function.first_failure
        if function.state == State.NOT_STARTED and first is not None and not first.hidden:
            text = first.message.strip()  # the stub's pointer, once, not once per test
        else:
            text = _clip(reports.function_output(function), LESSON_LIMIT)
        if used + len(text) > LESSONS_LIMIT:
            lessons.append("More failing functions: their lessons are in the job log.")
            break
        used += len(text)
        label = reports.function_label(function)
        lessons += [
            f"<details><summary>{label}: {function.passed}/{function.total} tests pass</summary>",
            "",
            *_fenced(text or "(hidden tests failed)"),
            "",
            "</details>",
            "",
        ]
    if lessons:
        lines += ["**What to fix**, function by function:", "", *lessons]
    return "\n".join(lines).rstrip() + "\n"


def render(report: Path, identity: Path, out: Path, problems: list[str]) -> None:
    """The checkout's result.json and release-body.md from a `kata grade` report.json."""
    graded = reports.read_report(report)
    graded.problems += problems
    result = result_json(graded, json.loads(identity.read_text()))
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "release-body.md").write_text(release_body(graded))
    for function in graded.scores.functions:  # the job log: every visible lesson, uncut
        if function.state != State.PASSING and function.failures:
            print(f"\n{reports.function_label(function)}:\n{reports.function_output(function)}")


def main(argv: list[str] | None = None) -> int:
    """autograder.py's last step, run with the kata's own Python."""
    parser = argparse.ArgumentParser(description=render.__doc__)
    parser.add_argument("--report", type=Path, required=True, help="kata grade's report.json")
    parser.add_argument("--identity", type=Path, required=True, help="result.json's identity")
    parser.add_argument("--out", type=Path, required=True, help="the student's checkout")
    parser.add_argument("--problem", action="append", default=[], help="add to the problems")
    args = parser.parse_args(argv)
    render(args.report, args.identity, args.out, args.problem)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
