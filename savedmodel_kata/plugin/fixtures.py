"""The fixtures every exercise's tests share: same names, same shapes, any kind.

Everything here goes through the exercise's kind (savedmodel_kata/kinds/),
so a test module reads the same whatever the exercise:

    exercise, target, kind      the catalogue entry, exercises|solutions, its Kind
    student, reference          the code under test (StudentCode) and the reference module
    mnist                       the bundled digits (mnist.Digits), read-only
    reference_trained           the reference trained from its seeded start (kinds.Trained), cached
    trained_snapshot            every trained value, taken before any student code runs
    trained_copy()              a private live copy of the trained reference
    before_save                 BeforeSave: what the trained model computes on the test digits
    reference_export            the trained model exported by the reference's save (kinds.Export)
    reference_loaded(key)       that export reloaded by the reference's loader (kinds.Loaded)
    student_export()            the trained model exported by the student's save, then moved
    fresh_process               reloads exports in an isolated Python process (FreshProcess)
    student_model()             the student's create_model, seeded, untrained
    student_trained()           the student's create_model trained from the reference's start
    student_trained_own()       the student's create_model trained from its own start
                                (both cached in the student's own scope: code under test never
                                writes an entry the reference or another submission reads)
    new_export_dir()            a path that does not exist yet

Functions of the student's are called inside tests, never in fixtures, so a
stub fails each test with its lesson instead of erroring in setup; `memo`
keeps each result for the module.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import pytest

from savedmodel_kata import catalogue, kinds
from savedmodel_kata.code_under_test import StudentCode, find_root, import_exercise, only_stubs
from savedmodel_kata.errors import CatalogueError
from savedmodel_kata.kinds import cache
from savedmodel_kata.kinds.base import Export, Kind, Loaded, Score, Trained, Weights
from savedmodel_kata.kinds.training import Snapshot
from savedmodel_kata.mnist import Digits, bundled_digits
from savedmodel_kata.plugin.fresh_process import FreshProcess, relocate
from savedmodel_kata.plugin.run import (
    RUN_PLAN,
    TEST_MODULE,
    ExerciseFile,
    TestModule,
    kata_test_of,
)


class BeforeSave(NamedTuple):
    """The trained reference on the test digits, before any export."""

    probabilities: np.ndarray  # [2000, 10] softmax
    score: Score  # correct predictions among the test digits
    weights: Weights  # trainable weights by shape

    def __repr__(self) -> str:  # Hypothesis prints fixtures with a falsifying example
        return f"<before save: {self.score}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class Memo(dict[str, Any]):
    """Student results computed inside tests (so a stub fails the test, not a fixture),
    kept per module."""

    def remember(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self:
            self[key] = compute()
        return self[key]

    def __repr__(self) -> str:
        return f"<memo of {', '.join(self) or 'nothing yet'}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@pytest.fixture(scope="session")
def kata_root(pytestconfig: pytest.Config) -> Path:
    return find_root(Path(pytestconfig.rootpath))


@pytest.fixture(scope="session")
def mnist() -> Digits:
    return bundled_digits()


def _test_module(request: pytest.FixtureRequest) -> TestModule:
    """What the requesting test module checks in this run (the plan's, kept on the module)."""
    module = request.node.getparent(pytest.Module)
    found = module.stash.get(TEST_MODULE, None) if module is not None else None
    if found is None:
        raise pytest.UsageError(f"{request.path} is not the test module of a catalogue exercise")
    return found


@pytest.fixture(scope="module")
def exercise(request: pytest.FixtureRequest) -> catalogue.Exercise:
    return _test_module(request).exercise


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest) -> str:
    """exercises or solutions: parametrized when a run checks both."""
    if hasattr(request, "param"):
        return str(request.param)
    return _test_module(request).targets[0]


@pytest.fixture(scope="module")
def kind(kata_root: Path, exercise: catalogue.Exercise) -> Kind:
    return exercise_kind(kata_root, exercise)


def exercise_kind(root: Path, exercise: catalogue.Exercise) -> Kind:
    """The exercise's kind, handed the reference model of the exercise it builds on (the
    catalogue's `builds_on`), from `root`'s solutions/: the kinds never look for a repository.
    What the fixtures, `kata train` and the cache warmer use alike."""
    kind = kinds.for_exercise(exercise)
    if exercise.builds_on is None:
        return kind
    from savedmodel_kata.kinds.serving import ServingKind  # TensorFlow's kinds: only when needed

    if not isinstance(kind, ServingKind):
        raise CatalogueError(
            f"exercise {exercise.number} builds on exercise {exercise.builds_on}, but its kind "
            f"{kind.name} is given no other exercise's model"
        )
    foundation = catalogue.by_number(exercise.builds_on)
    return kind.built_on(import_exercise(root, "solutions", foundation).create_model)


