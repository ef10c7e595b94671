"""Grading through the platforms' own layout and contract.

GitHub Actions: the per-function checks workflow `kata dev update` generates,
run step by step in a git clone of a student's repository the way the
command-grader and reporter actions run it (their behaviour, as read from
their code, is written out below), against the kata's own grade.

Gradescope: the zip laid out as Gradescope does (its contents in
<root>/source, run_autograder copied to <root>), setup.sh run (installs
satisfied from this environment), then run_autograder on uploads of every
shape; results.json checked against Gradescope's documented fields.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from savedmodel_kata import catalogue
from savedmodel_kata.grading import actions, gradescope
from savedmodel_kata.grading.grader import grade
from savedmodel_kata.maintainer import generated

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ROOT.parent / "shared" / "platforms"
EX1, EX2, EX3, EX4 = (catalogue.by_number(n) for n in (1, 2, 3, 4))
ALL_POINTS = sum(exercise.points for exercise in catalogue.exercises())
ONE_WRONG = ("    return float(value)", "    return 100 * float(value)")  # ex01 evaluate only
COMMAND_GRADER = "classroom-resources/autograding-command-grader@"
REPORTER = "classroom-resources/autograding-grading-reporter@"


def solution(exercise) -> str:
    return (ROOT / "solutions" / exercise.file_name).read_text()


def points(exercise, *functions) -> int:
    return sum(exercise.function(name).points for name in functions)


def git(folder: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=folder, check=True, capture_output=True, text=True
    ).stdout


# --- GitHub Actions: the per-function checks --------------------------------------


def template_repository(folder: Path) -> Path:
    """The kata as an instructor publishes it: this working tree, committed, its files made."""
    folder.mkdir()
    git(folder, "init", "-q")
    for path in git(ROOT, "ls-files").split():
        if (ROOT / path).is_file():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, folder / path)
    generated.update(folder)
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "template")
    return folder


def student_repository(template: Path, folder: Path, files: dict[str, str]) -> Path:
    git(template.parent, "clone", "-q", str(template), str(folder))
    for name, text in files.items():
        (folder / "exercises" / name).write_text(text)
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=s", "-c", "user.email=s@s", "commit", "-qm", "my work")
    return folder


def command_grader(step: dict, workspace: Path, home: Path) -> tuple[dict, str]:
    """One step as autograding-command-grader@v1 runs it (its src/main.js): the command through
    /bin/sh with only PATH and HOME (and two dotnet variables), killed after `timeout` minutes;
    exit 0 scores max-score, anything else 0. Its result, and what the step printed."""
    inputs = step["with"]
    environment = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "FORCE_COLOR": "true",
        "DOTNET_CLI_HOME": "/tmp",
        "DOTNET_NOLOGO": "true",
        "HOME": str(home),
    }
    try:
        finished = subprocess.run(
            ["/bin/sh", "-c", inputs["command"]],
            cwd=workspace,
            env=environment,
            capture_output=True,
            text=True,
            timeout=float(inputs["timeout"]) * 60,
        )
        status, log = ("pass" if finished.returncode == 0 else "fail"), finished.stdout
    except subprocess.TimeoutExpired as expired:
        status, log = "error", str(expired.stdout or "")
    max_score = int(inputs["max-score"])
    score = max_score if status == "pass" else 0
    return {"status": status, "max_score": max_score, "tests": [{"score": score}]}, log


def reporter_points(results: list[dict]) -> tuple[int, int]:
    """autograding-grading-reporter@v1's 'Autograding report' notice: scores summed over the
    steps that have a max_score (its src/notify-classroom.js)."""
    counted = [r for r in results if r["max_score"]]
    return sum(t["score"] for r in counted for t in r["tests"]), sum(
        r["max_score"] for r in counted
    )


@pytest.fixture(scope="module")
def actions_template(tmp_path_factory):
    return template_repository(tmp_path_factory.mktemp("actions") / "template")


def test_actions_checks_give_each_function_the_kata_s_points(actions_template, tmp_path):
    # Exercise 1 right but for evaluate, the others the stubs (a passing exercise costs time;
    # exercise 1's other functions show full points passing through the steps).
    files = {EX1.file_name: solution(EX1).replace(*ONE_WRONG)}
    workspace = student_repository(actions_template, tmp_path / "student", files)
    workflow = yaml.safe_load((workspace / actions.WORKFLOW).read_text())
    steps = workflow["jobs"][actions.JOB]["steps"]
    graders = [s for s in steps if s.get("uses", "").startswith(COMMAND_GRADER)]
    (reporter,) = [s for s in steps if s.get("uses", "").startswith(REPORTER)]
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graders]
    home = tmp_path / "home"
    home.mkdir()
    results, logs = {}, {}
    for step in graders:
        results[step["id"]], logs[step["id"]] = command_grader(step, workspace, home)
    expected = EX1.points - points(EX1, "evaluate", "end_to_end")
    assert reporter_points(list(results.values())) == (expected, ALL_POINTS), logs
    graded = grade(workspace, exercises=[EX1])
    assert graded.scores.earned == expected, "the checks and `kata grade` disagree"
    log = logs["ex01evaluate"]
    assert "this looks like a percentage, drop the * 100" in log, "the failure is not in the log"
    assert "::stop-commands::" in log  # student-made text cannot issue workflow commands
    assert results["ex01save"]["status"] == "pass" and results["ex02save"]["status"] == "fail"


# --- Gradescope ---------------------------------------------------------------------

GRADESCOPE_TEST_FIELDS = {
    "score": (int, float),
    "max_score": (int, float),
    "status": str,
    "name": str,
    "number": str,
    "output": str,
    "output_format": str,
    "tags": list,
    "visibility": str,
    "extra_data": dict,
}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def check_results_json(results: dict) -> None:
    """Gradescope's documented results.json (autograder_samples, docs/specs.md)."""
    assert isinstance(results.get("score", 0), (int, float))
    for key in ("output_format", "test_output_format"):
        assert results.get(key, "text") in FORMATS
    for key in ("visibility", "stdout_visibility"):
        assert results.get(key, "visible") in VISIBILITIES
    assert isinstance(results.get("execution_time", 0), (int, float))
    for test in results["tests"]:
        for key, kind in GRADESCOPE_TEST_FIELDS.items():
            assert key not in test or isinstance(test[key], kind), (key, test)
        assert test["status"] in ("passed", "failed"), test
        assert test.get("output_format", "text") in FORMATS
        assert test.get("visibility", "visible") in VISIBILITIES
        if test.get("max_score") is not None and test["status"] == "passed":
            assert test["score"] == test["max_score"], test


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """Gradescope's /autograder: the zip unpacked into source/, setup.sh run."""
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    archive = gradescope.build(root.parent / "autograder.zip", ROOT)
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        opened.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "pyproject.toml"} <= set(names)
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)
    environment = dict(
        os.environ,
        AUTOGRADER_ROOT=str(root),
        KATA_SETUP_OFFLINE="1",
        KATA_SETUP_PYTHON=sys.executable,
    )
    setup = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], env=environment, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


