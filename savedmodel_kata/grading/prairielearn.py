"""PrairieLearn's external grader: `kata grade --prairielearn [--grade-root /grade]`.

PrairieLearn starts the question's image with the submitted files in
GRADE_ROOT/student/ (any layout: the files are found as for any upload), the
question's tests/ folder in GRADE_ROOT/tests/ (instructors' hidden tests,
test_<module>*.py) and reads GRADE_ROOT/results/results.json, which the
entrypoint must create. The result counts only if the container exits 0 in
time, so this command always exits 0 and always leaves a results.json:

    the supervisor  (`kata grade --prairielearn`) runs the grading as a child
                    process, stops it at the time budget, and writes a result
                    of its own when the child left none (killed for memory, a
                    bug, a stop from outside);
    the child       (`--supervised`) grades with the pristine harness baked into
                    the image and writes `results_json(graded)`, one more
                    rendering of the one `GradingResults`.

Not gradable (`gradable: false`, no attempt used, no points awarded or lost)
means the grader could not read the submission, or could not run at all: no
file of the question's exercises in the upload, a file that is not text (not
UTF-8, or with NUL bytes), or the grader itself failing. Everything the
student's code does is graded, as `kata grade` grades it: a syntax error, an
import error, a crash or a hang scores 0 for the tests it costs, with the
lesson that names it.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import traceback
import uuid
from dataclasses import replace
from pathlib import Path
from string import Template

from savedmodel_kata import catalogue
from savedmodel_kata.grading import reports
from savedmodel_kata.grading import submission as uploads
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.results import FunctionScore, State

# PrairieLearn's timeout is 600 s at most; the grading stops itself well before, so that the
# results of what finished, and not PrairieLearn's kill, reach the student.
DEFAULT_TIME_BUDGET_SECONDS = 540
STOP_MARGIN_SECONDS = 30  # after the budget: the supervisor's SIGTERM, then its SIGKILL
QUESTION_FILES = Path(__file__).with_name("prairielearn_question")
DEFAULT_IMAGE = "savedmodel-kata-grader:latest"
MAX_RESULTS_BYTES = 1024 * 1024  # a larger results.json fails the job
TEXT_LIMITS = (20_000, 2_000, 200)  # characters a message keeps, tried in turn to fit


def results_path(grade_root: Path) -> Path:
    return grade_root / "results" / "results.json"


# --- the rendering -------------------------------------------------------------------------


def _shown_notes(graded: GradingResults) -> list[str]:
    """The notes about the question's own exercises: a one-exercise question's student is not
    told that the other exercises' files are missing."""
    prefixes = tuple(f"exercise {e.number}: " for e in graded.exercises)
    return [note for note in graded.notes if note.startswith(prefixes)]


def _test(function: FunctionScore) -> dict:
    lessons = reports.function_output(function)
    if function.state == State.PASSING:
        headline = f"all {function.total} tests pass"
    elif function.total:
        headline = f"{function.passed} of {function.total} tests pass"
    else:
        headline = "not graded: no test result for this function"
    return {
        "name": reports.function_label(function),
        "description": f"worth {reports.points(function.points)} "
        f"point{'' if function.points == 1 else 's'}, in proportion to the tests that pass",
        "points": function.earned,
        "max_points": function.points,
        "message": headline,
        "output": lessons,
    }


def results_json(graded: GradingResults) -> dict:
    """PrairieLearn's results.json: the kata's grade as a fraction of the graded exercises'
    points, a test per function (its points, the lessons of its visible tests), the summary."""
    scores = graded.scores
    shown = replace(graded, notes=_shown_notes(graded))
    maximum = sum(exercise.points for exercise in graded.exercises)
    score = scores.earned / maximum if maximum else 0.0
    return {
        "gradable": True,
        "score": min(1.0, max(0.0, score)),
        "message": f"Score: {reports.points(scores.earned)} / {reports.points(maximum)} "
        f"points ({score:.0%})",
        "output": reports.summary_text(shown),
        "tests": [_test(function) for function in scores.functions],
    }


def not_gradable(format_errors: list[str]) -> dict:
    return {"gradable": False, "score": 0.0, "format_errors": format_errors, "tests": []}


def _cut(value, limit: int):
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"\n… ({len(value) - limit} more characters left out)"
    if isinstance(value, dict):
        return {key: _cut(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item, limit) for item in value]
    return value


