"""`kata watch [N]`: rerun an exercise's tests on every save under exercises/, show the
first lesson.

File events come from `watchdog`; tests rerun in this process, so TensorFlow
is imported once and only the student's module is imported again after
each save.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path

from rich.markup import escape

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.runner.console import console, first_lines
from savedmodel_kata.runner.test_runs import run_tests

HELP = "rerun an exercise's tests whenever you save a file under exercises/"
DEBOUNCE_SECONDS = 0.3  # an editor's save is often several events


def add_parser(commands) -> None:
    parser = commands.add_parser("watch", help=HELP, description=HELP)
    parser.add_argument(
        "number", type=int, nargs="?", help="exercise to start with (default: the first unfinished)"
    )


def check_once(root: Path, exercise: catalogue.Exercise) -> tuple[bool, str, float]:
    """Run one exercise's tests up to the first failure: (all passed, lesson or summary,
    seconds)."""
    started = time.perf_counter()
    recorder = run_tests(root, [exercise], first_failure_only=True, profile="kata-watch")
    seconds = time.perf_counter() - started
    if recorder.errors:
        return False, first_lines(recorder.errors[0], 12), seconds
    failed = [r for r in recorder.results if not r.passed]
    if failed:
        return False, f"{failed[0].name}\n{first_lines(failed[0].message, 14)}", seconds
    return True, f"all {len(recorder.results)} tests of exercise {exercise.number} pass", seconds


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
    try:
        while exercise is not None:
            _report(exercise, *check_once(root, exercise))
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


def _report(exercise: catalogue.Exercise, passed: bool, text: str, seconds: float) -> None:
    console.rule(f"exercise {exercise.number}: {exercise.file_name}  ({seconds:.1f} s)")
    if passed:
        console.print(f"[green]{text}[/green]. On to the next one: `kata status` says which.")
    else:
        console.print(f"[red]First failure:[/red] {escape(text)}")


def _first_unfinished(root: Path) -> catalogue.Exercise:
    for exercise in catalogue.exercises():
        if not check_once(root, exercise)[0]:
            return exercise
    return catalogue.exercises()[-1]
