"""What a pytest run checks, decided once, and how pytest collects it.

The exercise tests are ordinary test modules in `tests/` (`test_<module>.py`,
assertion rewriting and conftest fixtures as usual). Naming an exercise file
or folder on the command line stands for its tests, run against that
folder's code:

    pytest exercises/                       every exercise, the student's code
    pytest exercises/ex01_graph_mode.py     one exercise (::test_name works too)
    pytest solutions/                       the reference
    pytest tests/test_ex01_graph_mode.py    the target setting decides (--target, KATA_TARGET)
    pytest exercises/ solutions/            both, each test once per target

The command line is read once, into a `Selection` (which exercises, against
which targets); the in-process runs (`kata status`, `kata watch`, grading, the
gate) hand theirs to pytest as a plugin object instead. The `RunPlan` built
from it is kept in `config.stash[RUN_PLAN]`. pytest's arguments are never
rewritten: the exercise modules they name are collected as `ExerciseFile`s,
whose children are their test modules' tests. Each test module is collected
once a run, its tests parametrized over every target the selection gives its
exercise; each test's exercise, function and target are decided once, as it is
collected, and kept in `item.stash[KATA_TEST]`.

Instructors' hidden tests (`test_<module>*.py` in the hidden-tests folder)
join the run for each exercise in it, and are marked `hidden`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.catalogue import END_TO_END
from savedmodel_kata.code_under_test import StudentCode
from savedmodel_kata.errors import CatalogueError
from savedmodel_kata.settings import TARGETS, Settings

RUN_PLAN = pytest.StashKey["RunPlan"]()
TEST_MODULE = pytest.StashKey["TestModule"]()  # on an exercise's test module
KATA_TEST = pytest.StashKey["KataTest"]()  # on each of its tests


def exercise_of_test_file(path: Path) -> catalogue.Exercise | None:
    """The exercise a test file belongs to: test_<module>.py, or test_<module>_<anything>.py."""
    stem = Path(path).stem
    for exercise in catalogue.exercises():
        if stem == f"test_{exercise.module}" or stem.startswith(f"test_{exercise.module}_"):
            return exercise
    return None


@dataclass(frozen=True)
class Selection:
    """Which exercises a run checks, against which targets, in the order given.

    A target is a folder of the repository holding exercise modules: exercises/, solutions/,
    or one of the gate's planted copies."""

    pairs: tuple[tuple[catalogue.Exercise, str], ...] = ()

    @classmethod
    def of(cls, exercises: Iterable[catalogue.Exercise], targets: Iterable[str]) -> Selection:
        return cls(tuple((exercise, target) for target in targets for exercise in exercises))

    @classmethod
    def from_command_line(cls, root: Path, args: list[str], invocation_dir: Path) -> Selection:
        """The exercise files and folders among pytest's arguments (other arguments are
        pytest's own to collect)."""
        pairs: list[tuple[catalogue.Exercise, str]] = []
        for arg in args:
            path = Path(os.path.abspath(invocation_dir / arg.partition("::")[0]))
            for pair in _exercise_path(root, path):
                if pair not in pairs:
                    pairs.append(pair)
        return cls(tuple(pairs))

    def module_paths(self, root: Path) -> list[str]:
        """What pytest collects for this selection: each exercise's module in its target, or
        the target's folder where the module is missing (its tests then say so)."""
        paths: list[str] = []
        for exercise, target in self.pairs:
            path = root / target / exercise.file_name
            path = path if path.exists() else path.parent
            if str(path) not in paths:
                paths.append(str(path))
        return paths


def _exercise_path(root: Path, path: Path) -> list[tuple[catalogue.Exercise, str]]:
    """The (exercise, target) pairs a path stands for: exercises/ or solutions/ (every
    exercise), or an exercise module in any folder of the repository but tests/.

    `path` is absolute but not resolved: exercises/ may be a link (the meta-tests' copies).
    """
    for target in TARGETS:
        folder = root / target
        if path == folder or path.resolve() == folder.resolve():
            return [(exercise, target) for exercise in catalogue.exercises()]
    if path.suffix != ".py" or root not in path.parents or root / "tests" in path.parents:
        return []
    try:
        exercise = catalogue.by_module(path.stem)
    except CatalogueError:
        return []  # a student's helper module, say: pytest handles it
    return [(exercise, path.parent.relative_to(root).as_posix())]


