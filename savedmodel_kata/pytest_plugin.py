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

import os
import re
import signal
import threading
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from savedmodel_kata import cache, catalogue, targets

TARGET_ENVIRONMENT_VARIABLE = "KATA_TARGET"
PROFILE_ENVIRONMENT_VARIABLE = "KATA_HYPOTHESIS_PROFILE"
CALL_TIMEOUT_ENVIRONMENT_VARIABLE = "KATA_CALL_TIMEOUT"
DEFAULT_CALL_TIMEOUT_SECONDS = 120
EXERCISE_FILE = re.compile(r"^ex\d\d_\w+\.py$")

# Hypothesis profiles. Both: no deadline, because TensorFlow's first call in
# a graph compiles kernels and takes far longer than later ones. 'kata-dev'
# explores (random seeds, examples remembered in the kata's temp cache);
# 'kata-grading' is derandomized, so the same code always meets the same
# examples and a grade never changes between runs.
_COMMON = dict(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "kata-dev",
    database=DirectoryBasedExampleDatabase(str(cache.cache_dir() / "hypothesis")),
    **_COMMON,
)
settings.register_profile("kata-grading", derandomize=True, database=None, print_blob=False, **_COMMON)


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
    """tests/test_<module>.py, collected for one target under the exercise file's name."""

    target: str
    exercise: catalogue.Exercise


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
    node = ExerciseTests.from_parent(
        parent,
        path=test_file,
        name=file_path.name,
        nodeid=f"{folder.name}/{file_path.name}",
    )
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
    exercise = _exercise_of(item)
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
def student(kata_root, target, exercise) -> "StudentCode":
    """The code under test: exercises/ or solutions/, wrapped to explain its failures."""
    return StudentCode(kata_root, target, exercise)


@pytest.fixture(scope="module")
def reference(kata_root, exercise):
    """The reference solution's module, used for every function a test does not grade."""
    return targets.import_exercise(kata_root, "solutions", exercise)


@pytest.fixture(scope="session")
def mnist():
    """The bundled digits: (train_images, train_labels, test_images, test_labels)."""
    from savedmodel_kata.data import load_mnist_dataset

    return load_mnist_dataset("bundled")


# --- calling student code --------------------------------------------------------


class StudentTimeout(Exception):
    pass


class StudentCode:
    """The student's module; each function call turns failures into lessons.

    The module is imported at the first call, inside the test, so a syntax
    error fails each test with its line instead of erroring the whole run.
    """

    def __init__(self, root: Path, target: str, exercise: catalogue.Exercise):
        self.root, self.target, self.exercise = root, target, exercise
        self.path = targets.module_path(root, target, exercise)
        self._module = None

    @property
    def module(self):
        __tracebackhide__ = True
        if self._module is None:
            try:
                self._module = targets.import_exercise(self.root, self.target, self.exercise)
            except targets.TargetError as error:
                pytest.fail(str(error), pytrace=False)
        return self._module

    def __getattr__(self, name: str):
        __tracebackhide__ = True
        if name not in catalogue.EXERCISE_FUNCTIONS:
            raise AttributeError(name)
        function = getattr(self.module, name, None)
        if not callable(function):
            pytest.fail(
                f"{self.target}/{self.exercise.file_name} has no function {name}(): "
                "the tests call it by that name. Did you rename or delete it? "
                f"`git diff {self.target}/{self.exercise.file_name}` shows what changed.",
                pytrace=False,
            )

        def call(*args, **kwargs):
            __tracebackhide__ = True
            return self._call(name, function, args, kwargs)

        call.__wrapped__ = function
        call.__name__ = name
        return call

    def _call(self, name, function, args, kwargs):
        __tracebackhide__ = True
        label = f"{self.target}/{self.exercise.file_name}: {name}()"
        # The message is built inside `except` and raised after it, so pytest
        # shows the lesson alone, not "during handling of the above exception".
        try:
            with _time_limit(_call_timeout()):
                return function(*args, **kwargs)
        except NotImplementedError as error:
            lesson = f"{label} is not implemented yet.\n  {error}"
        except StudentTimeout:
            lesson = (
                f"{label} did not return within {_call_timeout()} s. Look for a loop that never ends, "
                "or training or data loading that does not belong in this function. "
                f"(Raise the limit with ${CALL_TIMEOUT_ENVIRONMENT_VARIABLE}=seconds.)"
            )
        except pytest.fail.Exception:
            raise
        except Exception as error:
            lesson = (
                f"{label} raised {type(error).__name__}: {_shorten(str(error))}\n"
                f"{self._student_frames(error)}"
            )
        pytest.fail(lesson, pytrace=False)

    def _student_frames(self, error: BaseException) -> str:
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if Path(frame.filename).resolve() == self.path.resolve()
        ]
        if not frames:
            return "  (raised inside a library your code called; check the arguments you passed it)"
        lines = [f"  {self.target}/{self.exercise.file_name}, line {f.lineno}, in {f.name}: {f.line}" for f in frames]
        return "Your code, innermost call last:\n" + "\n".join(lines)


def _shorten(text: str, max_lines: int = 12) -> str:
    lines = text.strip().splitlines()
    if len(lines) <= max_lines:
        return "\n  ".join(lines)
    return "\n  ".join(lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines)"])


def _call_timeout() -> int:
    return int(os.environ.get(CALL_TIMEOUT_ENVIRONMENT_VARIABLE, DEFAULT_CALL_TIMEOUT_SECONDS))


class _time_limit:
    """SIGALRM-based limit for one call (main thread on POSIX; elsewhere no limit)."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        self.active = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    @staticmethod
    def _expire(signum, frame):
        raise StudentTimeout()
