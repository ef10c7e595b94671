"""The runner's commands for working through the kata: status, hint, watch, reset, solution.

Output goes through `rich` (tables, a progress bar, syntax highlighting);
`watch` uses `watchdog` for file events and reruns tests in this same
process, so TensorFlow is imported once and only the student's module (and
the test module) is imported again after each save.
"""

from __future__ import annotations

import queue
import textwrap
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress_bar import ProgressBar
from rich.syntax import Syntax
from rich.table import Table

from savedmodel_kata import catalogue, progress, stubs, targets

console = Console(highlight=False)
STATE_STYLE = {progress.PASSING: "green", progress.FAILING: "red", progress.NOT_STARTED: "dim"}
BACKUP_FOLDER = ".backups"  # under exercises/: pytest skips dot-folders, git status shows them
WATCH_DEBOUNCE_SECONDS = 0.3


def _exercises(number: int | None) -> list[catalogue.Exercise]:
    return [catalogue.by_number(number)] if number else list(catalogue.exercises())


def _first_lines(message: str, count: int = 6) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return "\n".join(lines[:count] + (["..."] if len(lines) > count else []))


# --- status --------------------------------------------------------------------


def status(args) -> int:
    root = targets.find_root()
    exercises = _exercises(None)
    with console.status("Running every exercise's tests against exercises/ ..."):
        from savedmodel_kata.tf_setup import import_tensorflow

        import_tensorflow()
        collected = progress.run_tests(root, exercises)
    summary = progress.summarise(collected.results, exercises)
    show_summary(summary)
    for error in collected.errors:
        console.print(f"[red]Collection error:[/red] {_first_lines(error)}")
    return 0 if summary.next_step() is None else 1


def show_summary(summary: progress.Summary) -> None:
    table = Table(title="The SavedModel kata", title_justify="left")
    for column in ("exercise", "function", "state", "tests", "points"):
        table.add_column(column)
    for state in summary.functions:
        table.add_row(
            f"{state.exercise.number}. {state.exercise.module}",
            state.function,
            f"[{STATE_STYLE[state.state]}]{state.state}[/]",
            f"{state.passed}/{state.total}",
            f"{state.earned}/{state.points}" if state.points else "",
        )
    console.print(table)
    bar = Table.grid(padding=(0, 1))
    bar.add_row(ProgressBar(total=max(summary.points, 1), completed=summary.earned, width=40), f"{summary.earned} of {summary.points} points")
    console.print(bar)
    step = summary.next_step()
    if step is None:
        console.print("[green]Every exercise passes. Well done.[/green]")
        return
    where = f"exercises/{step.exercise.file_name}"
    console.print(f"\n[bold]Next:[/bold] {step.function}() in {where} ({step.state})")
    if step.first_failure:
        console.print(textwrap.indent(_first_lines(step.first_failure), "  "))
    console.print(
        f"Run `pytest {where}`, or `kata watch {step.exercise.number}`; "
        f"stuck? `kata hint {step.exercise.number} {step.function if step.points else ''}`".rstrip() + "."
    )


# --- hint ----------------------------------------------------------------------


def hint(args) -> int:
    exercise = catalogue.by_number(args.number)
    print(f"Exercise {exercise.number}: {exercise.title}")
    functions = [exercise.function(args.function)] if args.function else exercise.functions
    for function in functions:
        print(f"\n{function.name}() ({function.points} points)")
        for level, text in enumerate(function.hints[: args.level], start=1):
            print(textwrap.fill(text, width=88, initial_indent=f"  {level}. ", subsequent_indent="     "))
    if args.level < 3:
        what = f"{exercise.number} {args.function}" if args.function else str(exercise.number)
        print(f"\nStill stuck? `kata hint {what} --level {args.level + 1}` says more.")
    return 0


# --- watch ---------------------------------------------------------------------


def check_once(root: Path, exercise: catalogue.Exercise) -> tuple[bool, str, float]:
    """Run one exercise's tests up to the first failure: (all passed, lesson or summary, seconds)."""
    started = time.perf_counter()
    collected = progress.run_tests(root, [exercise], first_failure_only=True, profile="kata-watch")
    seconds = time.perf_counter() - started
    failed = [r for r in collected.results if not r.passed]
    if collected.errors:
        return False, _first_lines(collected.errors[0], 12), seconds
    if failed:
        first = failed[0]
        return False, f"{first.nodeid.split('::')[-1]}\n{_first_lines(first.message, 14)}", seconds
    return True, f"all {len(collected.results)} tests of exercise {exercise.number} pass", seconds


def watch(args) -> int:
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    from savedmodel_kata.tf_setup import import_tensorflow

    root = targets.find_root()
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
            console.print(f"[dim]Watching exercises/ (exercise {exercise.number}); save to rerun, Ctrl-C to stop.[/dim]")
            changed = saves.get()
            time.sleep(WATCH_DEBOUNCE_SECONDS)  # an editor's save is often several events
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
        console.print(f"[red]First failure:[/red] {text}")


def _first_unfinished(root: Path) -> catalogue.Exercise:
    for exercise in catalogue.exercises():
        if not check_once(root, exercise)[0]:
            return exercise
    return catalogue.exercises()[-1]


# --- reset ---------------------------------------------------------------------


def backup(root: Path, exercise: catalogue.Exercise) -> Path | None:
    """Copy the student's file to exercises/.backups/<module>.<timestamp>.py; return the copy."""
    current = root / "exercises" / exercise.file_name
    if not current.exists():
        return None
    folder = root / "exercises" / BACKUP_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S-%f")
    copy = folder / f"{exercise.module}.{stamp}.py"
    copy.write_bytes(current.read_bytes())
    return copy


def reset(args) -> int:
    if not args.all and not args.number:
        console.print("Say which exercise to reset (`kata reset 1`), or `kata reset --all`.")
        return 2
    root = targets.find_root()
    for exercise in _exercises(None if args.all else args.number):
        stub = stubs.make_stub((root / "solutions" / exercise.file_name).read_text(), exercise)
        current = root / "exercises" / exercise.file_name
        if current.exists() and current.read_text() == stub:
            console.print(f"exercises/{exercise.file_name} is already the stub")
            continue
        copy = backup(root, exercise)
        current.write_text(stub)
        kept = f"; your version is kept in {copy.relative_to(root)}" if copy else ""
        console.print(f"exercises/{exercise.file_name} is the stub again{kept}")
    return 0


# --- solution ------------------------------------------------------------------


def solution(args) -> int:
    root = targets.find_root()
    exercise = catalogue.by_number(args.number)
    with console.status(f"Checking exercise {exercise.number} first ..."):
        from savedmodel_kata.tf_setup import import_tensorflow

        import_tensorflow()
        collected = progress.run_tests(root, [exercise])
    passed = sum(r.passed for r in collected.results)
    if collected.errors or passed < len(collected.results) or not collected.results:
        console.print(
            f"The reference opens once your exercise {exercise.number} passes: {passed} of "
            f"{len(collected.results)} tests pass now. `pytest exercises/{exercise.file_name}` shows what is left."
        )
        return 1
    source = (root / "solutions" / exercise.file_name).read_text()
    console.print(Syntax(source, "python", line_numbers=True))
    return 0