@dataclass(frozen=True)
class TestModule:
    """An exercise's test module in this run: its exercise, the targets its tests run
    against (in order), and whether it is an instructor's hidden one."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    exercise: catalogue.Exercise
    targets: tuple[str, ...]
    hidden: bool


@dataclass(frozen=True)
class KataTest:
    """One exercise test: what it grades, and against which code."""

    __test__ = False

    exercise: catalogue.Exercise
    function: str  # one of catalogue.EXERCISE_FUNCTIONS, or END_TO_END
    target: str
    hidden: bool

    def user_properties(self) -> list[tuple[str, object]]:
        """The same, for reports and JUnit XML (strings, as a report carries them)."""
        return [
            ("exercise", self.exercise.id),
            ("function", self.function),
            ("target", self.target),
            ("hidden", self.hidden),
        ]


def kata_test_of(node: pytest.Item | pytest.Collector) -> KataTest | None:
    """The exercise test an item is (None for the harness's own tests)."""
    return node.stash.get(KATA_TEST, None)


@dataclass
class RunPlan:
    root: Path
    settings: Settings
    selection: Selection
    # the files of the selection's exercise modules -> (exercise, target); links kept and resolved
    _files: dict[Path, tuple[catalogue.Exercise, str]] = field(default_factory=dict)
    # each test module, collected once a run: its path -> its tests and other children
    _collected: dict[Path, list[pytest.Item | pytest.Collector]] = field(default_factory=dict)
    # (target, exercise id) -> the code under test, one a run: imported once, read for stubs
    _code: dict[tuple[str, str], StudentCode] = field(default_factory=dict)
    # instructors' hidden modules that failed to load: left out, and named without their words
    unloadable_hidden: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for exercise, target in self.selection.pairs:
            path = self.root / target / exercise.file_name
            self._files[path] = self._files[path.resolve()] = (exercise, target)

    def exercise_file(self, path: Path) -> tuple[catalogue.Exercise, str] | None:
        """The exercise and target a collected file stands for, if the selection names it."""
        return self._files.get(Path(path)) or self._files.get(Path(path).resolve())

    def missing_in(self, folder: Path) -> list[tuple[catalogue.Exercise, str]]:
        """The selection's exercises whose module is missing from `folder`, a target's."""
        return [
            (exercise, target)
            for exercise, target in self.selection.pairs
            if Path(folder) in (self.root / target, (self.root / target).resolve())
            and not (self.root / target / exercise.file_name).exists()
        ]

    def targets_of(self, exercise: catalogue.Exercise) -> tuple[str, ...]:
        chosen = tuple(target for chosen, target in self.selection.pairs if chosen == exercise)
        return chosen or (self.settings.target,)

    def test_module(self, path: Path) -> TestModule | None:
        """What a test file checks in this run (None for a file of no exercise)."""
        exercise = exercise_of_test_file(path)
        if exercise is None:
            return None
        return TestModule(exercise, self.targets_of(exercise), self.is_hidden(path))

    def test_files(self, exercise: catalogue.Exercise) -> list[Path]:
        """The exercise's test module, then the hidden ones of the hidden-tests folder."""
        test_file = self.root / "tests" / exercise.test_file_name
        if not test_file.is_file():
            raise pytest.UsageError(
                f"{self.root / 'exercises' / exercise.file_name} has no tests: expected {test_file}"
            )
        folder = self.settings.hidden_tests
        hidden = (
            sorted(
                Path(os.path.abspath(path))
                for path in Path(folder).glob(f"test_{exercise.module}*.py")
                if exercise_of_test_file(path) == exercise
            )
            if folder
            else []
        )
        return [test_file, *hidden]

    def is_hidden(self, path: Path) -> bool:
        folder = self.settings.hidden_tests
        return folder is not None and Path(folder).resolve() in Path(path).resolve().parents

    def code_under_test(self, target: str, exercise: catalogue.Exercise) -> StudentCode:
        key = (target, exercise.id)
        if key not in self._code:
            timeout = self.settings.call_timeout
            self._code[key] = StudentCode(self.root, target, exercise, timeout=timeout)
        return self._code[key]

    def collected(
        self, parent: pytest.Collector, path: Path
    ) -> list[pytest.Item | pytest.Collector]:
        """The children of the test module at `path`, collected once a run (under the first
        exercise file that asks, whichever target it names)."""
        if path not in self._collected:
            module = pytest.Module.from_parent(parent, path=path)
            test_module = self.test_module(path)
            if test_module is not None:  # always, for an exercise's test files
                module.stash[TEST_MODULE] = test_module
            self._collected[path] = list(module.collect())
        return self._collected[path]


class ExerciseFile(pytest.File):
    """An exercise's module in a target folder, named on the command line (or in a folder
    named there): it stands for the exercise's tests, run against this folder's code."""

    def __init__(self, *, exercise: catalogue.Exercise, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exercise, self.target = exercise, target

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        plan = self.config.stash[RUN_PLAN]
        first_target = plan.targets_of(self.exercise)[0]
        for path in plan.test_files(self.exercise):
            try:
                children = plan.collected(self, path)
            except Exception:  # pytest's CollectError among them
                if not plan.is_hidden(path):
                    raise
                # The instructor's file, not the student's: it costs only its own tests, and
                # its source (in pytest's report) is never shown.
                plan.unloadable_hidden.add(path.name)
                continue
            for child in children:
                # A test module's tests are parametrized over every target of its exercise:
                # each target's file yields its own (a class comes with the first target's).
                target = _target_param(child)
                if target == self.target or (target is None and self.target == first_target):
                    yield child


def _target_param(node: pytest.Item | pytest.Collector) -> str | None:
    callspec = getattr(node, "callspec", None)
    return callspec.params.get("target") if callspec is not None else None


def graded_function(item: pytest.Item) -> str:
    """The function an exercise test grades, from its one mark (refused otherwise)."""
    marks = [mark.args[0] for mark in item.iter_markers("function")]
    end_to_end = item.get_closest_marker("end_to_end") is not None
    if len(marks) + end_to_end != 1 or any(
        name not in catalogue.EXERCISE_FUNCTIONS for name in marks
    ):
        raise pytest.UsageError(
            f"{item.nodeid}: mark it with exactly one of @pytest.mark.function(name) "
            f"(name in {catalogue.EXERCISE_FUNCTIONS}) or @pytest.mark.end_to_end"
        )
    return marks[0] if marks else END_TO_END


def kata_test(item: pytest.Item, module: TestModule) -> KataTest:
    target = _target_param(item) or module.targets[0]
    return KataTest(module.exercise, graded_function(item), target, module.hidden)
