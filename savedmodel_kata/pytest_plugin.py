"""The pytest plugin behind `pytest exercises/` and `pytest solutions/`.

One test suite (tests/test_<module>.py) serves both implementations. Giving
pytest an exercise file or folder collects that exercise's tests against it:

    pytest exercises/                       every exercise, the student's code
    pytest exercises/ex01_graph_mode.py     one exercise
    pytest solutions/                       the reference
    pytest tests/ --target solutions        the same, named explicitly
                                            ($KATA_TARGET when the option is absent)

Each test is marked with the one student function it grades
(`@pytest.mark.function("save")`) and takes the other three from solutions/,
so a mistake in `save` fails only `save`'s tests; `@pytest.mark.end_to_end`
tests use all four. Student functions are called through `StudentCode`,
which turns a stub, an exception or a hang into a message that says what
happened and where to look.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

from savedmodel_kata import cache, catalogue, targets
from savedmodel_kata.feedback import StudentCode, StudentError, call_timeout

TARGET_ENVIRONMENT_VARIABLE = "KATA_TARGET"
PROFILE_ENVIRONMENT_VARIABLE = "KATA_HYPOTHESIS_PROFILE"
EXERCISE_FILE = re.compile(r"^ex\d\d_\w+\.py$")

# Hypothesis profiles. Both: no deadline, because TensorFlow's first call in
# a graph compiles kernels and takes far longer than later ones. 'kata-dev'
# explores (random seeds, examples remembered in the kata's temp cache);
# 'kata-grading' is derandomized, so the same code always meets the same
# examples and a grade never changes between runs.
_COMMON = dict(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])
# Hypothesis keeps its files in ./.hypothesis unless told otherwise; the kata
# writes only to temporary folders, so they go to the kata's cache.
HYPOTHESIS_HOME = cache.cache_dir() / "hypothesis"
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(HYPOTHESIS_HOME)
settings.register_profile(
    "kata-dev",
    database=DirectoryBasedExampleDatabase(str(HYPOTHESIS_HOME / "examples")),
    **_COMMON,
)
settings.register_profile("kata-grading", derandomize=True, database=None, print_blob=False, **_COMMON)
# `kata watch`: the explicit examples and one generated, for feedback within seconds of a save.
settings.register_profile(
    "kata-watch", derandomize=True, database=None, print_blob=False, **dict(_COMMON, max_examples=1)
)


def pytest_addoption(parser):
    group = parser.getgroup("kata")
    group.addoption(
        "--target",
        choices=targets.TARGETS,
        default=None,
        help=f"which implementation the tests in tests/ check (default: ${TARGET_ENVIRONMENT_VARIABLE}, else exercises). "
        "Giving pytest exercises/ or solutions/ paths chooses for you.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Runs before Hypothesis' own plugin, which loads --hypothesis-profile if given.
    settings.load_profile(os.environ.get(PROFILE_ENVIRONMENT_VARIABLE, "kata-dev"))
    config.addinivalue_line("markers", "function(name): the exercise function this test grades")
    config.addinivalue_line("markers", "end_to_end: the test runs all four of the student's functions")


def option_target(config) -> str:
    target = config.getoption("--target") or os.environ.get(TARGET_ENVIRONMENT_VARIABLE) or "exercises"
    if target not in targets.TARGETS:
        raise pytest.UsageError(
            f"${TARGET_ENVIRONMENT_VARIABLE}={target!r}: choose one of {', '.join(targets.TARGETS)}"
        )
    return target


# --- collection: an exercise file stands for its tests -----------------------


class ExerciseTests(pytest.Module):
    """An exercise file (its node and path, so pytest matches it to the command line)
    whose tests are those of tests/test_<module>.py, run against that file's folder."""

    target: str
    exercise: catalogue.Exercise
    test_path: Path

    def _getobj(self):
        # One module object per target: pytest registers a module's fixtures
        # once per object, so exercises/ and solutions/ in one run need two.
        # (Asserts are not rewritten here; every assert in tests/ carries its message.)
        module = _exec_module(f"kata_tests_{self.target}.{self.test_path.stem}", self.test_path)
        for hidden_path in _hidden_test_files(self.test_path.stem):
            _merge_hidden_tests(module, _exec_module(f"kata_hidden_{self.target}.{hidden_path.stem}", hidden_path))
        return module


def _exec_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _hidden_test_files(test_module: str) -> list[Path]:
    """Instructors' hidden tests for this exercise: $KATA_HIDDEN_TESTS/test_<module>*.py."""
    folder = os.environ.get(targets.HIDDEN_TESTS_ENVIRONMENT_VARIABLE)
    return sorted(Path(folder).glob(f"{test_module}*.py")) if folder else []


def _merge_hidden_tests(module, hidden) -> None:
    """Hidden tests join the exercise's module as test_hidden_*, so they use its fixtures and count like the others."""
    for name, value in vars(hidden).items():
        if name.startswith("test_") and callable(value):
            setattr(module, "test_hidden_" + name.removeprefix("test_"), value)
        elif not name.startswith("__") and not hasattr(module, name):
            setattr(module, name, value)


