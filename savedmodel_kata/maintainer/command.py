"""`kata dev`: the maintainers' loop, as rustlings' `dev update` and `dev check`.

kata dev update              regenerate every generated file (stubs, manifest, Actions workflow)
kata dev check               exit 1, naming them, if any generated file is stale or any planted
                             case's original is not exactly once in its solution
kata dev gradescope-zip OUT  build Gradescope's autograder zip
kata dev classroom50-bundle DIR  build Classroom 50's autograder bundle (grading/classroom50.py)
kata dev prairielearn-question DIR [--image NAME]
                             PrairieLearn: the grader image's build folder and one question
                             per exercise
"""

from __future__ import annotations

from pathlib import Path

from savedmodel_kata.code_under_test import find_root

HELP = "(maintainers) regenerate or check the generated files; build the Gradescope zip"


def add_parser(commands) -> None:
    parser = commands.add_parser("dev", help=HELP, description=HELP)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("update", help="regenerate stubs, grading manifest and the Actions workflow")
    actions.add_parser(
        "check",
        help="exit 1 if a generated file is stale or a planted case cannot be planted (CI runs "
        "this)",
    )
    zip_parser = actions.add_parser("gradescope-zip", help="build Gradescope's autograder zip")
    zip_parser.add_argument(
        "out",
        type=Path,
        nargs="?",
        default=Path("gradescope-autograder.zip"),
        help="the zip to write",
    )
    bundle = actions.add_parser(
        "classroom50-bundle", help="build the Classroom 50 assignment's autograder bundle"
    )
    bundle.add_argument("out", type=Path, help="the folder to write (CLASSROOM/autograders/SLUG)")
    bundle.add_argument("-e", "--exercise", type=int, action="append", help="only this exercise")
    actions.add_parser("warm-cache", help="train every reference model into the cache")
    prairielearn = actions.add_parser(
        "prairielearn-question",
        help="write PrairieLearn's grader image folder and a question per exercise",
    )
    prairielearn.add_argument("out", type=Path, help="the course-shaped folder to write")
    prairielearn.add_argument(
        "--image", default=None, help="the image's Docker Hub name, as you will push it"
    )
    gate = actions.add_parser(
        "mutations",
        help="plant every listed mistake and alternative; print what the suite makes of them",
    )
    gate.add_argument("-e", "--exercise", type=int, action="append", help="only this exercise")
    gate.add_argument("--case", action="append", default=[], help="only the case of this name")


def run(args) -> int:
    from savedmodel_kata.maintainer import generated

    root = find_root()
    if args.action == "update":
        for path in generated.update(root):
            print(f"wrote: {path}")
        return 0
    if args.action == "check":
        from savedmodel_kata.maintainer.mutation_gate import misplaced_originals

        stale = generated.stale(root)
        for path in stale:
            print(f"stale: {path} (run `kata dev update`)")
        misplaced = misplaced_originals(root)
        for problem in misplaced:
            print(f"cannot plant: {problem}")
        return 1 if stale or misplaced else 0
    if args.action == "mutations":
        return _mutations(root, args)
    if args.action == "warm-cache":
        return _warm_cache(root)
    if args.action == "classroom50-bundle":
        return _classroom50_bundle(root, args)
    if args.action == "prairielearn-question":
        from savedmodel_kata.grading import prairielearn

        image = args.image or prairielearn.DEFAULT_IMAGE
        for path in prairielearn.write_course(args.out, root, image):
            print(f"wrote: {path}")
        return 0
    from savedmodel_kata.grading import gradescope

    print(gradescope.build(args.out, root))
    return 0


def _mutations(root: Path, args) -> int:
    from savedmodel_kata import catalogue
    from savedmodel_kata.maintainer import mutation_gate
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    import_tensorflow()
    chosen = (
        [catalogue.by_number(n) for n in args.exercise] if args.exercise else catalogue.exercises()
    )
    verdicts = mutation_gate.run(root, chosen, args.case)
    print(mutation_gate.table(verdicts))
    failing = [v for v in verdicts if not v.holds]
    for verdict in failing:
        print(f"\n{verdict.explain()}")
    return 1 if failing else 0


def _classroom50_bundle(root: Path, args) -> int:
    from savedmodel_kata import catalogue
    from savedmodel_kata.grading import classroom50

    chosen = [catalogue.by_number(n) for n in args.exercise] if args.exercise else None
    bundle = classroom50.build(args.out, root, chosen)
    size = classroom50.packed_size(bundle)
    limit = classroom50.BUNDLE_LIMIT_BYTES
    print(f"{bundle}: {size / 1024**2:.2f} MB as tar -czf (Classroom 50 fetches at most 10 MB)")
    return 0 if size <= limit else 1


def _warm_cache(root: Path) -> int:
    """Train each exercise's reference as the tests do, so their first run finds it cached."""
    from savedmodel_kata import catalogue
    from savedmodel_kata.code_under_test import import_exercise
    from savedmodel_kata.mnist import bundled_digits
    from savedmodel_kata.plugin.fixtures import exercise_kind

    for exercise in catalogue.exercises():
        kind = exercise_kind(root, exercise)
        trained = kind.train(
            import_exercise(root, "solutions", exercise).create_model, bundled_digits()
        )
        how = "cached" if trained.stats.cached else "trained"
        print(f"exercise {exercise.number}: {trained.stats.test} ({how})")
        kind.close(trained.model)
    return 0