@pytest.fixture(scope="module")
def student(
    request: pytest.FixtureRequest, target: str, exercise: catalogue.Exercise
) -> StudentCode:
    """The code under test, wrapped to explain its failures: the one the plugin looked at for
    stubs, so the student's module is imported once a run."""
    return request.config.stash[RUN_PLAN].code_under_test(target, exercise)


@pytest.fixture(autouse=True)
def _only_the_graded_function(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked function(f) may call only the student's f: enforced, not assumed."""
    test = kata_test_of(request.node)
    if test is None or "student" not in request.fixturenames:
        yield
        return
    student = request.getfixturevalue("student")
    student.graded = test.function
    yield
    student.graded = None


@pytest.fixture(scope="module")
def reference(kata_root: Path, exercise: catalogue.Exercise) -> ModuleType:
    """The reference solution's module, used for every function a test does not grade."""
    return import_exercise(kata_root, "solutions", exercise)


@pytest.fixture(scope="module")
def memo(target: str) -> Memo:
    """Per module and target: a run that checks several targets keeps their results apart."""
    return Memo()


_export_numbers = itertools.count()


@pytest.fixture(scope="module")
def new_export_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """A factory of paths that do not exist yet (SavedModel exporters refuse existing folders)."""
    return lambda: tmp_path_factory.mktemp("export") / f"model-{next(_export_numbers)}"


class WarmReference(NamedTuple):
    """The reference's trained model and what is derived from it, kept for the process."""

    trained: Trained
    snapshot: Snapshot
    before_save: BeforeSave
    export: Export  # in a folder of the process's own (pytest's go with each run)
    folder: Path  # where the export was written; tests get copies (reference_export)


# (exercise id, the reference's source) -> WarmReference. `kata watch`, `kata status`, the
# meta-tests and a class's grading run pytest many times in one process: the reference is
# trained (or restored), exported and measured once, not once a run.
_warm: dict[tuple[str, str], WarmReference] = {}


def warm_reference(
    kind: Kind, exercise: catalogue.Exercise, reference: ModuleType, mnist: Digits
) -> WarmReference:
    assert reference.__file__ is not None  # imported from its file (import_exercise)
    source = Path(reference.__file__).read_bytes()
    key = (exercise.id, hashlib.sha256(source).hexdigest())
    if key not in _warm:
        trained = kind.train(reference.create_model, mnist)
        snapshot = kind.snapshot(trained.model)
        model = trained.model
        before = BeforeSave(
            probabilities=kind.predict(model, mnist.test_images),
            score=kind.score(model, mnist.test_images, mnist.test_labels),
            weights=kind.weights(model),
        )
        folder = Path(tempfile.mkdtemp(prefix=f"kata-reference-{exercise.id}-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        copy = kind.copy(reference.create_model, snapshot)
        try:
            export = kind.export(reference.save, copy, folder / "model")
        finally:
            kind.close(copy)
        _warm[key] = WarmReference(trained, snapshot, before, export, folder)
    return _warm[key]


@pytest.fixture(scope="module")
def warm(
    kind: Kind, exercise: catalogue.Exercise, reference: ModuleType, mnist: Digits
) -> WarmReference:
    return warm_reference(kind, exercise, reference, mnist)


@pytest.fixture(scope="module")
def reference_trained(warm: WarmReference) -> Trained:
    return warm.trained


@pytest.fixture(scope="module")
def trained_snapshot(warm: WarmReference) -> Snapshot:
    return warm.snapshot


@pytest.fixture(scope="module")
def trained_copy(
    kind: Kind, reference: ModuleType, trained_snapshot: Snapshot
) -> Iterator[Callable[[], Any]]:
    copies = []

    def copy() -> Any:
        copies.append(kind.copy(reference.create_model, trained_snapshot))
        return copies[-1]

    yield copy
    for model in copies:
        kind.close(model)


@pytest.fixture(scope="module")
def before_save(warm: WarmReference) -> BeforeSave:
    return warm.before_save


@pytest.fixture(scope="module")
def reference_export(
    warm: WarmReference, target: str, tmp_path_factory: pytest.TempPathFactory
) -> Export:
    """A copy of the warm reference export, for this module and target. Code under test is
    given its path and could change or delete it: the warm one stays as trained for the next
    run in this process (`kata watch`, the next student of a class)."""
    # A target may be a folder path (the gate's mutants/ex01-case): one name part of it.
    folder = tmp_path_factory.mktemp("reference-" + target.replace("/", "-"))
    return copied_export(warm.export, warm.folder, folder)


def copied_export(export: Export, written_in: Path, folder: Path) -> Export:
    """`export`, written somewhere in `written_in` (its SavedModel folder, the .keras file
    beside it, a serving base around it), copied into `folder` at the same relative paths."""
    shutil.copytree(written_in, folder, dirs_exist_ok=True)
    moved = lambda path: folder / Path(path).relative_to(written_in)  # noqa: E731
    return Export(moved(export.directory), export.keras_file and moved(export.keras_file))


@pytest.fixture(scope="module")
def reference_loaded(
    kind: Kind, reference: ModuleType, reference_export: Export, target: str
) -> Iterator[Callable[..., Loaded]]:
    """reference_loaded(key): the reference export reloaded afresh by the reference's loader.
    reference_loaded(key, shared=True): one such reload kept for the module and target, for the
    examples of a Hypothesis test (a reload costs 0.1 to 0.3 s; an example's call 0.01 s).
    Per target: code under test that changes what it is given (a TF1 session's variables,
    say) must not reach another target's tests, in a run that checks several."""
    loaded: list[Loaded] = []
    shared_by_key: dict[str, Loaded] = {}

    def load(key: str, shared: bool = False) -> Loaded:
        if shared and key in shared_by_key:
            return shared_by_key[key]
        loaded.append(kind.load(reference.load_signature_tensors, reference_export.directory, key))
        if shared:
            shared_by_key[key] = loaded[-1]
        return loaded[-1]

    yield load
    for each in loaded:
        each.close()


@functools.cache
def the_fresh_process() -> FreshProcess:
    """One for the Python process: `kata watch` and the meta-tests run pytest many times, and
    each new one would cost a TensorFlow import before its first reload."""
    process = FreshProcess()
    atexit.register(process.remove)
    return process


_STARTED_BY = pytest.StashKey[bool]()


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Start the fresh process as an exercise's test module starts being collected: its
    TensorFlow import then runs on the other core while this process imports TensorFlow for
    the tests, instead of after it (every exercise's tests reload an export there)."""
    if collector.config.option.collectonly:
        return
    if not isinstance(collector, ExerciseFile) and TEST_MODULE not in collector.stash:
        return
    if isinstance(collector, ExerciseFile) and only_stubs(collector.path):
        return  # its tests fail at once (see the plugin): none reloads anything
    process = the_fresh_process()
    if not process.running():
        process.start()
        collector.config.stash[_STARTED_BY] = True


def pytest_collection_finish(session: pytest.Session) -> None:
    """A run whose selected tests never reload (`-k create_model`, say) stops the process it
    started; one kept warm by an earlier run in this Python process (`kata watch`) stays."""
    wanted = any("fresh_process" in getattr(item, "fixturenames", ()) for item in session.items)
    if not wanted and session.config.stash.get(_STARTED_BY, False):
        the_fresh_process().close()


@pytest.fixture(scope="session")
def fresh_process() -> FreshProcess:
    """The fresh, isolated Python process that reloads exports (see fresh_process.py)."""
    return the_fresh_process()


@pytest.fixture(scope="module")
def student_export(
    kind: Kind,
    student: StudentCode,
    trained_copy: Callable[[], Any],
    new_export_dir: Callable[[], Path],
    memo: Memo,
) -> Callable[[], Export]:
    """The student's export, moved away from where it was written (so nothing may point there)."""

    def export() -> Export:
        written = kind.export(student.save, trained_copy(), new_export_dir())
        return relocate(written, new_export_dir())

    return lambda: memo.remember("student_export", export)


@pytest.fixture(scope="module")
def student_model(kind: Kind, student: StudentCode, memo: Memo) -> Iterator[Callable[[], Any]]:
    yield lambda: memo.remember(
        "student_model", lambda: kind.new_model(student.create_model, for_training=False)
    )
    if "student_model" in memo:
        kind.close(memo["student_model"])


@pytest.fixture(scope="module")
def student_trained(
    kind: Kind, student: StudentCode, reference: ModuleType, mnist: Digits, memo: Memo
) -> Iterator[Callable[[], Trained]]:
    def train() -> Trained:
        start = memo.remember(
            "reference_start", lambda: kind.initial_weights(reference.create_model)
        )
        return kind.train(
            student.create_model,
            mnist,
            start_from=start,
            cache_scope=cache.code_under_test(student.path),
        )

    yield lambda: memo.remember("student_trained", train)
    if "student_trained" in memo:
        kind.close(memo["student_trained"].model)


@pytest.fixture(scope="module")
def student_trained_own(
    kind: Kind, student: StudentCode, mnist: Digits, memo: Memo
) -> Iterator[Callable[[], Trained]]:
    """The student's create_model trained from its own (seeded) initial weights."""
    scope = cache.code_under_test(student.path)
    yield lambda: memo.remember(
        "student_trained_own", lambda: kind.train(student.create_model, mnist, cache_scope=scope)
    )
    if "student_trained_own" in memo:
        kind.close(memo["student_trained_own"].model)
