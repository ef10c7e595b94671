"""Every grading report is a rendering of one `GradingResults`.

    summary.txt     for people: points per function, tampering, problems
    report.json     every function and every test
    results.json    Gradescope's format: one entry per exercise function
    junit.xml       one test case per test, for CI systems (junitparser)

Hidden tests count like the others; their messages never reach a report a
student sees.
"""

from __future__ import annotations

import json
from pathlib import Path

from junitparser import Failure, JUnitXml, Properties, Property, TestCase, TestSuite

from savedmodel_kata import catalogue
from savedmodel_kata.grading.grader import GradingResults
from savedmodel_kata.results import FunctionScore


def points(value: float) -> str:
    return f"{value:g}"


def function_output(function: FunctionScore) -> str:
    """The failure messages of a function's visible tests, and a word for its hidden ones."""
    text = "\n\n".join(f"{f.name}:\n{f.message.strip()}" for f in function.failures if not f.hidden)
    if any(f.hidden for f in function.failures):
        text += "\n\n(and hidden tests that failed)"
    return text.strip()


def summary_text(graded: GradingResults) -> str:
    scores = graded.scores
    lines = [f"Score: {points(scores.earned)} / {points(scores.points)}", ""]
    for function in scores.functions:
        label = f"exercise {function.exercise.number} {function.function}"
        earned = f"{points(function.earned)}/{points(function.points)}" if function.points else "-"
        lines.append(f"  {label:<42} {function.passed:>2}/{function.total:<2} tests  {earned:>7}")
    if graded.tampered:
        lines += [
            "",
            "Tampering: these harness files differ from the pristine copy; "
            "the pristine copy was used:",
        ]
        lines += [f"  {path}" for path in graded.tampered]
    if graded.problems:
        lines += ["", "Problems:"] + [f"  {problem}" for problem in graded.problems]
    return "\n".join(lines) + "\n"


def gradescope_results(graded: GradingResults) -> dict:
    tests = [
        {
            "name": f"Exercise {f.exercise.number}: {f.function}",
            "score": f.earned,
            "max_score": f.points,
            "output": function_output(f) or f"all {f.total} tests pass",
            "visibility": "visible",
        }
        for f in graded.scores.functions
    ]
    return {
        "score": graded.scores.earned,
        "tests": tests,
        "output": summary_text(graded),
        "visibility": "visible",
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
    }


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


def write(graded: GradingResults, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out / "summary.txt",
        "report": out / "report.json",
        "gradescope": out / "results.json",
        "junit": out / "junit.xml",
    }
    paths["summary"].write_text(summary_text(graded))
    paths["report"].write_text(json.dumps(report_json(graded), indent=2) + "\n")
    paths["gradescope"].write_text(json.dumps(gradescope_results(graded), indent=2) + "\n")
    paths["junit"].write_bytes(junit_xml(graded))
    return paths
