"""Classroom 50: the bundle's autograder.py run the way Classroom 50's runner.py runs it.

The bundle is built as `kata dev classroom50-bundle` builds it (exercise 1
only, to keep CI short), and its autograder.py is run as runner.py runs it:
the test's interpreter, no arguments, cwd a git clone of a student's
repository (the template without solutions/, as instructors publish it), the
grade job's environment plus what runner.py adds (CLASSROOM50_BUNDLE_DIR,
COMMIT_URL, RELEASE_URL, REVIEW_URL, ...). The install is offline (.pth
files onto this environment's packages) and shared by every case: the
autograder keeps its environment in RUNNER_TEMP for a second run of the same
job. Its result.json is checked against the contract runner.py and the
gradebook collector check (../shared/platforms/README.md: validate_result),
and its score against the kata's own grade.

When Classroom 50's runner.py is here (CLASSROOM50_RUNNER, or
../untracked/classroom50/runner.py: public code, never committed) and
../shared/platforms/classroom50/run_classroom50.py too, one case also goes
through them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.grading import classroom50
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.results import TestResult

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ROOT.parent / "shared" / "platforms"
RUN_CLASSROOM50 = PLATFORMS / "classroom50" / "run_classroom50.py"
RUNNER = Path(
    os.environ.get("CLASSROOM50_RUNNER") or ROOT.parent / "untracked" / "classroom50" / "runner.py"
)
EX1 = catalogue.by_number(1)
CLASSROOM, ASSIGNMENT, USERNAME = "ml-course", "savedmodel-kata", "student"
ONE_WRONG = ("    return float(value)", "    return 100 * float(value)")  # ex01 evaluate only
CRASH = (
    "def create_model(x):\n",
    "def create_model(x):\n    import os\n\n    os._exit(3)\n",
)


def git(folder: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=s", "-c", "user.email=s@s", *arguments],
        cwd=folder, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def scaled(exercise, *functions) -> int:
    return sum(classroom50.scaled(exercise.function(name).points) for name in functions)


# --- the contract ---------------------------------------------------------------------------


def check_result(result: dict, environment: dict) -> None:
    """What runner.py's validate_result and the score collector require of result.json."""
    assert result["schema"] == "classroom50/result/v1"
    assert result["classroom"] == environment["CLASSROOM"]
    assert result["assignment"] == environment["ASSIGNMENT"]
    assert result["submission"] == environment["SUBMISSION_TAG"]
    assert result["submission"].startswith("submit/")
    assert result["review"] == environment["REVIEW_URL"]
    for field in ("commit", "release", "review", "owner", "datetime"):
        assert isinstance(result[field], str) and result[field], field
    for holder in (result, *result["tests"]):
        for field in ("score", "max-score"):
            value = holder[field]
            assert type(value) is int and value >= 0, (field, holder)  # no floats, no booleans
        assert holder["score"] <= holder["max-score"], holder
    assert isinstance(result["tests"], list)
    for test in result["tests"]:
        assert isinstance(test["test-name"], str) and test["test-name"], test
        assert isinstance(test["passed"], bool), test
    assert len({test["test-name"] for test in result["tests"]}) == len(result["tests"])


def kata_grade(runner_temp: Path) -> int:
    """The kata's own grade, from the report.json of the same grading, in hundredths."""
    report = json.loads((runner_temp / "savedmodel-kata" / "report" / "report.json").read_text())
    return classroom50.scaled(report["score"])


# --- the layout -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git clone: the bundle holds the files git tracks")
    folder = classroom50.build(tmp_path_factory.mktemp("pages") / ASSIGNMENT, ROOT, [EX1])
    assert {"autograder.py", "bundle.json", "harness"} <= {p.name for p in folder.iterdir()}
    assert (folder / "harness" / "savedmodel_kata" / "data" / "mnist-digits-10k.npz").is_file()
    assert classroom50.packed_size(folder) <= classroom50.BUNDLE_LIMIT_BYTES
    return folder


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runner_temp")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The students' template as documented: the kata without solutions/, accepted."""
    folder = tmp_path_factory.mktemp("template") / "repository"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    for path in classroom50.tracked_files(ROOT):
        if not path.startswith("solutions/"):
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, folder / path)
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "template")
    (folder / ".classroom50.yaml").write_text(f"classroom: {CLASSROOM}\nassignment: {ASSIGNMENT}\n")
    (folder / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (folder / ".github" / "workflows" / "autograde.yaml").write_text("# the shim\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "accept")
    return folder


def student_checkout(template: Path, folder: Path, files: dict[str, str]) -> Path:
    git(template.parent, "clone", "-q", str(template), str(folder))
    for name, text in files.items():
        (folder / "exercises" / name).write_text(text)
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "my work", "--allow-empty")
    return folder


def job_environment(checkout: Path, bundle: Path, runner_temp: Path) -> dict:
    """The grade job's environment as runner.py hands it to autograder.py."""
    sha = git(checkout, "rev-parse", "HEAD").strip()
    repository = f"rehearsal-org/{CLASSROOM}-{ASSIGNMENT}-{USERNAME}"
    tag = f"submit/2026-12-04T21-00-00Z-{sha[:7]}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KATA_")}
    environment.update(
        PAGES_BASE_URL="http://127.0.0.1:9/classroom50",
        CLASSROOM=CLASSROOM,
        ASSIGNMENT=ASSIGNMENT,
        SUBMISSION_TAG=tag,
        MODE="individual",
        GITHUB_REPOSITORY=repository,
        GITHUB_SHA=sha,
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_ACTOR=USERNAME,
        RUNNER_TEMP=str(runner_temp),
        CLASSROOM50_BUNDLE_DIR=str(bundle),
        USERNAME=USERNAME,
        OWNER=USERNAME,
        ASSIGNMENT_TYPE="individual",
        COMMIT_URL=f"https://github.com/{repository}/commit/{sha}",
        RELEASE_URL=f"https://github.com/{repository}/releases/tag/{tag.replace('/', '%2F')}",
        REVIEW_URL=f"https://github.com/{repository}/compare/{'0' * 40}...{sha}",
        KATA_SETUP_OFFLINE="1",
    )
    return environment


