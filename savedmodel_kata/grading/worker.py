"""Run one exercise's tests for the grader, in a process of its own.

    python -m savedmodel_kata.grading.worker ROOT EXERCISE JOURNAL.jsonl BASETEMP

The results recorder writes one JSON line as each event happens (the tests
collected, each test started, each result) and flushes it, so that if
student code kills this process (os._exit, a crash inside TensorFlow,
memory) the grader still knows what ran, what passed, and in which test the
process died.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class Journal:
    def __init__(self, path: Path):
        self.handle = path.open("a", buffering=1)

    def write(self, **record) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()

    def collected(self, items) -> None:
        for item in items:
            properties = dict(item.user_properties)
            if "exercise" in properties:
                self.write(
                    event="collected",
                    nodeid=item.nodeid,
                    exercise=properties["exercise"],
                    function=properties["function"],
                    hidden=bool(properties.get("hidden")),
                )

    def started(self, nodeid: str) -> None:
        self.write(event="started", nodeid=nodeid)

    def result(self, result) -> None:
        self.write(event="result", result=result.to_json())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one exercise's tests for the grader.")
    parser.add_argument("root", type=Path, help="the grading workspace")
    parser.add_argument("exercise", type=int, help="the exercise's number")
    parser.add_argument("journal", type=Path, help="where to write the events, one JSON line each")
    parser.add_argument("basetemp", help="pytest's temporary folder")
    args = parser.parse_args(argv)
    root, journal_path, basetemp = args.root, args.journal, args.basetemp
    from savedmodel_kata import catalogue
    from savedmodel_kata.plugin.recorder import ResultRecorder
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    import_tensorflow()  # quietly, before pytest imports the exercise
    import pytest

    exercise = catalogue.by_number(args.exercise)
    journal = Journal(journal_path)
    recorder = ResultRecorder(
        on_collected=journal.collected, on_start=journal.started, on_result=journal.result
    )
    arguments = [
        str(root / "exercises" / exercise.file_name),
        "--rootdir", str(root),
        "-p", "savedmodel_kata.plugin",
        "-p", "no:cacheprovider",
        "-p", "no:unraisableexception",
        "--hypothesis-profile", "kata-grading",
        "--basetemp", basetemp,
        "-q",
    ]  # fmt: skip
    code = pytest.main(arguments, plugins=[recorder])
    for error in recorder.errors:
        journal.write(event="error", message=error)
    journal.write(event="finished", exit_code=int(code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
