"""Where the exercise code lives, and importing it.

The kata's code under test sits in two folders of the repository, never in
the installed package: `exercises/` (the student's stubs and answers) and
`solutions/` (the reference). Both hold a module of the same name for each
exercise, so they are imported by file path under distinct module names.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

from savedmodel_kata.catalogue import Exercise
from savedmodel_kata.tf_setup import import_tensorflow

TARGETS = ("exercises", "solutions")
ROOT_ENVIRONMENT_VARIABLE = "KATA_ROOT"
# A folder of instructors' hidden tests, test_<module>*.py, merged into their exercise's tests.
HIDDEN_TESTS_ENVIRONMENT_VARIABLE = "KATA_HIDDEN_TESTS"


class TargetError(Exception):
    """The code under test cannot be found or imported; the message says why and what to do."""


def find_root(start: Path | None = None) -> Path:
    """The repository root: $KATA_ROOT, else the nearest folder above `start`
    (default: the working directory) holding both exercises/ and solutions/."""
    configured = os.environ.get(ROOT_ENVIRONMENT_VARIABLE)
    if configured:
        root = Path(configured).resolve()
        if not all((root / target).is_dir() for target in TARGETS):
            raise TargetError(
                f"{ROOT_ENVIRONMENT_VARIABLE}={configured} has no exercises/ and solutions/ folders; "
                "point it at your clone of the kata, or unset it and run from inside the clone."
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / target).is_dir() for target in TARGETS):
            return folder
    raise TargetError(
        f"no kata repository found at or above {here}: run the command from inside your clone "
        f"(the folder with exercises/ and solutions/), or set {ROOT_ENVIRONMENT_VARIABLE}."
    )


def module_path(root: Path, target: str, exercise: Exercise) -> Path:
    if target not in TARGETS:
        raise TargetError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    return root / target / exercise.file_name


def import_exercise(root: Path, target: str, exercise: Exercise) -> types.ModuleType:
    """Import `<target>/<module>.py` afresh (so edits since the last import count).

    Raises TargetError naming the file, the line and the error when the module
    cannot be imported: a student's syntax error must read as one, not as a
    harness crash.
    """
    path = module_path(root, target, exercise)
    if not path.is_file():
        raise TargetError(
            f"{path.relative_to(root)} is missing. Restore it from git "
            f"(`git checkout -- {target}/{exercise.file_name}`) to get the stub back."
        )
    import_tensorflow()  # every exercise imports it: do it once, quietly, first
    name = f"kata_{target}.{exercise.module}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        del sys.modules[name]
        raise TargetError(
            f"{target}/{exercise.file_name} line {error.lineno}: Python cannot read this file "
            f"({error.msg}). Fix that line and run again."
        ) from error
    except Exception as error:  # the student's module-level code raised
        del sys.modules[name]
        line = _last_line_in(error, path)
        where = f" (line {line})" if line else ""
        raise TargetError(
            f"importing {target}/{exercise.file_name} raised {type(error).__name__}{where}: {error}. "
            "Code at the top level of the module runs on import: keep work inside the functions."
        ) from error
    return module


def _last_line_in(error: BaseException, path: Path) -> int | None:
    line = None
    traceback = error.__traceback__
    while traceback is not None:
        if Path(traceback.tb_frame.f_code.co_filename) == path:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