def encode(results: dict) -> bytes:
    """JSON that JavaScript parses (no NaN or Infinity, ASCII, no byte-order mark), at most
    1 MiB: long messages are cut until it fits."""
    for limit in (None, *TEXT_LIMITS):
        shaped = results if limit is None else _cut(results, limit)
        data = (json.dumps(shaped, indent=2, ensure_ascii=True, allow_nan=False) + "\n").encode()
        if len(data) <= MAX_RESULTS_BYTES:
            return data
    raise ValueError("results.json does not fit in 1 MiB even with every message cut")


def write(grade_root: Path, results: dict) -> Path:
    path = results_path(grade_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    reports._write_atomically(path, encode(results))
    return path


def is_valid(path: Path) -> bool:
    """What PrairieLearn accepts: a JSON object, at most 1 MiB, with a score in [0, 1] or
    gradable false."""
    try:
        data = path.read_bytes()
        if len(data) > MAX_RESULTS_BYTES:
            return False
        results = json.loads(data.decode("utf-8"), parse_constant=_refuse)
    except (OSError, ValueError):
        return False
    if not isinstance(results, dict):
        return False
    if results.get("gradable") is False:
        return bool(results.get("format_errors"))
    score = results.get("score")
    return (
        isinstance(score, (int, float))
        and not isinstance(score, bool)
        and math.isfinite(score)
        and 0 <= score <= 1
    )


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


# --- the child: one grading ----------------------------------------------------------------


def format_errors(found: uploads.Found, exercises: list[catalogue.Exercise]) -> list[str]:
    """Why the grader cannot read the submission; empty when it can."""
    present = [e for e in exercises if e.id in found.files]
    if not present:
        names = ", ".join(e.file_name for e in exercises)
        return [f"No exercise file in the submission: upload {names} (the file names matter)."]
    errors = []
    for exercise in present:
        data = found.files[exercise.id].read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(f"{exercise.file_name} is not a Python source file (not UTF-8 text).")
            continue
        if b"\0" in data:
            errors.append(f"{exercise.file_name} is not a Python source file (it holds NUL bytes).")
    return errors


def _hidden_tests(args) -> Path | None:
    if args.hidden_tests is not None:
        return args.hidden_tests
    tests = args.grade_root / "tests"
    return tests if any(tests.glob("test_*.py")) else None


def grade_submission(args) -> dict:
    """Grade GRADE_ROOT/student/ and render it; a submission the grader cannot read is not
    gradable."""
    from savedmodel_kata.code_under_test import find_root
    from savedmodel_kata.grading.grader import grade, stop_on_sigterm

    stop_on_sigterm()
    exercises = (
        [catalogue.by_number(n) for n in args.exercise] if args.exercise else catalogue.exercises()
    )
    student = args.grade_root / "student"
    if not student.is_dir():
        return not_gradable([f"Nothing was submitted ({student} does not exist)."])
    errors = format_errors(uploads.find(student), exercises)
    if errors:
        return not_gradable(errors)
    graded = grade(
        student,
        pristine=(args.pristine or find_root()).resolve(),
        hidden_tests=_hidden_tests(args),
        time_limit=args.time_limit,
        time_budget=args.time_budget or DEFAULT_TIME_BUDGET_SECONDS,
        exercises=exercises,
    )
    results = results_json(graded)
    print(results["output"], end="")  # for course staff: the job's output.log
    return results


def run_supervised(args) -> int:
    try:
        results = grade_submission(args)
    except BaseException as error:  # a bug or a stop: said in results.json, never a failed job
        traceback.print_exc()
        results = not_gradable(
            [
                f"The grader failed ({type(error).__name__}: {error}). This submission was not "
                "counted: submit again, and tell your instructor if it happens again."
            ]
        )
    write(args.grade_root, results)
    return 0


# --- the supervisor: a results.json whatever happens ---------------------------------------


def child_command(args) -> list[str]:
    command = [sys.executable, "-m", "savedmodel_kata", "grade", "--prairielearn", "--supervised"]
    command += ["--grade-root", str(args.grade_root), "--time-limit", str(args.time_limit)]
    command += ["--time-budget", str(args.time_budget or DEFAULT_TIME_BUDGET_SECONDS)]
    for number in args.exercise or []:
        command += ["--exercise", str(number)]
    if args.pristine is not None:
        command += ["--pristine", str(args.pristine)]
    if args.hidden_tests is not None:
        command += ["--hidden-tests", str(args.hidden_tests)]
    return command


def _why(returncode: int | None, timed_out: bool) -> str:
    if timed_out:
        return "it did not finish within its time budget and was stopped"
    if returncode == -signal.SIGKILL:
        return "it was killed (SIGKILL), most likely for memory (PrairieLearn allows 2 GiB)"
    if returncode is not None and returncode < 0:
        return f"it was stopped by signal {-returncode}"
    return f"it ended (exit status {returncode}) without writing its results"


def supervise(command: list[str], grade_root: Path, deadline_seconds: float) -> int:
    """Run `command` (the grading); leave a valid results.json whatever it does; exit 0."""
    path = results_path(grade_root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    except OSError as error:
        print(f"cannot prepare {path}: {error}", file=sys.stderr)
    # Unbuffered: the job's output.log keeps the order things happened in.
    child = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    # A stop from outside (docker stop) reaches the grading, which reports what it has.
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    timed_out = False
    try:
        child.wait(timeout=deadline_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        child.terminate()
        try:
            child.wait(timeout=STOP_MARGIN_SECONDS / 2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if not is_valid(path):
        reason = _why(child.returncode, timed_out)
        try:
            write(
                grade_root,
                not_gradable(
                    [
                        f"The grader did not finish: {reason}. This submission was not "
                        "counted: submit again, and tell your instructor if it happens again."
                    ]
                ),
            )
        except OSError as error:
            print(f"cannot write {path}: {error}", file=sys.stderr)
    return 0


def run(args) -> int:
    if args.supervised:
        return run_supervised(args)
    budget = args.time_budget or DEFAULT_TIME_BUDGET_SECONDS
    return supervise(child_command(args), args.grade_root, budget + STOP_MARGIN_SECONDS)


# --- the course's files: `kata dev prairielearn-question DIR` ------------------------------


def question_name(exercise: catalogue.Exercise) -> str:
    return f"savedmodel-kata-{exercise.id}"


def entrypoint(exercise: catalogue.Exercise) -> list[str]:
    return [
        "/usr/local/bin/kata", "grade", "--prairielearn", "--exercise", str(exercise.number),
        "--time-budget", str(DEFAULT_TIME_BUDGET_SECONDS),
    ]  # fmt: skip


def question_info(exercise: catalogue.Exercise, image: str) -> dict:
    info = json.loads((QUESTION_FILES / "info.json").read_text())
    # The same question keeps its uuid each time the files are written.
    identity = uuid.uuid5(uuid.NAMESPACE_URL, f"savedmodel-kata/prairielearn/{exercise.id}")
    title = f"SavedModel kata {exercise.number}: {exercise.title.split(':')[0]}"
    info = {"uuid": str(identity), "title": title, **info}
    info["tags"] = [*info["tags"], exercise.id]
    info["externalGradingOptions"] = {
        "image": image,
        "entrypoint": entrypoint(exercise),
        **info["externalGradingOptions"],
    }
    return info


def _fill(name: str, exercise: catalogue.Exercise) -> str:
    return Template((QUESTION_FILES / name).read_text()).substitute(
        number=exercise.number,
        title=html.escape(exercise.title),
        file_name=exercise.file_name,
        module=exercise.module,
    )


def write_course(out: Path, root: Path, image: str = DEFAULT_IMAGE) -> list[Path]:
    """A course-shaped folder: image/ (the Dockerfile and the kata's files, the build
    context) and questions/<name>/ for each exercise (info.json, question.html, tests/)."""
    context = out / "image"
    shutil.rmtree(context / "kata", ignore_errors=True)
    context.mkdir(parents=True, exist_ok=True)
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for relative in filter(None, tracked):
        if (root / relative).is_file():
            (context / "kata" / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, context / "kata" / relative)
    shutil.copyfile(QUESTION_FILES / "Dockerfile", context / "Dockerfile")
    written = [context / "Dockerfile"]
    for exercise in catalogue.exercises():
        folder = out / "questions" / question_name(exercise)
        (folder / "tests").mkdir(parents=True, exist_ok=True)
        info = json.dumps(question_info(exercise, image), indent=2) + "\n"
        (folder / "info.json").write_text(info)
        (folder / "question.html").write_text(_fill("question.html", exercise))
        (folder / "tests" / "README.md").write_text(_fill("tests/README.md", exercise))
        written.append(folder)
    return written
