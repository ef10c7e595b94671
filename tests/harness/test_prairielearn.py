"""PrairieLearn's external grading, rehearsed without Docker.

The container's /grade is a folder in tmp_path laid out as PrairieLearn mounts
it (tests/ from the question, student/ the submitted files, data/data.json,
no results/); the entrypoint is the question's own (`kata grade
--prairielearn`, exercise 1 only, to keep CI short), with the kata's folder
as the image's pristine harness (KATA_ROOT, as the Dockerfile sets it). Every
results.json it writes is checked against PrairieLearn's contract, written
here as the kata's own rules (../shared/platforms/README.md), and, when
../shared/platforms/prairielearn/check_results.py is here, by that too. One
TensorFlow process per case at most: the cases that need none are decided
before any grading starts.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.grading import classroom50, prairielearn
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.results import TestResult
from savedmodel_kata.runner import cli

ROOT = Path(__file__).resolve().parents[2]
CHECK_RESULTS = ROOT.parent / "shared" / "platforms" / "prairielearn" / "check_results.py"
EX1 = catalogue.by_number(1)
ONE_WRONG = ("    return float(value)", "    return 100 * float(value)")  # ex01 evaluate only
CRASHING = (  # the process dies in create_model
    '    hidden = _conv_block("conv1", x, size=3, filters=8)',
    "    import os\n    os._exit(3)",
)
HIDDEN_TEST = (
    "import pytest\n\n\n"
    '@pytest.mark.function("evaluate")\n'
    "def test_evaluate_an_expectation_no_submission_meets(student):\n"
    '    assert False, "SECRET lesson of a hidden test"\n\n\n'
    "@pytest.fixture\n"
    "def checked(student):\n"
    "    yield student\n"
    '    assert False, "SECRET lesson of a hidden teardown"\n\n\n'
    '@pytest.mark.function("create_model")\n'
    "def test_create_model_checked_after_the_test(checked):\n"
    "    pass\n"
)
# info.json's schema (PrairieLearn's QuestionJsonSchema) is strict: no other keys.
QUESTION_KEYS = {
    *("comment", "uuid", "type", "title", "topic", "tags", "authors", "clientFiles"),
    *("clientTemplates", "template", "gradingMethod", "singleVariant", "showCorrectAnswer"),
    *("partialCredit", "options", "externalGradingOptions", "dependencies", "workspaceOptions"),
    *("sharingSets", "sharePublicly", "shareSourcePublicly"),
}
GRADING_KEYS = {
    *("comment", "image", "entrypoint", "serverFilesCourse", "timeout", "enableNetworking"),
    "environment",
}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATA_JSON = {
    "params": {},
    "correct_answers": {},
    "submitted_answers": {},
    "format_errors": {},
    "partial_scores": {},
    "score": 0,
    "feedback": {},
    "variant_seed": 1,
    "options": {},
    "raw_submitted_answers": {},
    "gradable": True,
}


def solution(exercise) -> str:
    return (ROOT / "solutions" / exercise.file_name).read_text()


def points(exercise, *functions) -> float:
    return sum(exercise.function(name).points for name in functions)


def grade_folder(folder: Path, student: dict[str, str | bytes], tests: dict[str, str]) -> Path:
    """A /grade as PrairieLearn mounts it: tests/, student/, data/data.json; no results/."""
    for relative, content in {
        **{f"student/{name}": text for name, text in student.items()},
        **{f"tests/{name}": text for name, text in tests.items()},
        "data/data.json": json.dumps(DATA_JSON),
    }.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (folder / relative).write_bytes(content)
        else:
            (folder / relative).write_text(content)
    for name in ("tests", "student"):
        (folder / name).mkdir(exist_ok=True)
    return folder


def run_entrypoint(grade_root: Path) -> subprocess.CompletedProcess:
    """The question's entrypoint, run as the container runs it (the kata's folder is the
    image's /kata)."""
    command = prairielearn.entrypoint(EX1)
    environment = {name: value for name, value in os.environ.items() if name != "KATA_ROOT"}
    return subprocess.run(
        [sys.executable, "-m", "savedmodel_kata", *command[1:], "--grade-root", str(grade_root)],
        cwd=grade_root,
        env={**environment, "KATA_ROOT": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )


CASES = {
    # Exercise 1's evaluate wrong, in the repository's layout, and a hidden test failing.
    "one function wrong": (
        {f"exercises/{EX1.file_name}": solution(EX1).replace(*ONE_WRONG)},
        {f"test_{EX1.module}_hidden.py": HIDDEN_TEST},
    ),
    # Its process dies: the exercise's remaining tests score 0.
    "crashing": ({EX1.file_name: solution(EX1).replace(*CRASHING)}, {}),
    "nothing to grade": ({"notes.txt": "I could not do it\n"}, {}),
    "not a Python file": ({EX1.file_name: b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"}, {}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    runs = {}
    for name, (student, tests) in CASES.items():
        root = grade_folder(tmp_path_factory.mktemp("grade"), student, tests)
        runs[name] = (root, run_entrypoint(root))
    return runs


def results(graded, name: str) -> dict:
    root, _ = graded[name]
    return json.loads(prairielearn.results_path(root).read_text())


def _refuse(constant: str):
    raise AssertionError(f"{constant} in results.json: JavaScript's JSON.parse refuses it")


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_contract(path: Path) -> dict:
    """PrairieLearn's rules for results.json (grader host, processing, display)."""
    data = path.read_bytes()
    assert len(data) <= 1024 * 1024, "over 1 MiB: the job fails"
    assert not data.startswith(b"\xef\xbb\xbf"), "a byte-order mark: JavaScript cannot parse it"
    found = json.loads(data.decode("utf-8"), parse_constant=_refuse)
    assert isinstance(found, dict) and found, "results.json must hold a non-empty object"
    gradable = found.get("gradable", True)
    assert isinstance(gradable, bool)
    if gradable:
        score = found.get("score")
        assert is_number(score) and math.isfinite(score) and 0 <= score <= 1, score
    else:
        errors = found.get("format_errors")
        assert errors, "gradable false needs format_errors saying why"
        assert isinstance(errors, str) or all(isinstance(e, str) and e for e in errors)
    for key in ("message", "output"):
        assert isinstance(found.get(key, ""), str), key
    tests = found.get("tests", [])
    assert isinstance(tests, list)
    for test in tests:
        assert isinstance(test.get("name"), str) and test["name"], test
        # Without both on every test, PrairieLearn hides every test's points.
        assert is_number(test.get("points")) and is_number(test.get("max_points")), test
        assert 0 <= test["points"] <= test["max_points"], test
        for key in ("description", "message", "output"):
            assert isinstance(test.get(key, ""), str), (key, test)
    total = sum(test["points"] for test in tests)
    maximum = sum(test["max_points"] for test in tests)
    if gradable and maximum:
        # PrairieLearn records `score` alone: the points shown must add up to it.
        assert math.isclose(found["score"], total / maximum, abs_tol=1e-9)
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_every_result_keeps_prairielearns_contract_and_the_job_succeeds(graded, name):
    root, finished = graded[name]
    assert finished.returncode == 0, finished.stderr[-3000:]  # anything else fails the job
    assert prairielearn.results_path(root).is_file(), "the entrypoint must create results/"
    check_contract(prairielearn.results_path(root))


@pytest.mark.parametrize("name", list(CASES))
def test_prairielearns_own_rules_accept_every_result(graded, name):
    if not CHECK_RESULTS.is_file():
        pytest.skip(f"{CHECK_RESULTS} is not here: PrairieLearn's rules are checked above only")
    root, finished = graded[name]
    verdict = subprocess.run(
        [
            *(sys.executable, str(CHECK_RESULTS), str(prairielearn.results_path(root))),
            *("--json", "--exit-code", str(finished.returncode)),
        ],
        capture_output=True,
        text=True,
    )
    outcome = json.loads(verdict.stdout)
    assert verdict.returncode == 0 and not outcome["errors"], outcome
    assert not outcome["warnings"], outcome
    found = results(graded, name)
    assert outcome["job_succeeded"]
    assert outcome["gradable"] == found["gradable"]
    assert outcome["score"] == (found["score"] if found["gradable"] else 0)


def test_one_wrong_function_gets_the_katas_own_fraction_and_its_lesson(graded):
    found = results(graded, "one function wrong")
    # kata grade's count (tests/harness/test_grading.py): evaluate and the end-to-end lost.
    assert found["score"] == (EX1.points - points(EX1, "evaluate", "end_to_end")) / EX1.points
    tests = {test["name"]: test for test in found["tests"]}
    assert tests["Exercise 1: save"]["points"] == tests["Exercise 1: save"]["max_points"] == 3
    evaluate = tests["Exercise 1: evaluate"]
    assert evaluate["points"] == 0
    assert "drop the * 100" in evaluate["output"]
    assert "(and hidden tests that failed)" in evaluate["output"]  # collected, and counted
    assert "SECRET" not in json.dumps(found), "a hidden test's message reached the student"
    assert "exercise 2" not in found["output"], "a one-exercise question talks of the others"


def test_a_crashing_submission_is_graded_and_the_crash_named(graded):
    found = results(graded, "crashing")
    assert found["gradable"] is True and found["score"] == 0
    assert "ended abruptly (exit code 3) in test_create_model" in found["output"]


def test_a_submission_without_the_exercise_file_is_not_gradable(graded):
    found = results(graded, "nothing to grade")
    assert found["gradable"] is False
    assert EX1.file_name in found["format_errors"][0]


def test_a_file_that_is_not_python_source_is_not_gradable(graded):
    found = results(graded, "not a Python file")
    assert found["gradable"] is False
    assert "not a Python source file" in found["format_errors"][0]


@pytest.mark.parametrize(
    ("child", "deadline", "reason"),
    [
        ("import os; os._exit(9)", 60, "exit status 9"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 60, "most likely for memory"),
        ("import time; time.sleep(60)", 1, "did not finish within its time budget"),
    ],
)
def test_a_grading_that_leaves_no_result_still_ends_in_a_valid_one(
    tmp_path, child, deadline, reason
):
    root = grade_folder(tmp_path, {EX1.file_name: solution(EX1)}, {})
    assert prairielearn.supervise([sys.executable, "-c", child], root, deadline) == 0
    found = check_contract(prairielearn.results_path(root))
    assert found["gradable"] is False and reason in found["format_errors"][0]


def test_a_whole_kata_question_counts_the_exercises_without_a_file(tmp_path):
    # Exercise 1 solved, no file for the others: no end-to-end result for them, but their
    # end-to-end points still count in the maximum, as on Classroom 50 (no TensorFlow here).
    solved = [
        TestResult(f"tests/{EX1.test_file_name}::test_{f.name}", EX1.id, f.name, passed=True)
        for f in EX1.graded_functions
    ]
    graded = GradingResults(exercises=list(catalogue.exercises()), tests=solved)
    whole = sum(exercise.points for exercise in catalogue.exercises())
    found = prairielearn.results_json(graded)
    assert found["score"] == EX1.points / whole
    classroom = classroom50.result_json(graded, {})
    assert found["score"] == classroom["score"] / classroom["max-score"]
    prairielearn.write(tmp_path, found)
    check_contract(prairielearn.results_path(tmp_path))  # the tests' points add up to it


def test_a_result_too_large_for_prairielearn_is_cut_to_fit():
    huge = {"gradable": True, "score": 0.5, "tests": [{"output": "x" * 3 * 1024**2}]}
    data = prairielearn.encode(huge)
    assert len(data) <= 1024 * 1024
    assert json.loads(data)["score"] == 0.5
    with pytest.raises(ValueError):
        prairielearn.encode({"score": float("nan")})


def test_the_course_files_name_the_image_and_an_entrypoint_within_prairielearns_limits(tmp_path):
    prairielearn.write_course(tmp_path, ROOT, "someone/savedmodel-kata-grader:1")
    dockerfile = (tmp_path / "image" / "Dockerfile").read_text()
    assert "kata dev warm-cache" in dockerfile and "requirements.txt" in dockerfile
    assert (tmp_path / "image" / "kata" / "pyproject.toml").is_file()
    uuids = set()
    parser = cli.build_parser()
    for exercise in catalogue.exercises():
        folder = tmp_path / "questions" / prairielearn.question_name(exercise)
        info = json.loads((folder / "info.json").read_text())
        uuids.add(info["uuid"])
        assert UUID.match(info["uuid"]) and set(info) <= QUESTION_KEYS, info
        assert info["type"] == "v3" and info["title"] and info["topic"]
        assert info["gradingMethod"] == "External"
        options = info["externalGradingOptions"]
        assert set(options) <= GRADING_KEYS, options
        assert options["image"] == "someone/savedmodel-kata-grader:1"
        assert 0 < options["timeout"] <= 600 and options["enableNetworking"] is False
        command = options["entrypoint"]
        assert Path(command[0]).is_absolute() and Path(command[0]).name == "kata"
        budget = float(command[command.index("--time-budget") + 1])
        assert budget + prairielearn.STOP_MARGIN_SECONDS * 1.5 < options["timeout"]
        args = parser.parse_args(command[1:])
        assert args.prairielearn and args.exercise == [exercise.number]
        page = (folder / "question.html").read_text()
        assert f'<pl-file-upload file-names="{exercise.file_name}">' in page
        assert "<pl-external-grader-results>" in page
        assert (folder / "tests").is_dir()
    assert len(uuids) == len(catalogue.exercises()), "each question needs a uuid of its own"
