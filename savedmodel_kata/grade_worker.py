"""Run one exercise's tests for the grader, in a process of its own.

    python -m savedmodel_kata.grade_worker ROOT EXERCISE_NUMBER RESULTS.jsonl BASETEMP

Writes one JSON line as each event happens (the tests collected, each test
started, each result) and flushes it, so that if student code kills this
process (os._exit, a crash inside TensorFlow, memory) the grader still knows
what ran, what passed, and in which test the process died.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


class _Journal:
    def __init__(self, path: Path):
        self.handle = path.open("a", buffering=1)

    def write(self, **record) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()

    def pytest_collection_modifyitems(self, items):
        # The plugin has recorded exercise and function in user_properties by now.
        for item in items:
            properties = dict(item.user_properties)
            self.write(event="collected", nodeid=item.nodeid, function=properties.get("function", ""))

    def pytest_runtest_logstart(self, nodeid, location):
        self.write(event="started", nodeid=nodeid)

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.write(event="result", nodeid=report.nodeid, passed=report.passed, message=report.longreprtext)

    def pytest_collectreport(self, report):
        if report.failed:
            self.write(event="collection_error", nodeid=report.nodeid, message=report.longreprtext)


def main(argv: list[str]) -> int:
    root, number, journal_path, basetemp = Path(argv[0]), int(argv[1]), Path(argv[2]), argv[3]
    from savedmodel_kata import catalogue
    from savedmodel_kata.tf_setup import import_tensorflow

    import_tensorflow()  # quietly, before pytest imports the exercise
    import pytest

    exercise = catalogue.by_number(number)
    journal = _Journal(journal_path)
    arguments = [
        str(root / "exercises" / exercise.file_name),
        "--rootdir", str(root),
        "-p", "savedmodel_kata.pytest_plugin",
        "-p", "no:cacheprovider",
        "-p", "no:unraisableexception",
        "--hypothesis-profile", "kata-grading",
        "--basetemp", basetemp,
        "-q",
    ]
    code = pytest.main(arguments, plugins=[journal])
    journal.write(event="finished", exit_code=int(code))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
