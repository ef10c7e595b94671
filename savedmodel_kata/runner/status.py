"""`kata status`: every exercise and function, its state and points, and what to do next."""

from __future__ import annotations

from savedmodel_kata import catalogue, results
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.plugin.in_process import run_tests
from savedmodel_kata.runner.console import console, first_lines, show_scores

HELP = "every exercise and function with its state, points and what to do next"


def add_parser(commands) -> None:
    commands.add_parser("status", help=HELP, description=HELP)


def run(args) -> int:
    root = find_root()
    exercises = list(catalogue.exercises())
    with console.status("Running every exercise's tests against exercises/ ..."):
        from savedmodel_kata.tensorflow_setup import import_tensorflow

        import_tensorflow()
        recorder = run_tests(root, exercises)
    scores = results.score(recorder.results, exercises)
    show_scores(scores)
    for error in recorder.errors:
        console.print(f"[red]Collection error:[/red] {first_lines(error)}", markup=True)
    return 0 if scores.next_step() is None else 1
