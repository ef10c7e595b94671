"""The one worker protocol: a process that runs exercise tests and reports each event at once.

    python -m savedmodel_kata.grading.worker ROOT EVENTS_FD

The grader starts each worker in a process group of its own, with the grading
workspace as its folder and its import path (the pristine harness), under one
memory limit. A worker imports TensorFlow once, then reads tasks from stdin,
one JSON line each ({"exercise": 1, "targets": ["exercises"]}), runs each with
`run_tests`, and writes its events to its own pipe (EVENTS_FD), one JSON line
each, straight from the thread that runs the tests: an event sent before
student code kills the process (os._exit, a crash inside TensorFlow, memory)
is in the pipe, so the grader reads every one before it judges the death.

    {"event": "collected", "tests": [{nodeid, exercise, function, target, hidden}, ...]}
    {"event": "started", "nodeid": ...}
    {"event": "result", "result": TestResult.to_json()}
    {"event": "done", "errors": [collection and teardown errors]}
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

MEMORY_LIMIT_BYTES = 12 * 1024**3  # address space per worker: refuses absurd allocations


class Worker:
    """The grader's handle on one worker process."""

    def __init__(self, root: Path, environment: dict[str, str], log: Path):
        reader, writer = os.pipe()
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(root), str(writer)],
                cwd=root,
                env=environment,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=output,
                pass_fds=(writer,),
                start_new_session=True,  # its own group: a limit stops it and all it started
            )
        os.close(writer)
        self.events = os.fdopen(reader, "rb", buffering=0)
        self.pending = b""
        self.task = None  # the task it runs, None while idle
        self.started_at = 0.0
        self.stopped_because: str | None = None  # set when the grader stops it
        self.broken = False  # it stopped reading tasks
        # The targets whose code it has run: student code runs in this process and could
        # change what it reports, so it only ever grades these (grader.Engine._dispatch).
        self.served: frozenset[str] | None = None

    def fileno(self) -> int:
        return self.events.fileno()

    def alive(self) -> bool:
        return not self.broken and self.process.poll() is None

    def send(self, task: dict, now: float) -> bool:
        """Give it `task`; False if it is gone (it is not given the task)."""
        try:
            self.process.stdin.write((json.dumps(task) + "\n").encode())
            self.process.stdin.flush()
        except OSError:  # a broken pipe: it ended
            self.broken = True
            return False
        self.task, self.started_at = task, now
        self.served = frozenset(task["targets"])
        return True

    def read(self) -> list[dict] | None:
        """The events that have arrived (call when the pipe is readable); None at its end."""
        data = os.read(self.fileno(), 1 << 16)
        if not data:
            return None
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        return [json.loads(line) for line in lines]

    def close(self) -> None:
        """Ask an idle worker to finish (end of its tasks)."""
        with contextlib.suppress(OSError):  # it died already
            self.process.stdin.close()


class EventPipe:
    """The worker's side of its pipe: each event written whole before the tests go on."""

    def __init__(self, fd: int):
        self.fd = fd

    def put(self, **event) -> None:
        data = (json.dumps(event) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data) :]

    def collected(self, tests: dict) -> None:
        """The exercise tests collected: nodeid -> the plugin's KataTest (recorder.py)."""
        self.put(
            event="collected",
            tests=[
                {
                    "nodeid": nodeid,
                    "exercise": test.exercise.id,
                    "function": test.function,
                    "target": test.target,
                    "hidden": test.hidden,
                }
                for nodeid, test in tests.items()
            ],
        )


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass


def _forget_models() -> None:
    """Free what one session's models hold before the next (Keras keeps a global graph)."""
    import gc

    try:
        import keras

        keras.backend.clear_session()
    except ImportError:
        pass
    gc.collect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run exercise tests for the grader.")
    parser.add_argument("root", type=Path, help="the grading workspace")
    parser.add_argument("events_fd", type=int, help="the pipe to write events to")
    args = parser.parse_args(argv)
    _limit_memory()  # before TensorFlow: what it maps counts too
    from savedmodel_kata import catalogue
    from savedmodel_kata.plugin.in_process import run_tests
    from savedmodel_kata.plugin.recorder import ResultRecorder
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    import_tensorflow()  # quietly, once, before pytest imports an exercise
    events = EventPipe(args.events_fd)
    for line in sys.stdin:
        task = json.loads(line)
        recorder = ResultRecorder(
            on_collected=events.collected,
            on_start=lambda nodeid: events.put(event="started", nodeid=nodeid),
            on_result=lambda result: events.put(event="result", result=result.to_json()),
        )
        exercise = catalogue.by_number(task["exercise"])
        run_tests(args.root, [exercise], targets=tuple(task["targets"]), recorder=recorder)
        events.put(event="done", errors=recorder.errors)
        _forget_models()
    return 0


if __name__ == "__main__":
    sys.exit(main())
