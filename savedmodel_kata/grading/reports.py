"""Every grading report is a rendering of one `GradingResults`.

    summary.txt     for people: points per function, how files were found, tampering, problems
    report.json     every function and every test
    results.json    Gradescope's format: one test per exercise function, with its status
    junit.xml       one test case per test, for CI systems (junitparser)
    the log         GitHub Actions: one function's result and failures, in foldable groups
    gradebook.csv   a class: a row per submission, points per function

report.json is also what a class grading resumes from (`read_report`).

Hidden tests count like the others; their messages never reach a report a
student sees.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import tempfile
from pathlib import Path

from junitparser import Failure, JUnitXml, Properties, Property, TestCase, TestSuite

from savedmodel_kata import catalogue
from savedmodel_kata.catalogue import END_TO_END
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.results import FunctionScore, State, TestResult


def points(value: float) -> str:
    return f"{value:g}"


def function_output(function: FunctionScore) -> str:
    """The failure messages of a function's visible tests, and a word for its hidden ones."""
    text = "\n\n".join(f"{f.name}:\n{f.message.strip()}" for f in function.failures if not f.hidden)
    if any(f.hidden for f in function.failures):
        text += "\n\n(and hidden tests that failed)"
    return text.strip()


def function_label(function: FunctionScore) -> str:
    name = "end-to-end" if function.function == END_TO_END else function.function
    return f"Exercise {function.exercise.number}: {name}"


def summary_text(graded: GradingResults) -> str:
    scores = graded.scores
    lines = [f"Score: {points(scores.earned)} / {points(scores.points)}", ""]
    for function in scores.functions:
        label = f"exercise {function.exercise.number} {function.function}"
        earned = f"{points(function.earned)}/{points(function.points)}" if function.points else "-"
        lines.append(f"  {label:<42} {function.passed:>2}/{function.total:<2} tests  {earned:>7}")
    if graded.notes:
        lines += ["", "The submission:"] + [f"  {note}" for note in graded.notes]
    if graded.tampered:
        lines += [
            "",
            "Tampering: these harness files differ from the pristine copy; the pristine copy "
            "was used:",
        ]
        lines += [f"  {path}" for path in graded.tampered]
    if graded.problems:
        lines += ["", "Problems:"] + [f"  {problem}" for problem in graded.problems]
    return "\n".join(lines) + "\n"


def gradescope_results(graded: GradingResults) -> dict:
    """Gradescope's results.json (its specs.md): a test per function, each with its status."""
    tests = []
    for index, f in enumerate(graded.scores.functions, start=1):
        seconds = sum(t.seconds for t in graded.tests if t.graded == f.graded)
        tests.append(
            {
                "name": function_label(f),
                "number": f"{f.exercise.number}.{index}",
                "score": f.earned,
                "max_score": f.points,
                # Explicit: without it a 0/0 entry, or a full score, reads as passed.
                "status": "passed" if f.state == State.PASSING else "failed",
                "output": function_output(f)
                or (f"all {f.total} tests pass" if f.total else "not graded"),
                "output_format": "text",
                "tags": [f.exercise.id, f.function],
                "visibility": "visible",
                "extra_data": {
                    "tests_passed": f.passed,
                    "tests": f.total,
                    "seconds": round(seconds, 2),
                },
            }
        )
    return {
        "score": graded.scores.earned,
        "execution_time": round(graded.seconds, 1),
        # Fenced, so Gradescope's Markdown keeps the table's columns.
        "output": f"```\n{summary_text(graded)}```\n",
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "tampered": graded.tampered,
            "problems": graded.problems,
            "notes": graded.notes,
        },
    }


def report_json(graded: GradingResults) -> dict:
    return {
        "score": graded.scores.earned,
        "max_score": graded.scores.points,
        "functions": [
            {
                "exercise": f.exercise.id,
                "function": f.function,
                "score": f.earned,
                "max_score": f.points,
                "passed": f.passed,
                "total": f.total,
                "state": f.state.value,
                "output": function_output(f),
            }
            for f in graded.scores.functions
        ],
        # Test times vary from run to run: left out, so the same code gets the same report.
        "tests": [{k: v for k, v in t.to_json().items() if k != "seconds"} for t in graded.tests],
        "tampered": graded.tampered,
        "problems": graded.problems,
        "notes": graded.notes,
        # A class grading's: a submission unchanged since is not graded again.
        **({"fingerprint": graded.fingerprint} if graded.fingerprint else {}),
    }


