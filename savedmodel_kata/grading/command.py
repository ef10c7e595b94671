"""`kata grade`: grade a submission, a function of it (GitHub Actions), or a whole class.

kata grade                                  this repository's exercises/, four reports
kata grade --submission DIR --pristine SRC  an upload (any layout), with SRC's harness
kata grade --exercise 1 --function save     one function's verdict (exit 0 iff it passes);
           [--reuse]                        the exercise graded once, by its first step
kata grade --class DIR --out DIR            every submission in DIR: a gradebook (batch.py)
kata grade --prairielearn [--grade-root R]  PrairieLearn's entrypoint: R/student/ graded,
                                            R/results/results.json written (prairielearn.py)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.errors import GradingError
from savedmodel_kata.grading import reports, store
from savedmodel_kata.grading.grader import (
    EXERCISE_TIME_LIMIT_SECONDS,
    GradingResults,
    grade,
    stop_on_sigterm,
)

HELP = "(instructors) grade with a pristine harness: a submission, a function, or a class"


def add_parser(commands) -> None:
    parser = commands.add_parser("grade", help=HELP, description=HELP)
    parser.add_argument(
        "--submission",
        type=Path,
        default=None,
        help="the student's repository, or an upload holding exercise files (default: here)",
    )
    parser.add_argument("--out", type=Path, default=Path("grading-report"), help="report folder")
    parser.add_argument(
        "--pristine",
        type=Path,
        default=None,
        help="a clean copy of the kata to take the harness from",
    )
    parser.add_argument(
        "--manifest-sha256",
        default=None,
        help="refuse to grade unless grading-manifest.json has this digest",
    )
    parser.add_argument(
        "--hidden-tests", type=Path, default=None, help="instructors' test_<module>*.py"
    )
    parser.add_argument(
        "--exercise", type=int, action="append", help="only this exercise (repeatable)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=EXERCISE_TIME_LIMIT_SECONDS,
        help=f"seconds one exercise's tests may take (default {EXERCISE_TIME_LIMIT_SECONDS})",
    )
    parser.add_argument(
        "--time-budget", type=float, default=None, help="seconds the whole grading may take"
    )
    parser.add_argument(
        "--require-full",
        action="store_true",
        help="exit 1 unless every graded point is earned (pass/fail graders)",
    )
    parser.add_argument(
        "--gradescope", type=Path, default=None, help="also write Gradescope's results.json here"
    )
    prairielearn = parser.add_argument_group("PrairieLearn: an external grader's entrypoint")
    prairielearn.add_argument(
        "--prairielearn",
        action="store_true",
        help="grade GRADE_ROOT/student/, write GRADE_ROOT/results/results.json; always exit 0",
    )
    prairielearn.add_argument(
        "--grade-root", type=Path, default=Path("/grade"), help="PrairieLearn's /grade folder"
    )
    # The supervisor's child: the grading proper (prairielearn.py).
    prairielearn.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    classroom = parser.add_argument_group("GitHub Actions: one step per function")
    classroom.add_argument(
        "--function",
        choices=(*catalogue.EXERCISE_FUNCTIONS, catalogue.END_TO_END),
        help="report this function of the one --exercise; exit 0 iff all its tests pass",
    )
    classroom.add_argument(
        "--reuse", action="store_true", help="read the exercise's stored grading; never grade"
    )
    classroom.add_argument(
        "--store",
        type=Path,
        default=store.DEFAULT_STORE,
        help="where gradings are kept between steps",
    )
    batch = parser.add_argument_group("a whole class")
    batch.add_argument("--class", dest="class_folder", type=Path, help="a folder of submissions")
    batch.add_argument(
        "--workers",
        type=int,
        default=None,
        help="grading processes (default: one per two cores; each needs about 1 GB)",
    )
    batch.add_argument(
        "--cluster",
        metavar="ADDRESS|local:N",
        default=None,
        help="grade on a Dask cluster (tcp://host:8786), or on N local Dask workers (cluster.py)",
    )


def run(args) -> int:
    if args.prairielearn:
        from savedmodel_kata.grading import prairielearn

        return prairielearn.run(args)
    if args.class_folder is not None:
        from savedmodel_kata.grading import batch

        return batch.run(args)
    stop_on_sigterm()
    exercises = [catalogue.by_number(n) for n in args.exercise] if args.exercise else None
    if args.function is not None:
        if not exercises or len(exercises) != 1:
            raise GradingError("--function needs exactly one --exercise")
        return _one_function(args, exercises[0])
    graded = _grade(
        args, exercises, on_progress=lambda g: reports.write(g, args.out, args.gradescope)
    )
    paths = reports.write(graded, args.out, args.gradescope)
    print(reports.summary_text(graded), end="")
    print(f"\nReports: {', '.join(str(p) for p in paths.values())} ({graded.seconds:.0f} s)")
    return 1 if args.require_full and graded.scores.earned < graded.scores.points else 0


def _grade(args, exercises, on_progress=None) -> GradingResults:
    submission = (args.submission or find_root()).resolve()
    return grade(
        submission,
        pristine=args.pristine.resolve() if args.pristine else None,
        manifest_sha256=args.manifest_sha256,
        hidden_tests=args.hidden_tests,
        time_limit=args.time_limit,
        time_budget=args.time_budget,
        exercises=exercises,
        on_progress=on_progress,
    )


def _one_function(args, exercise: catalogue.Exercise) -> int:
    """A per-function check's step: this function's verdict, the exercise graded at most once."""
    root = (args.submission or find_root()).resolve()
    if args.reuse:
        try:
            graded = store.load(args.store, root, exercise)
        except GradingError as error:
            print(f"{error}. Its points are not awarded in this run.")
            return 1
    else:
        store.mark_started(args.store, exercise)
        graded = _grade(args, [exercise])
        store.save(args.store, root, exercise, graded)
        reports.write(graded, args.out)
    function = next(f for f in graded.scores.functions if f.function == args.function)
    sys.stdout.write(reports.github_log(function))
    for problem in graded.problems:
        print(f"Problem: {problem}")
    if not args.reuse and graded.tampered:
        print(f"Tampering (the pristine copy was used): {', '.join(graded.tampered)}")
    return 0 if function.passed == function.total > 0 else 1