def autograde(bundle, runner_temp, checkout: Path, **settings: str) -> tuple[dict, str, str]:
    """Run autograder.py as runner.py's run_entrypoint does; its result.json, body and log."""
    environment = dict(job_environment(checkout, bundle, runner_temp), **settings)
    finished = subprocess.run(
        [sys.executable, str(bundle / "autograder.py")],
        cwd=checkout, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    log = finished.stdout + finished.stderr
    assert finished.returncode == 0, log[-3000:]  # non-zero would be runner.py's error result
    result = json.loads((checkout / "result.json").read_text())
    check_result(result, environment)
    return result, (checkout / "release-body.md").read_text(), log


def by_name(result: dict) -> dict[str, dict]:
    return {test["test-name"]: test for test in result["tests"]}


def test_every_share_of_every_functions_points_is_its_exact_hundredths():
    # Every function of the catalogue (all exercises), k of n tests passing: each score is
    # its kata points times 100, read as decimals (a float's 0.29 * 100 is 28.999...).
    for n in range(1, 10):
        for k in range(n + 1):
            tests = [
                TestResult(f"{e.id}::{f.name}[{i}]", e.id, f.name, passed=i < k)
                for e in catalogue.exercises()
                for f in e.graded_functions
                for i in range(n)
            ]
            graded = GradingResults(exercises=list(catalogue.exercises()), tests=tests)
            result = classroom50.result_json(graded, {})
            kata = {
                classroom50._test_name(f.exercise, f.function): f for f in graded.scores.functions
            }
            for test in result["tests"]:
                assert test["score"] == Decimal(str(kata[test["test-name"]].earned)) * 100, test
            assert result["score"] == Decimal(str(graded.scores.earned)) * 100


# --- the grades -----------------------------------------------------------------------------


def test_the_stubs_score_zero_even_with_a_renderer_of_their_own(
    bundle, runner_temp, template, tmp_path
):
    checkout = student_checkout(template, tmp_path / "student", {})
    # The checkout holds the student's copy of the harness: one that would give full marks.
    forged = checkout / "savedmodel_kata" / "grading" / "classroom50.py"
    forged.write_text(forged.read_text().replace('"score": score,', '"score": 1000,'))
    git(checkout, "commit", "-qam", "full marks, please")
    result, body, _ = autograde(bundle, runner_temp, checkout)
    assert (result["score"], result["max-score"]) == (0, classroom50.scaled(EX1.points))
    assert not any(test["passed"] for test in result["tests"])
    assert "not implemented" in body
    assert result["kata"]["tampered"] == ["savedmodel_kata/grading/classroom50.py"]


def test_the_solutions_get_full_marks_equal_to_the_kata_grade(
    bundle, runner_temp, template, tmp_path
):
    files = {EX1.file_name: (ROOT / "solutions" / EX1.file_name).read_text()}
    result, body, _ = autograde(bundle, runner_temp, student_checkout(template, tmp_path, files))
    assert result["score"] == result["max-score"] == kata_grade(runner_temp) == 1000
    assert all(test["passed"] for test in result["tests"])
    assert "### The SavedModel kata: 10 / 10 points" in body and "What to fix" not in body


def test_one_wrong_function_costs_its_points_and_shows_its_lesson(
    bundle, runner_temp, template, tmp_path
):
    wrong = (ROOT / "solutions" / EX1.file_name).read_text().replace(*ONE_WRONG)
    checkout = student_checkout(template, tmp_path / "student", {EX1.file_name: wrong})
    result, body, _ = autograde(bundle, runner_temp, checkout)
    expected = classroom50.scaled(EX1.points) - scaled(EX1, "evaluate", "end_to_end")
    assert result["score"] == expected == kata_grade(runner_temp)
    tests = by_name(result)
    assert not tests["Exercise 1: evaluate"]["passed"]
    assert tests["Exercise 1: save"]["passed"] and tests["Exercise 1: save"]["score"] == 300
    assert "drop the * 100" in body  # the failure's lesson, where the student reads it
    assert "hundredths of a point" in body


def test_a_submission_that_kills_the_grader_gets_a_result_naming_the_crash(
    bundle, runner_temp, template, tmp_path
):
    crashing = (ROOT / "solutions" / EX1.file_name).read_text().replace(*CRASH)
    assert crashing != (ROOT / "solutions" / EX1.file_name).read_text()
    checkout = student_checkout(template, tmp_path / "student", {EX1.file_name: crashing})
    result, body, _ = autograde(bundle, runner_temp, checkout)
    assert result["score"] == kata_grade(runner_temp) < result["max-score"]
    assert any("exit code 3" in problem for problem in result["kata"]["problems"]), result
    assert "exit code 3" in body and "Problems while grading" in body


def test_an_unsupported_python_gets_a_result_saying_which_runtime_to_set(
    bundle, runner_temp, template, tmp_path
):
    # A copy of the bundle whose supported Pythons exclude this one: as Python 3.14 would be.
    copy = tmp_path / ASSIGNMENT
    copy.mkdir()
    shutil.copy2(bundle / "autograder.py", copy / "autograder.py")
    config = json.loads((bundle / "bundle.json").read_text())
    config["supported-pythons"] = ["3.99"]
    (copy / "bundle.json").write_text(json.dumps(config))
    checkout = student_checkout(template, tmp_path / "student", {})
    result, body, _ = autograde(copy, runner_temp, checkout)
    assert (result["score"], result["max-score"]) == (0, classroom50.scaled(EX1.points))
    assert result["kata"]["grading"] == "not graded"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"Python {version}" in body and '"python": "3.12"' in body


def test_a_folder_or_a_link_named_result_json_still_gives_a_result_in_the_checkout(
    bundle, runner_temp, template, tmp_path
):
    # No grading needed: a bundle whose supported Pythons exclude this one, as above.
    copy = tmp_path / ASSIGNMENT
    copy.mkdir()
    shutil.copy2(bundle / "autograder.py", copy / "autograder.py")
    config = json.loads((bundle / "bundle.json").read_text())
    (copy / "bundle.json").write_text(json.dumps({**config, "supported-pythons": ["3.99"]}))
    checkout = student_checkout(template, tmp_path / "student", {})
    (checkout / "result.json").mkdir()
    (checkout / "result.json" / "score.txt").write_text("full marks\n")
    outside = tmp_path / "outside.md"
    (checkout / "release-body.md").symlink_to(outside)  # dangling: nothing there yet
    git(checkout, "add", "-A")
    git(checkout, "commit", "-qm", "in the way")
    result, body, _ = autograde(copy, runner_temp, checkout)
    assert result["kata"]["grading"] == "not graded" and "Python" in body
    assert not (checkout / "release-body.md").is_symlink() and not outside.exists()


def test_no_time_left_to_grade_still_gives_a_result(bundle, runner_temp, template, tmp_path):
    checkout = student_checkout(template, tmp_path / "student", {})
    result, body, _ = autograde(bundle, runner_temp, checkout, KATA_CLASSROOM50_BUDGET="90")
    assert result["score"] == 0 and "no time to grade" in body


# --- through Classroom 50's own runner.py ----------------------------------------------------


def test_through_classroom50s_runner(bundle, template, tmp_path):
    if not RUN_CLASSROOM50.is_file():
        pytest.skip(f"{RUN_CLASSROOM50} is not here: the rehearsal kit is needed")
    if not RUNNER.is_file():
        pytest.skip(
            f"no Classroom 50 runner.py at {RUNNER}: read it from foundation50/classroom50 "
            "(cli/gh-teacher/skeleton/dotgithub/scripts/runner.py) into an untracked folder"
        )
    wrong = (ROOT / "solutions" / EX1.file_name).read_text().replace(*ONE_WRONG)
    checkout = student_checkout(template, tmp_path / "student", {EX1.file_name: wrong})
    # The runner hands autograder.py its own environment: the offline install is set there, by
    # an interpreter that sets it and becomes this one.
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.write_text(f'#!/bin/sh\nKATA_SETUP_OFFLINE=1 exec {sys.executable} "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    finished = subprocess.run(
        [sys.executable, str(RUN_CLASSROOM50), str(checkout), str(bundle), "--python", str(python),
         "--out", str(tmp_path / "out")],
        env=dict(os.environ, CLASSROOM50_RUNNER=str(RUNNER)), capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert finished.returncode == 1, finished.stdout[-4000:]  # status=failure: a test failed
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    expected = classroom50.scaled(EX1.points) - scaled(EX1, "evaluate", "end_to_end")
    assert result["score"] == expected
    assert "Release with result.json: published" in finished.stdout
    assert "drop the * 100" in (tmp_path / "out" / "release-body.md").read_text()
