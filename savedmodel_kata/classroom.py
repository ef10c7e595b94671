"""GitHub Classroom's autograding files, made from the catalogue.

    python -m savedmodel_kata.classroom          # write both files
    python -m savedmodel_kata.classroom --check  # exit 1 if they differ from what the catalogue gives

.github/workflows/classroom.yml has one autograding step per exercise (the
command-grader action: test-name, command, timeout, max-score) and the
grading reporter; .github/classroom/autograding.json is the same for the
older runner. The command-grader keeps only PATH and HOME of the
environment, so every setting a step needs is on its command line, and the
graded run writes TensorFlow's noise to log files, never to stderr. The
command pins the manifest's sha256, so an edited manifest stops grading.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from savedmodel_kata import catalogue, grading, targets

WORKFLOW = Path(".github/workflows/classroom.yml")
AUTOGRADING = Path(".github/classroom/autograding.json")
SETUP_COMMAND = "python -m pip install --quiet -e ."
TIMEOUT_MINUTES = 10


def grade_command(exercise: catalogue.Exercise, digest: str) -> str:
    return (
        f"kata grade --exercise {exercise.number} --require-full --manifest-sha256 {digest} "
        f"--out grading-report/{exercise.id}"
    )


def test_name(exercise: catalogue.Exercise) -> str:
    return f"Exercise {exercise.number}: {exercise.module}"


def render_workflow(digest: str) -> str:
    lines = [
        "# Made by `python -m savedmodel_kata.classroom` from savedmodel_kata/catalogue.toml: do not edit.",
        "name: Autograding Tests",
        "'on':",
        "- push",
        "- repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "    - name: Checkout code",
        "      uses: actions/checkout@v4",
        "      with:",
        "        fetch-depth: 0  # the pristine harness is rebuilt from the template's git objects",
        "    - uses: actions/setup-python@v5",
        "      with:",
        "        python-version: '3.11'",
        "    - name: Install the kata",
        f"      run: {json.dumps(SETUP_COMMAND)}",
    ]
    for exercise in catalogue.exercises():
        lines += [
            f"    - name: {json.dumps(test_name(exercise))}",
            f"      id: {exercise.id}",
            "      uses: classroom-resources/autograding-command-grader@v1",
            "      with:",
            f"        test-name: {json.dumps(test_name(exercise))}",
            "        setup-command: ''",
            f"        command: {json.dumps(grade_command(exercise, digest))}",
            f"        timeout: {TIMEOUT_MINUTES}",
            f"        max-score: {exercise.points}",
        ]
    ids = [exercise.id for exercise in catalogue.exercises()]
    lines += [
        "    - name: Autograding Reporter",
        "      uses: classroom-resources/autograding-grading-reporter@v1",
        "      env:",
        *(f'        {i.upper()}_RESULTS: "${{{{steps.{i}.outputs.result}}}}"' for i in ids),
        "      with:",
        f"        runners: {','.join(ids)}",
    ]
    return "\n".join(lines) + "\n"


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
    digest = grading.manifest_digest(root)
    return {WORKFLOW: render_workflow(digest), AUTOGRADING: render_autograding(digest)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write GitHub Classroom's autograding files from the catalogue.")
    parser.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    args = parser.parse_args(argv)
    root = targets.find_root()
    differing = []
    for path, text in expected_files(root).items():
        if not (root / path).is_file() or (root / path).read_text() != text:
            differing.append(path)
            if not args.check:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(text)
    for path in differing:
        print(f"{'differs' if args.check else 'wrote'}: {path}")
    return 1 if args.check and differing else 0


if __name__ == "__main__":
    sys.exit(main())
