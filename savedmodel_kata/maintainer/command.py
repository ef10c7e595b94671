"""`kata dev`: the maintainers' loop, as rustlings' `dev update` and `dev check`.

kata dev update              regenerate every generated file (stubs, manifest, Classroom files)
kata dev check               exit 1, naming them, if any generated file is stale
kata dev gradescope-zip OUT  build Gradescope's autograder zip
"""

from __future__ import annotations

from pathlib import Path

from savedmodel_kata.code_under_test import find_root

HELP = "(maintainers) regenerate or check the generated files; build the Gradescope zip"


def add_parser(commands) -> None:
    parser = commands.add_parser("dev", help=HELP, description=HELP)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("update", help="regenerate stubs, grading manifest and Classroom files")
    actions.add_parser("check", help="exit 1 if a generated file is stale (CI runs this)")
    zip_parser = actions.add_parser("gradescope-zip", help="build Gradescope's autograder zip")
    zip_parser.add_argument(
        "out",
        type=Path,
        nargs="?",
        default=Path("gradescope-autograder.zip"),
        help="the zip to write",
    )


def run(args) -> int:
    from savedmodel_kata.maintainer import generated

    root = find_root()
    if args.action == "update":
        for path in generated.update(root):
            print(f"wrote: {path}")
        return 0
    if args.action == "check":
        stale = generated.stale(root)
        for path in stale:
            print(f"stale: {path} (run `kata dev update`)")
        return 1 if stale else 0
    from savedmodel_kata.grading import gradescope

    print(gradescope.build(args.out, root))
    return 0
