"""The untouched stubs in exercises/ fail every exercise test, each with its pointer.

A maintainers' check (it reads exercises/ as committed): a stub that passes
a test means the test cannot fail; an error instead of a failure means a
student would meet a crash instead of a lesson.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from savedmodel_kata import catalogue

ROOT = Path(__file__).resolve().parents[2]


class Reports:
    def __init__(self):
        self.calls, self.problems = [], []

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.calls.append(report)
        elif report.outcome != "passed":
            self.problems.append(f"{report.nodeid} {report.when}: {report.outcome}")

    def pytest_collectreport(self, report):
        if report.failed:
            self.problems.append(f"collection of {report.nodeid} failed: {report.longreprtext}")


def test_every_exercise_test_fails_on_the_stubs_with_its_pointer(pristine_exercises):
    reports = Reports()
    exit_code = pytest.main(
        [str(ROOT / "exercises"), "-q", "-p", "no:cacheprovider", "--hypothesis-profile", "kata-grading"],
        plugins=[reports],
    )
    assert exit_code == pytest.ExitCode.TESTS_FAILED
    assert not reports.problems, "\n".join(reports.problems)
    expected_modules = {f"exercises/{e.file_name}" for e in catalogue.exercises()}
    assert {r.nodeid.split("::")[0] for r in reports.calls} == expected_modules
    for report in reports.calls:
        assert report.failed, f"{report.nodeid} passed on the untouched stub: it cannot fail"
        assert "is not implemented yet" in report.longreprtext and "kata hint" in report.longreprtext, (
            f"{report.nodeid} failed without the stub's pointer:\n{report.longreprtext}"
        )
