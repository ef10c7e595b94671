"""`kata`: parse the command line, resolve the settings once, run one command.

    kata status                 every exercise and function: not started, failing, passing
    kata hint N [FUNCTION]      hints, from a nudge (--level 1) to the shape of the code (--level 3)
    kata watch [N]              rerun an exercise's tests on every save, show the first lesson
    kata reset N | --all        restore stubs; your versions are kept as timestamped backups
    kata solution N             the reference, once your exercise passes
    kata train / kata load      the tutorial's two programs, on your code or the reference
    kata grade                  (instructors) grade submissions with a pristine harness
    kata dev update|check|...   (maintainers) regenerate or check everything generated

Problems a user can fix (a `KataError`) print one message and exit 1; any
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from savedmodel_kata import settings
from savedmodel_kata.errors import KataError

# command name -> the module that adds its parser and runs it
COMMANDS = {
    "status": "savedmodel_kata.runner.status",
    "watch": "savedmodel_kata.runner.watch",
    "hint": "savedmodel_kata.runner.hint",
    "reset": "savedmodel_kata.runner.reset",
    "solution": "savedmodel_kata.runner.solution",
    "train": "savedmodel_kata.runner.jobs",
    "load": "savedmodel_kata.runner.jobs",
    "grade": "savedmodel_kata.grading.command",
    "dev": "savedmodel_kata.maintainer.command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description="The TensorFlow SavedModel kata.")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's log lines and pytest's full reports",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    added = set()
    for module_name in dict.fromkeys(COMMANDS.values()):
        module = importlib.import_module(module_name)
        if module_name not in added:
            (getattr(module, "add_parsers", None) or module.add_parser)(commands)
            added.add(module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings.use(settings.Settings.resolve({"verbose": True if args.verbose else None}))
        return importlib.import_module(COMMANDS[args.command]).run(args)
    except KataError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
