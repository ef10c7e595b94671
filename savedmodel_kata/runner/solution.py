"""`kata solution N`: the reference, once the student's exercise passes."""

from __future__ import annotations

from rich.syntax import Syntax

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.plugin.in_process import run_tests
from savedmodel_kata.runner.console import console

HELP = "show the reference solution, once your exercise passes"


def add_parser(commands) -> None:
    parser = commands.add_parser("solution", help=HELP, description=HELP)
    parser.add_argument("number", type=int, help="exercise number")


def run(args) -> int:
    root = find_root()
    exercise = catalogue.by_number(args.number)
    with console.status(f"Checking exercise {exercise.number} first ..."):
        from savedmodel_kata.tensorflow_setup import import_tensorflow

        import_tensorflow()
        recorder = run_tests(root, [exercise])
    passed = sum(r.passed for r in recorder.results)
    if recorder.errors or passed < len(recorder.results) or not recorder.results:
        console.print(
            f"The reference opens once your exercise {exercise.number} passes: {passed} of "
            f"{len(recorder.results)} tests pass now. `pytest exercises/{exercise.file_name}` "
            "shows what is left."
        )
        return 1
    source = (root / "solutions" / exercise.file_name).read_text()
    # Wrapped, never cut: long lines stay readable on a narrow terminal.
    console.print(Syntax(source, "python", line_numbers=True, word_wrap=True))
    return 0
