"""The runner's terminal output (through `rich`): the status table and its next step, and a
status line for runs that take a while."""

from __future__ import annotations

import sys
import textwrap
import threading
import time

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table

from savedmodel_kata.catalogue import END_TO_END
from savedmodel_kata.results import FunctionScore, Scores, State

console = Console(highlight=False)
STATE_STYLE = {State.PASSING: "green", State.FAILING: "red", State.NOT_STARTED: "dim"}


def first_lines(message: str, count: int = 6) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return "\n".join(lines[:count] + (["..."] if len(lines) > count else []))


def points(value: float) -> str:
    return f"{value:g}"


def show_scores(scores: Scores) -> None:
    table = Table(title="The SavedModel kata", title_justify="left")
    for column in ("exercise", "function", "state", "tests", "points"):
        table.add_column(column)
    for function in scores.functions:
        table.add_row(
            f"{function.exercise.number}. {function.exercise.module}",
            function.function,
            f"[{STATE_STYLE[function.state]}]{function.state.value}[/]",
            f"{function.passed}/{function.total}",
            f"{points(function.earned)}/{points(function.points)}" if function.points else "",
        )
    console.print(table)
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(total=max(scores.points, 1), completed=scores.earned, width=40),
        f"{points(scores.earned)} of {points(scores.points)} points",
    )
    console.print(bar)
    step = scores.next_step()
    if step is None:
        console.print("[green]Every exercise passes. Well done.[/green]")
    else:
        show_next_step(step)


def hint_command(step: FunctionScore) -> str:
    number = step.exercise.number
    return (
        f"kata hint {number}"
        if step.function == END_TO_END
        else f"kata hint {number} {step.function}"
    )


def show_next_step(step: FunctionScore) -> None:
    where = f"exercises/{step.exercise.file_name}"
    what = (
        "the end-to-end test, which chains your four functions"
        if step.function == END_TO_END
        else f"{step.function}()"
    )
    console.print(f"\n[bold]Next:[/bold] {what} in {where} ({step.state.value})")
    if step.first_failure is not None:
        console.print(textwrap.indent(escape(first_lines(step.first_failure.message)), "  "))
    console.print(
        f"Run `pytest {where}`, or `kata watch {step.exercise.number}`; "
        f"stuck? `{hint_command(step)}`."
    )


class RunningStatus:
    """While a run lasts: from `after` seconds on, a spinner line "<label>... 12 s", its seconds
    counting, cleared when the run ends (nothing at all for a run quicker than `after`).

    The line has a console of its own, on the terminal as it is when the status is made: the
    runs it watches send their own output elsewhere (run_tests redirects sys.stdout). It is
    drawn by rich's refresh thread, so the run itself, in the main thread, pays nothing.
    """

    def __init__(self, label: str, *, after: float = 1.0, console: Console | None = None):
        self.label, self.after = label, after
        self.console = console or Console(file=sys.stdout, highlight=False)
        self.shown = False  # whether the line was ever drawn
        self._spinner = Spinner("dots", style="cyan")
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._finished = False

    def __enter__(self) -> RunningStatus:
        self._started = time.perf_counter()
        self._timer = threading.Timer(self.after, self._show)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._timer.cancel()
        with self._lock:
            self._finished = True
            if self._live is not None:
                self._live.stop()  # transient: the line is erased
        return False

    def _show(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._live = Live(
                self,
                console=self.console,
                transient=True,
                refresh_per_second=4,
                redirect_stdout=False,  # the run redirects them itself
                redirect_stderr=False,
            )
            self._live.start()
            self.shown = True

    def __rich__(self) -> Spinner:
        seconds = time.perf_counter() - self._started
        self._spinner.update(text=f"{self.label}... {int(seconds)} s")
        return self._spinner
