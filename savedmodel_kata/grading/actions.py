"""Per-function checks in a repository's own GitHub Actions (`kata dev update` writes the workflow).

GitHub Classroom, which these steps once reported to, was retired on
2026-08-28; its two actions still run in any workflow as plain checks, and
the reporter's table and notices give the points in the run's log and
annotations. .github/workflows/per-function-checks.yml has one
command-grader step per exercise function, worth that function's points,
then the grading reporter. The
command grader awards a step's points when its command exits 0: the first
step of an exercise grades the whole exercise (one TensorFlow import) and
keeps the result in the runner's home folder; the exercise's other steps
read it and only decide their own function. Each step prints its function's
failures to the log, in foldable groups. Time limits nest: 30 s a student
call, `EXERCISE_TIME_LIMIT_SECONDS` an exercise, the first step's timeout
above that; commands start with `exec`, so the step's SIGTERM reaches the
kata, which stops its worker and reports. The command grader keeps only PATH
and HOME of the environment, so every setting is on the command line; the
commands pin the manifest's sha256, so an edited manifest stops grading.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from savedmodel_kata import catalogue
from savedmodel_kata.grading.grader import EXERCISE_TIME_LIMIT_SECONDS

WORKFLOW = Path(".github/workflows/per-function-checks.yml")
SETUP_COMMAND = "python -m pip install --quiet -e ."
# The first step of an exercise: its grading, plus rebuilding the pristine harness, importing
# TensorFlow and (cold cache) training the reference, with a margin.
FIRST_STEP_MINUTES = math.ceil((EXERCISE_TIME_LIMIT_SECONDS + 120) / 60)
OTHER_STEP_MINUTES = 1
JOB_MINUTES = 60
JOB = "per-function-checks"
HEADER = "# Made by `kata dev update` from savedmodel_kata/catalogue.toml: do not edit.\n"


def step_id(exercise: catalogue.Exercise, function: str) -> str:
    """Letters and digits only: the reporter reads <ID>_RESULTS, and reports other ids badly."""
    return exercise.id + function.replace("_", "")


def test_name(exercise: catalogue.Exercise, function: str) -> str:
    return f"Exercise {exercise.number}: {function}"


def grade_command(exercise: catalogue.Exercise, function: str, digest: str, first: bool) -> str:
    command = f"exec kata grade --exercise {exercise.number} --function {function}"
    if first:
        return (
            f"{command} --manifest-sha256 {digest} --time-limit {EXERCISE_TIME_LIMIT_SECONDS} "
            f"--out grading-report/{exercise.id}"
        )
    return f"{command} --reuse"


def workflow(digest: str) -> dict:
    steps = [
        {
            "name": "Checkout code",
            "uses": "actions/checkout@v4",
            # The pristine harness is rebuilt from the template's git objects.
            "with": {"fetch-depth": 0},
        },
        {
            "uses": "actions/setup-python@v5",
            "with": {
                "python-version": "3.11",
                "cache": "pip",
                "cache-dependency-path": "pyproject.toml",
            },
        },
        {"name": "Install the kata", "run": SETUP_COMMAND},
    ]
    ids = []
    for exercise in catalogue.exercises():
        for index, function in enumerate(exercise.graded_functions):
            if not function.points:
                continue  # a failing 0-point step would fail the job and award nothing
            first = index == 0
            ids.append(step_id(exercise, function.name))
            steps.append(
                {
                    "name": f"{test_name(exercise, function.name)} ({function.points} "
                    + ("point)" if function.points == 1 else "points)"),
                    "id": ids[-1],
                    "uses": "classroom-resources/autograding-command-grader@v1",
                    "with": {
                        "test-name": test_name(exercise, function.name),
                        "setup-command": "",
                        "command": grade_command(exercise, function.name, digest, first),
                        "timeout": FIRST_STEP_MINUTES if first else OTHER_STEP_MINUTES,
                        "max-score": function.points,
                    },
                }
            )
    steps.append(
        {
            "name": "Points per function",
            "uses": "classroom-resources/autograding-grading-reporter@v1",
            "env": {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}" for i in ids},
            "with": {"runners": ",".join(ids)},
        }
    )
    return {
        "name": "Per-function checks",
        # repository_dispatch was GitHub Classroom's own trigger; a push is what grades now.
        "on": ["push", "workflow_dispatch"],
        "permissions": {"contents": "read"},  # the steps only read the repository
        "jobs": {
            JOB: {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": JOB_MINUTES,
                "steps": steps,
            }
        },
    }


def render_workflow(digest: str) -> str:
    return HEADER + yaml.safe_dump(workflow(digest), sort_keys=False, width=1000)