def submit(root: Path, files: dict[str, str], grade_args: str = "") -> dict:
    """Put `files` (relative paths) in <root>/submission, run run_autograder, read results.json."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    for relative, text in files.items():
        (root / "submission" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / relative).write_text(text)
    (root / "submission").mkdir(exist_ok=True)
    environment = dict(os.environ, AUTOGRADER_ROOT=str(root), KATA_GRADE_ARGS=grade_args)
    environment.pop("KATA_ROOT", None)
    subprocess.run(
        ["bash", str(root / "run_autograder")], cwd=root, env=environment, capture_output=True
    )
    results = json.loads((root / "results" / "results.json").read_text())
    check_results_json(results)
    return results


def by_name(results: dict) -> dict[str, dict]:
    return {test["name"]: test for test in results["tests"]}


def test_gradescope_grades_a_download_zip_upload_per_function(autograder):
    # GitHub's "Download ZIP": everything under one top folder.
    top = "savedmodel-kata-main/exercises/"
    files = {
        top + EX1.file_name: solution(EX1).replace(*ONE_WRONG),
        top + EX2.file_name: solution(EX2),
    }
    results = submit(autograder, files, "--exercise 1 --exercise 2")
    assert results["score"] == EX1.points - points(EX1, "evaluate", "end_to_end") + EX2.points
    tests = by_name(results)
    assert tests["Exercise 1: evaluate"]["status"] == "failed"
    assert "drop the * 100" in tests["Exercise 1: evaluate"]["output"]
    assert tests["Exercise 1: end-to-end"]["status"] == "failed", (
        "a failed 1-point entry must not read as passed"
    )
    assert tests["Exercise 2: save"]["status"] == "passed"
    assert results["output_format"] == "md" and results["execution_time"] > 0


def test_gradescope_grades_bare_files_and_names_a_missing_one(autograder):
    results = submit(autograder, {EX1.file_name: solution(EX1)}, "--exercise 1 --exercise 2")
    assert results["score"] == EX1.points
    assert f"no {EX2.file_name} in the submission" in results["output"]


def test_gradescope_writes_results_even_when_the_grading_crashes(autograder):
    results = submit(autograder, {EX1.file_name: solution(EX1)}, "--no-such-option")
    assert results["score"] == 0
    assert "did not finish" in results["output"] and "no-such-option" in results["output"]