def read_report(path: Path) -> GradingResults:
    """The grading a report.json renders (its tests' times left out), to render again."""
    record = json.loads(path.read_text())
    exercise_ids = dict.fromkeys(f["exercise"] for f in record["functions"])
    return GradingResults(
        exercises=[catalogue.by_id(exercise_id) for exercise_id in exercise_ids],
        tests=[TestResult.from_json(test) for test in record["tests"]],
        tampered=record["tampered"],
        problems=record["problems"],
        notes=record["notes"],
        fingerprint=record.get("fingerprint", ""),
    )


def gradebook_csv(gradings: dict[str, GradingResults], exercises) -> str:
    """A row per submission: points per function of `exercises`, total, tampering, problems."""
    columns = [f"{e.id}_{f.name}" for e in exercises for f in e.graded_functions]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["student", *columns, "total", "max", "tampering", "problems"])
    for name, graded in gradings.items():
        earned = {f"{f.exercise.id}_{f.function}": f.earned for f in graded.scores.functions}
        writer.writerow(
            [
                name,
                *(earned.get(column, 0) for column in columns),
                graded.scores.earned,
                graded.scores.points,
                " ".join(graded.tampered),
                len(graded.problems),
            ]
        )
    return text.getvalue()


def junit_xml(graded: GradingResults) -> bytes:
    document = JUnitXml(name="savedmodel-kata")
    for exercise in catalogue.exercises():
        mine = [t for t in graded.tests if t.exercise == exercise.id]
        if not mine:
            continue
        suite = TestSuite(exercise.module)
        for test in mine:
            case = TestCase(test.name, classname=f"{exercise.module}.{test.function}")
            properties = Properties()
            properties.add_property(Property("function", test.function))
            case.append(properties)
            if not test.passed:
                headline = (test.message.strip().splitlines() or [""])[0][:200]
                failure = Failure(headline if not test.hidden else "a hidden test failed")
                failure.text = "" if test.hidden else test.message
                case.result = [failure]
            suite.add_testcase(case)
        suite.update_statistics()
        document.add_testsuite(suite)
    document.update_statistics()
    return document.tostring()


def github_log(function: FunctionScore) -> str:
    """One function's result for a GitHub Actions log: the failures in foldable groups.

    Student code controls these messages (exception text, reprs): workflow commands are
    switched off around them, so no output can forge an annotation or a grade.
    """
    ok = function.state == State.PASSING
    head = (
        f"{function_label(function)}: {function.passed}/{function.total} tests pass, "
        f"{points(function.earned)}/{points(function.points)} points by the kata's count"
    )
    if ok:
        return head + "\n"
    token = secrets.token_hex(16)
    lines = [head + (" (this check gives a function's points when all its tests pass)")]
    first = function.first_failure
    if first is not None and not first.hidden:
        headline = first.message.strip().splitlines()[0][:180] if first.message.strip() else ""
        lines.append(f"::error title={function_label(function)}::{_escape(headline)}")
    for failure in function.failures:
        lines.append(f"::group::{failure.name}")
        lines.append(f"::stop-commands::{token}")
        lines.append(
            "(a hidden test: its message is not shown)"
            if failure.hidden
            else failure.message.strip()
        )
        lines.append(f"::{token}::")
        lines.append("::endgroup::")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    """A workflow command's message: GitHub's escaping of %, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write then rename: a reader (or a kill) never sees half a file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)


def write(graded: GradingResults, out: Path, gradescope: Path | None = None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out / "summary.txt",
        "report": out / "report.json",
        "gradescope": out / "results.json",
        "junit": out / "junit.xml",
    }
    texts = {
        "summary": summary_text(graded).encode(),
        "report": (json.dumps(report_json(graded), indent=2) + "\n").encode(),
        "gradescope": (json.dumps(gradescope_results(graded), indent=2) + "\n").encode(),
        "junit": junit_xml(graded),
    }
    for name, path in paths.items():
        _write_atomically(path, texts[name])
    if gradescope is not None:
        gradescope.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(gradescope, texts["gradescope"])
        paths["gradescope"] = gradescope
    return paths
