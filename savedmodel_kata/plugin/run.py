"""What a pytest run checks, decided once from its command line and kept in `config.stash`.

The exercise tests are ordinary test modules in `tests/` (`test_<module>.py`,
assertion rewriting and conftest fixtures as usual). Naming an exercise file
or folder on the command line stands for its tests, run against that
folder's code:

    pytest exercises/                       every exercise, the student's code
    pytest exercises/ex01_graph_mode.py     one exercise (::test_name works too)
    pytest solutions/                       the reference
    pytest tests/test_ex01_graph_mode.py    the target setting decides (--target, KATA_TARGET)
    pytest exercises/ solutions/            both, each test once per target

Instructors' hidden tests (`test_<module>*.py` in the hidden-tests folder)
join the run for each exercise in it, and are marked `hidden`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.errors import CatalogueError
from savedmodel_kata.settings import TARGETS, Settings

RUN = pytest.StashKey["KataRun"]()


def exercise_of_test_file(path: Path) -> catalogue.Exercise | None:
    """The exercise a test file belongs to: test_<module>.py, or test_<module>_<anything>.py."""
    stem = Path(path).stem
    for exercise in catalogue.exercises():
        if stem == f"test_{exercise.module}" or stem.startswith(f"test_{exercise.module}_"):
            return exercise
    return None


@dataclass
class KataRun:
    root: Path
    settings: Settings
    args: list[str]
    # test file -> the targets its tests run against (in the order given)
    targets: dict[Path, list[str]] = field(default_factory=dict)

    def targets_for(self, path: Path) -> list[str]:
        return self.targets.get(Path(path).resolve(), [self.settings.target])

    def is_hidden(self, path: Path) -> bool:
        folder = self.settings.hidden_tests
        return bool(folder) and Path(folder).resolve() in Path(path).resolve().parents

    @classmethod
    def plan(cls, root: Path, settings: Settings, args: list[str], invocation_dir: Path) -> KataRun:
        run = cls(root=root, settings=settings, args=[])
        for arg in args:
            path_part, sep, rest = arg.partition("::")
            path = Path(os.path.abspath(invocation_dir / path_part))
            exercises, target = run._exercise_path(path)
            if target is None:
                run.args.append(arg)
                continue
            for exercise in exercises:
                test_file = root / "tests" / exercise.test_file_name
                if not test_file.is_file():
                    raise pytest.UsageError(f"{path} has no tests: expected {test_file}")
                run._add(test_file, target, f"{test_file}{sep}{rest}")
                for hidden_file in run._hidden_files(exercise):
                    run._add(hidden_file, target, str(hidden_file))
        return run

    def _exercise_path(self, path: Path) -> tuple[list[catalogue.Exercise], str | None]:
        """The exercises a path stands for, and its target: exercises/ or solutions/ (every
        exercise), or an exercise module in any folder of the repository but tests/.

        `path` is absolute but not resolved: exercises/ may be a link (the meta-tests' copies).
        """
        for target in TARGETS:
            folder = self.root / target
            if path == folder or path.resolve() == folder.resolve():
                return list(catalogue.exercises()), target
        if (
            path.suffix != ".py"
            or self.root not in path.parents
            or self.root / "tests" in path.parents
        ):
            return [], None
        try:
            exercise = catalogue.by_module(path.stem)
        except CatalogueError:
            return [], None  # a student's helper module, say: pytest handles it
        return [exercise], path.parent.relative_to(self.root).as_posix()

    def _hidden_files(self, exercise: catalogue.Exercise) -> list[Path]:
        folder = self.settings.hidden_tests
        if not folder:
            return []
        return sorted(
            path
            for path in Path(folder).glob(f"test_{exercise.module}*.py")
            if exercise_of_test_file(path) == exercise
        )

    def _add(self, test_file: Path, target: str, arg: str) -> None:
        targets = self.targets.setdefault(test_file.resolve(), [])
        if target not in targets:
            targets.append(target)
        if arg not in self.args:
            self.args.append(arg)
