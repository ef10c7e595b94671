"""Where a student stands: run the exercise tests in this process and sum them up.

`run_tests` runs pytest in-process (TensorFlow stays imported between runs,
which is what makes `kata watch` fast) and returns each test's outcome with
the exercise and function it grades. `summarise` turns that into one state a
function (not started, failing, passing), points, and the next thing to do.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel_kata import catalogue

NOT_STARTED, FAILING, PASSING = "not started", "failing", "passing"
STUB_MARK = "is not implemented yet"


@dataclass
class TestResult:
    nodeid: str
    exercise: str
    function: str
    passed: bool
    message: str
    when: str = "call"  # "setup" for a test that errored before it ran


@dataclass
class FunctionState:
    exercise: catalogue.Exercise
    function: str
    state: str
    points: int
    earned: int
    passed: int
    total: int
    first_failure: str = ""


@dataclass
class Summary:
    functions: list[FunctionState] = field(default_factory=list)

    @property
    def earned(self) -> int:
        return sum(f.earned for f in self.functions)

    @property
    def points(self) -> int:
        return sum(f.points for f in self.functions)

    def next_step(self) -> FunctionState | None:
        return next((f for f in self.functions if f.state != PASSING), None)


class _Collector:
    """One TestResult a test; collection errors and failed teardowns in `errors`; pytest's exit code."""

    def __init__(self):
        self.results: list[TestResult] = []
        self.errors: list[str] = []
        self.exit_code: int | None = None

    def pytest_runtest_logreport(self, report):
        properties = dict(report.user_properties)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.results.append(
                TestResult(
                    nodeid=report.nodeid,
                    exercise=properties.get("exercise", ""),
                    function=properties.get("function", ""),
                    passed=report.passed,
                    message=report.longreprtext if report.failed else "",
                    when=report.when,
                )
            )
        elif report.failed:
            self.errors.append(f"{report.nodeid} {report.when}: {report.longreprtext}")

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(report.longreprtext)


def run_tests(
    root: Path,
    exercises: list[catalogue.Exercise],
    *,
    first_failure_only: bool = False,
    profile: str = "kata-grading",
    select: str | None = None,
) -> _Collector:
    """Run the tests of `exercises` against exercises/, quietly, in this process (`select`: pytest's -k)."""
    import pytest

    collector = _Collector()
    arguments = [str(root / "exercises" / e.file_name) for e in exercises]
    # pytest's unraisable-exception plugin runs gc.collect() five times at exit: 0.8 s
    # with TensorFlow's heap, on every rerun of `kata watch`.
    arguments += ["-p", "savedmodel_kata.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:unraisableexception"]
    arguments += ["-q", "--rootdir", str(root)]
    arguments += ["--hypothesis-profile", profile]
    if first_failure_only:
        arguments.append("-x")
    if select:
        arguments += ["-k", select]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        collector.exit_code = int(pytest.main(arguments, plugins=[collector]))
    return collector


def summarise(results: list[TestResult], exercises: list[catalogue.Exercise]) -> Summary:
    summary = Summary()
    for exercise in exercises:
        for function in (*exercise.functions, None):
            name = function.name if function else "end_to_end"
            mine = [r for r in results if r.exercise == exercise.id and r.function == name]
            if function is None and not mine:
                continue
            failed = [r for r in mine if not r.passed]
            if not mine or (failed and all(STUB_MARK in r.message for r in failed) and len(failed) == len(mine)):
                state = NOT_STARTED
            elif failed:
                state = FAILING
            else:
                state = PASSING
            points = function.points if function else 0
            summary.functions.append(
                FunctionState(
                    exercise=exercise,
                    function=name,
                    state=state,
                    points=points,
                    earned=points if state == PASSING else 0,
                    passed=len(mine) - len(failed),
                    total=len(mine),
                    first_failure=failed[0].message if failed else "",
                )
            )
    return summary
