"""`kata`: the kata's runner.

    kata status                 every exercise and function: not started, failing, passing
    kata hint N [FUNCTION]      hints, from a nudge (--level 1) to the shape of the code (--level 3)
    kata watch [N]              rerun an exercise's tests on every save, show the first lesson
    kata reset N | --all        restore stubs; your versions are kept as timestamped backups
    kata solution N             the reference, once your exercise passes
    kata train / kata load      the tutorial's two programs, on your code or the reference

TensorFlow's own log lines are hidden; `kata --verbose ...` shows them.
Errors are printed as one message that says what to do.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from savedmodel_kata import catalogue, targets
from savedmodel_kata.data import IDX_DIR_ENVIRONMENT_VARIABLE, SOURCES, DataError
from savedmodel_kata.feedback import StudentError
from savedmodel_kata.tf_setup import VERBOSE_ENVIRONMENT_VARIABLE

DEFAULT_EXPORT_DIR = "backup"


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exercise", type=int, default=1, help="exercise number (default 1)")
    parser.add_argument(
        "--impl",
        choices=targets.TARGETS,
        default="exercises",
        help="run your code (exercises, the default) or the reference (solutions)",
    )
    parser.add_argument("--export-dir", type=Path, default=Path(DEFAULT_EXPORT_DIR), help="SavedModel folder (default: backup)")
    parser.add_argument("--source", choices=SOURCES, default=None, help="MNIST source (default: bundled digits)")
    parser.add_argument("--idx-dir", type=Path, default=None, help=f"folder of MNIST IDX files (or ${IDX_DIR_ENVIRONMENT_VARIABLE})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description="The TensorFlow SavedModel kata's runner.")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines and deprecation warnings")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("status", help="every exercise and function with its state, points and what to do next")

    watch = commands.add_parser("watch", help="rerun an exercise's tests whenever you save a file under exercises/")
    watch.add_argument("number", type=int, nargs="?", help="exercise to start with (default: the first unfinished)")

    reset = commands.add_parser("reset", help="restore an exercise's stub, keeping your version as a backup")
    reset.add_argument("number", type=int, nargs="?", help="exercise number")
    reset.add_argument("--all", action="store_true", help="every exercise")

    solution = commands.add_parser("solution", help="show the reference solution, once your exercise passes")
    solution.add_argument("number", type=int, help="exercise number")

    grade = commands.add_parser("grade", help="grade exercises/ with a pristine harness; write the reports")
    grade.add_argument("--submission", type=Path, default=None, help="the student's repository (default: this one)")
    grade.add_argument("--out", type=Path, default=Path("grading-report"), help="folder for the reports (default: grading-report)")
    grade.add_argument("--pristine", type=Path, default=None, help="a clean copy of the kata to take the harness from")
    grade.add_argument("--manifest-sha256", default=None, help="refuse to grade unless grading-manifest.json has this digest")
    grade.add_argument("--hidden-tests", type=Path, default=None, help="a folder of instructors' test_<module>*.py files")
    grade.add_argument("--exercise", type=int, action="append", help="grade only this exercise (repeatable)")
    grade.add_argument("--time-limit", type=int, default=600, help="seconds one exercise's tests may take (default 600)")
    grade.add_argument("--require-full", action="store_true", help="exit 1 unless every graded point is earned (for pass/fail graders)")

    train = commands.add_parser("train", help="train an exercise's model and export it as a SavedModel")
    _add_job_options(train)
    train.add_argument("--epochs", type=int, default=5, help="training epochs (default 5, as the tutorial)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing SavedModel in --export-dir")
    train.add_argument("--cache", action="store_true", help="reuse the test suite's cached training, if any")

    load = commands.add_parser("load", help="reload the SavedModel, show predictions and check the accuracies")
    _add_job_options(load)

    hint = commands.add_parser("hint", help="hints for an exercise, from a nudge to the shape of the code")
    hint.add_argument("number", type=int, help="exercise number")
    hint.add_argument("function", nargs="?", choices=catalogue.EXERCISE_FUNCTIONS, help="one function (default: all)")
    hint.add_argument("--level", type=int, choices=(1, 2, 3), default=1, help="1 nudge, 2 the API, 3 the shape of the code")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ[VERBOSE_ENVIRONMENT_VARIABLE] = "1"
    try:
        if args.command in ("train", "load"):
            return run_job(args)
        if args.command == "grade":
            return run_grade(args)
        from savedmodel_kata import student_commands

        return getattr(student_commands, args.command)(args)
    except (StudentError, DataError, targets.TargetError, LookupError) as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run_grade(args) -> int:
    from savedmodel_kata import grading

    submission = (args.submission or targets.find_root()).resolve()
    try:
        report = grading.grade(
            submission,
            pristine=args.pristine.resolve() if args.pristine else None,
            manifest_sha256=args.manifest_sha256,
            hidden_tests=args.hidden_tests,
            time_limit=args.time_limit,
            exercises=[catalogue.by_number(n) for n in args.exercise] if args.exercise else None,
        )
    except grading.GradingError as error:
        print(f"\n{error}", file=sys.stderr)
        return 2
    paths = grading.write_reports(report, args.out)
    print(grading.summary_text(report), end="")
    print(f"\nReports: {', '.join(str(p) for p in paths.values())} ({report.seconds:.0f} s)")
    return 1 if args.require_full and report.score < report.max_score else 0


def run_job(args) -> int:
    from savedmodel_kata import jobs
    from savedmodel_kata.data import load_mnist_dataset
    from savedmodel_kata.feedback import StudentCode

    exercise = catalogue.by_number(args.exercise)
    code = StudentCode(targets.find_root(), args.impl, exercise)
    data = load_mnist_dataset(args.source, args.idx_dir)
    try:
        if args.command == "train":
            jobs.train_and_export(
                code, data, args.export_dir, epochs=args.epochs, overwrite=args.overwrite, use_cache=args.cache
            )
            return 0
        stats = jobs.load_and_check(code, data, args.export_dir)
        return 1 if stats["matches_training"] is False else 0
    except jobs.JobError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
