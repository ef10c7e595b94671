"""`kata grade`: grade a submission with a pristine harness and write the reports."""

from __future__ import annotations

from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.grading import reports
from savedmodel_kata.grading.grader import EXERCISE_TIME_LIMIT_SECONDS, grade

HELP = "(instructors) grade exercises/ with a pristine harness; write the reports"


def add_parser(commands) -> None:
    parser = commands.add_parser("grade", help=HELP, description=HELP)
    parser.add_argument(
        "--submission", type=Path, default=None, help="the student's repository (default: this one)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("grading-report"), help="folder for the reports"
    )
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
        "--hidden-tests", type=Path, default=None, help="a folder of instructors' test_<module>*.py"
    )
    parser.add_argument(
        "--exercise", type=int, action="append", help="grade only this exercise (repeatable)"
    )
    parser.add_argument(
        "--time-limit",
        type=int,
        default=EXERCISE_TIME_LIMIT_SECONDS,
        help=f"seconds one exercise's tests may take (default {EXERCISE_TIME_LIMIT_SECONDS})",
    )
    parser.add_argument(
        "--require-full",
        action="store_true",
        help="exit 1 unless every graded point is earned (for pass/fail graders)",
    )


def run(args) -> int:
    submission = (args.submission or find_root()).resolve()
    graded = grade(
        submission,
        pristine=args.pristine.resolve() if args.pristine else None,
        manifest_sha256=args.manifest_sha256,
        hidden_tests=args.hidden_tests,
        time_limit=args.time_limit,
        exercises=[catalogue.by_number(n) for n in args.exercise] if args.exercise else None,
    )
    paths = reports.write(graded, args.out)
    print(reports.summary_text(graded), end="")
    print(f"\nReports: {', '.join(str(p) for p in paths.values())} ({graded.seconds:.0f} s)")
    return 1 if args.require_full and graded.scores.earned < graded.scores.points else 0
