"""The one recorder of test results: a pytest plugin that turns reports into `TestResult`s.

In-process runs (`kata status`, `kata watch`, the meta-tests) keep the
results in memory; the grader's worker passes callbacks that write each
event to its journal as it happens, so a process that dies mid-test still
leaves a record of what ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from savedmodel_kata.plugin.run import RUN_PLAN, KataTest, kata_test_of
from savedmodel_kata.results import Failure, TestResult

if TYPE_CHECKING:  # pytest's types only: the recorder is imported before pytest runs
    import pytest


def result_of(test: KataTest, report: pytest.TestReport) -> TestResult:
    """The TestResult of a setup or call report of an exercise test.

    A skipped test did not pass: it is recorded as failed (not run, or the failure its skip
    stands for, as the plugin's skip of a module that does not import), so that a skip can
    never raise a function's share of tests passed.
    """
    failure = dict(report.user_properties).get("failure")
    if report.skipped:
        failure = failure or Failure.NOT_RUN.value
        message = f"not run: {_skip_reason(report)}"
    else:
        message = report.longreprtext if report.failed else ""
    return TestResult(
        nodeid=report.nodeid,
        exercise=test.exercise.id,
        function=test.function,
        passed=report.passed,
        failure=Failure(failure) if failure and not report.passed else None,
        message=message,
        hidden=test.hidden,
        seconds=round(report.duration, 3),
        target=test.target,
    )


def _skip_reason(report: pytest.TestReport) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason").
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return "skipped"


class ResultRecorder:
    """One TestResult an exercise test; collection and teardown errors in `errors`."""

    def __init__(
        self,
        on_collected: Callable[[dict[str, KataTest]], None] | None = None,
        on_start: Callable[[str], None] | None = None,
        on_result: Callable[[TestResult], None] | None = None,
    ) -> None:
        self.results: list[TestResult] = []
        self.errors: list[str] = []
        self.exit_code: int | None = None
        self._tests: dict[str, KataTest] = {}  # nodeid -> what the plugin decided for it
        self._on_collected, self._on_start, self._on_result = on_collected, on_start, on_result

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._tests = {item.nodeid: test for item in session.items if (test := kata_test_of(item))}
        plan = session.config.stash.get(RUN_PLAN, None)
        for name in sorted(plan.unloadable_hidden if plan else ()):
            self.errors.append(f"a hidden test module failed to load ({name}): its tests left out")
        if self._on_collected:
            self._on_collected(self._tests)

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        if self._on_start:
            self._on_start(nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # A test that errors or is skipped in setup never runs: its setup report is its result.
        if report.when == "call" or (report.when == "setup" and not report.passed):
            test = self._tests.get(report.nodeid)
            if test is not None:
                result = result_of(test, report)
                self.results.append(result)
                if self._on_result:
                    self._on_result(result)
        elif report.failed:
            test = self._tests.get(report.nodeid)
            if test is not None and test.hidden:  # its words are the instructor's: never shown
                self.errors.append(f"a hidden test's {report.when} failed")
            else:
                self.errors.append(f"{report.nodeid} {report.when}: {report.longreprtext}")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(report.longreprtext)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.exit_code = int(exitstatus)