def _exercise_tests(file_path: Path, parent) -> ExerciseTests | None:
    folder = file_path.parent
    if folder.name not in targets.TARGETS or not EXERCISE_FILE.match(file_path.name):
        return None
    root = folder.parent
    try:
        exercise = catalogue.by_module(file_path.stem)
    except LookupError:
        return None  # not an exercise of the catalogue (a student's helper, say)
    test_file = root / "tests" / exercise.test_file_name
    if not test_file.is_file():
        raise pytest.UsageError(f"{file_path} has no tests: expected {test_file}")
    node = ExerciseTests.from_parent(parent, path=file_path)
    node.test_path = test_file
    node.target = folder.name
    node.exercise = exercise
    return node


def pytest_collect_file(file_path, parent):
    # A file named on the command line reaches pytest_pycollect_makemodule below.
    if file_path.suffix == ".py" and not parent.session.isinitpath(file_path):
        return _exercise_tests(file_path, parent)
    return None


def pytest_pycollect_makemodule(module_path, parent):
    return _exercise_tests(module_path, parent)


def pytest_collection_modifyitems(config, items):
    for item in items:
        exercise = _exercise_of(item)
        if exercise is None:
            continue
        marks = [mark.args[0] for mark in item.iter_markers("function")]
        end_to_end = item.get_closest_marker("end_to_end") is not None
        if len(marks) + end_to_end != 1 or any(name not in catalogue.EXERCISE_FUNCTIONS for name in marks):
            raise pytest.UsageError(
                f"{item.nodeid}: mark it with exactly one of @pytest.mark.function(name) "
                f"(name in {catalogue.EXERCISE_FUNCTIONS}) or @pytest.mark.end_to_end"
            )
        item.user_properties.append(("exercise", exercise.id))
        item.user_properties.append(("function", marks[0] if marks else "end_to_end"))
        item.user_properties.append(("target", _target_of(item)))


def _exercise_of(node) -> catalogue.Exercise | None:
    module = node.getparent(pytest.Module)
    if isinstance(module, ExerciseTests):
        return module.exercise
    stem = module.path.stem if module else ""
    if stem.startswith("test_"):
        try:
            return catalogue.by_module(stem.removeprefix("test_"))
        except LookupError:
            return None
    return None


def _target_of(node) -> str:
    module = node.getparent(pytest.Module)
    if isinstance(module, ExerciseTests):
        return module.target
    return option_target(node.config)


# --- where to look, on every failure -----------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(StudentError):
        # The lesson replaces the traceback: it already says what and where.
        error = call.excinfo.value
        notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", ()))
        report.longrepr = f"{error}{notes}"
    exercise = _exercise_of(item)
    if exercise is not None and call.excinfo is not None and call.excinfo.errisinstance(AssertionError):
        # The test's message is the lesson; pytest's operand dump after it is noise to a student.
        message = str(call.excinfo.value).split("\nassert ")[0]
        entry = call.excinfo.traceback[-1]
        notes = "".join(f"\n{note}" for note in getattr(call.excinfo.value, "__notes__", ()))
        report.longrepr = f"{message}{notes}\n(checked at {Path(str(entry.path)).name}:{entry.lineno + 1})"
    if report.failed and exercise is not None and call.when == "call":
        marks = [mark.args[0] for mark in item.iter_markers("function")]
        target = _target_of(item)
        where = f"{target}/{exercise.file_name}"
        if marks:
            look = f"{marks[0]}() in {where}"
            hint = f"kata hint {exercise.number} {marks[0]}"
        else:
            look = f"all four functions in {where} (this test chains them; their own tests say which is wrong)"
            hint = f"kata hint {exercise.number}"
        report.sections.append(("Where to look", f"{look}\nHints: `{hint}`"))
    return report


# --- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def kata_root(pytestconfig) -> Path:
    return targets.find_root(Path(pytestconfig.rootpath))


@pytest.fixture(scope="module")
def exercise(request) -> catalogue.Exercise:
    found = _exercise_of(request.node)
    if found is None:
        raise pytest.UsageError(f"{request.node.nodeid} is not the test module of a catalogue exercise")
    return found


@pytest.fixture(scope="module")
def target(request) -> str:
    return _target_of(request.node)


@pytest.fixture(scope="module")
def student(kata_root, target, exercise) -> StudentCode:
    """The code under test: exercises/ or solutions/, wrapped to explain its failures."""
    return StudentCode(kata_root, target, exercise, timeout=call_timeout())


@pytest.fixture(scope="module")
def reference(kata_root, exercise):
    """The reference solution's module, used for every function a test does not grade."""
    return targets.import_exercise(kata_root, "solutions", exercise)


@pytest.fixture(scope="module")
def memo():
    """Student results computed inside tests (so a stub fails the test, not a fixture), kept per module."""
    from savedmodel_kata.testing import Memo

    return Memo()


class Digits(tuple):
    """(train_images, train_labels, test_images, test_labels), with a repr that fits on a line."""

    def __repr__(self) -> str:
        return f"<MNIST: {len(self[1])} train and {len(self[3])} test digits>"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis' printer asks for this one
        printer.text(repr(self))


@functools.cache
def _bundled_digits() -> Digits:
    # Kept for the life of the process: `kata watch` and `kata status` run pytest many times.
    from savedmodel_kata.data import load_mnist_dataset

    digits = Digits(load_mnist_dataset("bundled"))
    for array in digits:
        array.setflags(write=False)  # shared between runs: no test may change it
    return digits


@pytest.fixture(scope="session")
def mnist() -> Digits:
    """The bundled digits: (train_images, train_labels, test_images, test_labels), read-only."""
    return _bundled_digits()
