"""The runner's terminal output (through `rich`): the status table and its next step."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.markup import escape
from rich.progress_bar import ProgressBar
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
