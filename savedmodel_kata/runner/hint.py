"""`kata hint N [FUNCTION] [--level 1-3]`: hints from a nudge to the shape of the code."""

from __future__ import annotations

import textwrap

from savedmodel_kata import catalogue
from savedmodel_kata.catalogue import END_TO_END

HELP = "hints for an exercise, from a nudge to the shape of the code"
WIDTH = 88
END_TO_END_NOTE = (
    "The end-to-end test trains your create_model, exports it with your save, reloads it "
    "with your load_signature_tensors and scores it with your evaluate. When it fails while "
    "each function's own tests pass, read its message: it names what broke the chain. The "
    "hints of the four functions:"
)


def add_parser(commands) -> None:
    parser = commands.add_parser("hint", help=HELP, description=HELP)
    parser.add_argument("number", type=int, help="exercise number")
    parser.add_argument(
        "function",
        nargs="?",
        choices=(*catalogue.EXERCISE_FUNCTIONS, END_TO_END),
        help="one function (default: all four)",
    )
    parser.add_argument(
        "--level",
        type=int,
        choices=(1, 2, 3),
        default=1,
        help="1 a nudge, 2 the API, 3 the shape of the code",
    )


def run(args) -> int:
    exercise = catalogue.by_number(args.number)
    print(f"Exercise {exercise.number}: {exercise.title}")
    if args.function == END_TO_END:
        print()
        print(textwrap.fill(END_TO_END_NOTE, width=WIDTH))
    functions = (
        [exercise.function(args.function)]
        if args.function and args.function != END_TO_END
        else exercise.functions
    )
    for function in functions:
        unit = "point" if function.points == 1 else "points"
        print(f"\n{function.name}() ({function.points} {unit})")
        for level, text in enumerate(function.hints[: args.level], start=1):
            print(
                textwrap.fill(
                    text, width=WIDTH, initial_indent=f"  {level}. ", subsequent_indent="     "
                )
            )
    if args.level < 3:
        what = f"{exercise.number} {args.function}" if args.function else str(exercise.number)
        print(f"\nStill stuck? `kata hint {what} --level {args.level + 1}` says more.")
    return 0
