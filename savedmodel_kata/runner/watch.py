"""`kata watch [N]`: rerun an exercise's tests on every save under exercises/, show the
first lesson.

File events come from `watchdog`; tests rerun in this process, so TensorFlow
is imported once and only the student's module is imported again after
each save.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.markup import escape

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.plugin.in_process import run_tests
from savedmodel_kata.plugin.run import kata_test_of
from savedmodel_kata.runner.console import RunningStatus, console, first_lines

HELP = "rerun an exercise's tests whenever you save a file under exercises/"
DEBOUNCE_SECONDS = 0.3  # an editor's save is often several events
# A rerun longer than this shows a status line (a loaded machine once took 128 s): quicker ones,
# the usual 0.3 s to a lesson, show nothing that would flicker.
STATUS_AFTER_SECONDS = 1.0


def add_parser(commands) -> None:
    parser = commands.add_parser("watch", help=HELP, description=HELP)
    parser.add_argument(
        "number", type=int, nargs="?", help="exercise to start with (default: the first unfinished)"
    )


class _FailingFunctionFirst:
    """Orders the tests: those of the function that failed last time first, then the kata's
    order; and notes when the first failure is known (that is when a student sees it)."""

    def __init__(self, first: str | None):
        self.first = first
        self.first_failure_at: float | None = None

    @pytest.hookimpl(trylast=True)  # after the plugin's own ordering
    def pytest_collection_modifyitems(self, items):
        order = (*catalogue.EXERCISE_FUNCTIONS, catalogue.END_TO_END)

        def rank(item):
            test = kata_test_of(item)
            if test is None:
                return (True, len(order))
            return (test.function != self.first, order.index(test.function))

        items.sort(key=rank)

    def pytest_runtest_logreport(self, report):
        if report.failed and self.first_failure_at is None:
            self.first_failure_at = time.perf_counter()


@dataclass
class Check:
    passed: bool
    text: str  # the first failure's lesson, or what passed
    seconds: float  # until the first lesson was known (or until all passed)
    failing: str | None = None  # the function that failed


def check_once(root: Path, exercise: catalogue.Exercise, first: str | None = None) -> Check:
    """Run one exercise's tests up to the first failure, `first`'s tests first."""
    started = time.perf_counter()
    order = _FailingFunctionFirst(first)
    recorder = run_tests(
        root, [exercise], first_failure_only=True, profile="kata-watch", plugins=(order,)
    )
    seconds = (order.first_failure_at or time.perf_counter()) - started
    if recorder.exit_code == pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt  # pytest ends a session on Ctrl-C: the watch ends with it
    if recorder.errors:
        return Check(False, first_lines(recorder.errors[0], 12), seconds)
    failed = [r for r in recorder.results if not r.passed]
    if failed:
        lesson = f"{failed[0].name}\n{first_lines(failed[0].message, 14)}"
        return Check(False, lesson, seconds, failed[0].function)
    return Check(
        True, f"all {len(recorder.results)} tests of exercise {exercise.number} pass", seconds
    )


def check_showing_status(
    root: Path,
    exercise: catalogue.Exercise,
    first: str | None = None,
    *,
    after: float = STATUS_AFTER_SECONDS,
    status_console=None,
    check=check_once,
) -> Check:
    """`check` (check_once), with a status line saying it runs and for how long once it has
    taken `after` seconds; the line is gone when it returns."""
    label = f"running exercise {exercise.number}'s tests"
    with RunningStatus(label, after=after, console=status_console):
        return check(root, exercise, first)


def run(args) -> int:
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    from savedmodel_kata.tensorflow_setup import import_tensorflow

    root = find_root()
    with console.status("Importing TensorFlow (once) ..."):
        import_tensorflow()
    exercise = catalogue.by_number(args.number) if args.number else _first_unfinished(root)
    saves: queue.Queue[Path] = queue.Queue()

    class OnSave(FileSystemEventHandler):
        def on_modified(self, event):
            # Editors that save by renaming a temporary file report a move: its destination counts.
            path = getattr(event, "dest_path", "") or event.src_path
            if str(path).endswith(".py"):
                saves.put(Path(path))

        on_created = on_moved = on_modified

    observer = Observer()
    observer.schedule(OnSave(), str(root / "exercises"), recursive=False)
    observer.start()
    failing = None
    try:
        while exercise is not None:
            check = check_showing_status(root, exercise, failing)
            failing = check.failing
            _report(exercise, check)
            console.print(
                f"[dim]Watching exercises/ (exercise {exercise.number}); save to rerun, "
                "Ctrl-C to stop.[/dim]"
            )
            changed = saves.get()
            time.sleep(DEBOUNCE_SECONDS)
            while not saves.empty():
                changed = saves.get()
            for candidate in catalogue.exercises():
                if changed.name == candidate.file_name:
                    exercise = candidate
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join()
    return 0


def _report(exercise: catalogue.Exercise, check: Check) -> None:
    console.rule(f"exercise {exercise.number}: {exercise.file_name}  ({check.seconds:.1f} s)")
    if check.passed:
        console.print(f"[green]{check.text}[/green]. On to the next one: `kata status` says which.")
    else:
        console.print(f"[red]First failure:[/red] {escape(check.text)}")


def _first_unfinished(root: Path) -> catalogue.Exercise:
    for exercise in catalogue.exercises():
        if not check_showing_status(root, exercise).passed:
            return exercise
    return catalogue.exercises()[-1]
