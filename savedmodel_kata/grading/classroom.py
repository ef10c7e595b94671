"""GitHub Classroom's autograding files, made from the catalogue (`kata dev update` writes them).

.github/workflows/classroom.yml has one autograding step per exercise (the
command-grader action: test-name, command, timeout, max-score) and the
grading reporter; .github/classroom/autograding.json is the same for the
older runner. The command grader keeps only PATH and HOME of the
environment, so every setting a step needs is on its command line, and the
graded run writes TensorFlow's noise to log files, never to stderr. The
command pins the manifest's sha256, so an edited manifest stops grading.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from savedmodel_kata import catalogue
from savedmodel_kata.grading.workspace import manifest_digest

WORKFLOW = Path(".github/workflows/classroom.yml")
AUTOGRADING = Path(".github/classroom/autograding.json")
SETUP_COMMAND = "python -m pip install --quiet -e ."
TIMEOUT_MINUTES = 10
HEADER = "# Made by `kata dev update` from savedmodel_kata/catalogue.toml: do not edit.\n"


def grade_command(exercise: catalogue.Exercise, digest: str) -> str:
    return (
        f"kata grade --exercise {exercise.number} --require-full --manifest-sha256 {digest} "
        f"--out grading-report/{exercise.id}"
    )


def test_name(exercise: catalogue.Exercise) -> str:
    return f"Exercise {exercise.number}: {exercise.module}"


def workflow(digest: str) -> dict:
    exercises = catalogue.exercises()
    steps = [
        {
            "name": "Checkout code",
            "uses": "actions/checkout@v4",
            # The pristine harness is rebuilt from the template's git objects.
            "with": {"fetch-depth": 0},
        },
        {"uses": "actions/setup-python@v5", "with": {"python-version": "3.11"}},
        {"name": "Install the kata", "run": SETUP_COMMAND},
    ]
    for exercise in exercises:
        steps.append(
            {
                "name": test_name(exercise),
                "id": exercise.id,
                "uses": "classroom-resources/autograding-command-grader@v1",
                "with": {
                    "test-name": test_name(exercise),
                    "setup-command": "",
                    "command": grade_command(exercise, digest),
                    "timeout": TIMEOUT_MINUTES,
                    "max-score": exercise.points,
                },
            }
        )
    steps.append(
        {
            "name": "Autograding Reporter",
            "uses": "classroom-resources/autograding-grading-reporter@v1",
            "env": {
                f"{e.id.upper()}_RESULTS": f"${{{{steps.{e.id}.outputs.result}}}}"
                for e in exercises
            },
            "with": {"runners": ",".join(e.id for e in exercises)},
        }
    )
    return {
        "name": "Autograding Tests",
        "on": ["push", "repository_dispatch"],
        "permissions": {"checks": "write", "actions": "read", "contents": "read"},
        "jobs": {
            "run-autograding-tests": {
                "runs-on": "ubuntu-latest",
                "if": "github.actor != 'github-classroom[bot]'",
                "steps": steps,
            }
        },
    }


def render_workflow(digest: str) -> str:
    return HEADER + yaml.safe_dump(workflow(digest), sort_keys=False, width=1000)


def render_autograding(digest: str) -> str:
    tests = [
        {
            "name": test_name(exercise),
            "setup": SETUP_COMMAND,
            "run": grade_command(exercise, digest),
            "input": "",
            "output": "",
            "comparison": "included",
            "timeout": TIMEOUT_MINUTES,
            "points": exercise.points,
        }
        for exercise in catalogue.exercises()
    ]
    return json.dumps({"tests": tests}, indent=2) + "\n"


def expected_files(root: Path) -> dict[Path, str]:
    digest = manifest_digest(root)
    return {WORKFLOW: render_workflow(digest), AUTOGRADING: render_autograding(digest)}
