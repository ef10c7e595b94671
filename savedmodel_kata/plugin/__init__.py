"""The pytest plugin behind `pytest exercises/` and `pytest solutions/`.

One suite (tests/test_<module>.py, collected as ordinary test modules) serves
both targets; run.py decides once per run which tests run against which
target. Each test is marked with the one student function it grades
(`@pytest.mark.function("save")`) and takes the other three from solutions/,
so a mistake in `save` fails only `save`'s tests; `@pytest.mark.end_to_end`
tests chain all four. Student functions are called through `StudentCode`
(code_under_test.py), which turns a stub, an exception or a hang into a
lesson; report.py keeps every failure to what is wrong, what was expected
and where to look. The shared fixtures are in fixtures.py.

A module that does not import (a syntax error, say) fails the first test
that needs it with Python's line and caret; the module's other tests are then
skipped, each with a one-line reason pointing at that report, as a compiler
error stops rustlings: one report instead of one per test. A skipped test is
still recorded as not passed (recorder.py), so grades do not change.

A test whose graded function is still its stub (read from the module's
source, never called) fails at once with the stub's lesson: none of its
fixtures is set up (`NotSetUp` stands for each), so `pytest exercises/` on the
untouched stubs trains and exports nothing; the end-to-end test fails at the
first stub of the chain.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from savedmodel_kata import catalogue, settings
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.errors import KataError, StudentError
from savedmodel_kata.plugin import hypothesis_profiles, report
from savedmodel_kata.plugin.run import (
    KATA_TEST,
    RUN_PLAN,
    TEST_MODULE,
    ExerciseFile,
    KataTest,
    RunPlan,
    Selection,
    kata_test,
    kata_test_of,
)
from savedmodel_kata.results import Failure
from savedmodel_kata.settings import HYPOTHESIS_PROFILES, TARGETS, Settings

pytest_plugins = ["savedmodel_kata.plugin.fixtures"]


@dataclass
class NotImported:
    """A module of the code under test that failed to import in this run, and what that
    failure's report is, for the tests it stops."""

    display_path: str  # exercises/ex01_graph_mode.py
    reason: str  # one line: the skip reason of the module's other tests
    first_test: str  # the test whose report shows the error
    skipped: int = 0


# (target, exercise id) -> its import failure, for the rest of the run
NOT_IMPORTED = pytest.StashKey[dict[tuple[str, str], NotImported]]()
# the stand-in of every fixture of the running test, when its graded function is a stub
STUB_RUNNING = pytest.StashKey["NotSetUp | None"]()
# the fixtures given that stand-in while the test ran, to be finished with it
STOOD_IN = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata")
    group.addoption(
        "--target",
        choices=TARGETS,
        default=None,
        help="which code the tests in tests/ check (default: $KATA_TARGET, else exercises). "
        "Naming exercises/ or solutions/ paths instead chooses for you.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "function(name): the exercise function this test grades")
    config.addinivalue_line(
        "markers", "end_to_end: the test chains all four of the student's functions"
    )
    config.addinivalue_line(
        "markers", "hidden: an instructor's hidden test (its messages are not shown)"
    )
    profile = config.getoption("hypothesis_profile", None)
    try:
        chosen = settings.use(
            Settings.resolve(
                {
                    "target": config.getoption("--target"),
                    "hypothesis_profile": profile if profile in HYPOTHESIS_PROFILES else None,
                    "verbose": True if config.get_verbosity() > 1 else None,
                }
            )
        )
        root = find_root(Path(config.rootpath))
    except KataError as error:
        raise pytest.UsageError(str(error)) from None
    # Before Hypothesis' own plugin, which loads --hypothesis-profile if given.
    hypothesis_profiles.load(chosen.hypothesis_profile)
    handed = [p for p in config.pluginmanager.get_plugins() if isinstance(p, Selection)]
    selection = (
        handed[0]
        if handed
        else Selection.from_command_line(
            root, list(config.args), Path(config.invocation_params.dir)
        )
    )
    config.stash[RUN_PLAN] = RunPlan(root, chosen, selection)
    config.stash[NOT_IMPORTED] = {}


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(
    file_path: Path, parent: pytest.Collector
) -> Generator[None, list[pytest.Collector], list[pytest.Collector]]:
    """An exercise module the selection names stands for its tests (pytest would otherwise
    collect it as a test module of its own when named on the command line); an exercise's
    test module collected as such learns what it checks in this run."""
    collected = yield
    plan = parent.config.stash[RUN_PLAN]
    chosen = plan.exercise_file(file_path)
    if chosen is not None:
        exercise, target = chosen
        return [ExerciseFile.from_parent(parent, path=file_path, exercise=exercise, target=target)]
    for node in collected:
        if isinstance(node, pytest.Module):
            test_module = plan.test_module(node.path)
            if test_module is not None:
                node.stash[TEST_MODULE] = test_module
    return collected


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A target folder stands for the selection's exercises even where a module is missing:
    their tests run, and say it is missing."""
    report = yield
    if isinstance(collector, pytest.Directory) and report.passed:
        plan = collector.config.stash[RUN_PLAN]
        for exercise, target in plan.missing_in(collector.path):
            path = collector.path / exercise.file_name
            report.result.append(
                ExerciseFile.from_parent(collector, path=path, exercise=exercise, target=target)
            )
    return report


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    module = metafunc.definition.getparent(pytest.Module)
    test_module = module.stash.get(TEST_MODULE, None) if module is not None else None
    if test_module is not None and len(test_module.targets) > 1:
        metafunc.parametrize("target", test_module.targets, indirect=True, scope="module")


def pytest_itemcollected(item: pytest.Item) -> None:
    """Each exercise test's exercise, function and target, decided once."""
    module = item.getparent(pytest.Module)
    test_module = module.stash.get(TEST_MODULE, None) if module is not None else None
    if test_module is None:
        return
    test = kata_test(item, test_module)
    item.stash[KATA_TEST] = test
    if test.hidden:
        item.add_marker(pytest.mark.hidden)
    item.user_properties += test.user_properties()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test module collected for several targets (`pytest exercises/ solutions/`) runs its
    tests together, so what its fixtures share is set up once."""
    modules: dict[int, int] = {}
    for item in items:
        modules.setdefault(id(item.getparent(pytest.Module)), len(modules))
    items.sort(key=lambda item: modules[id(item.getparent(pytest.Module))])


class NotSetUp:
    """Stands for each fixture of a test whose graded function is still its stub: its first
    use raises the stub's lesson, as the test's first call of the stub would, without
    anything trained or exported first. The test itself still runs (Hypothesis reports its
    examples as before)."""

    # Hypothesis leaves a mock alone, as it does this: it probes a test's first argument for a
    # runner's methods (`execute_example`), which must not raise the lesson outside an example.
    hypothesis_internal_is_this_a_mock_check = True

    def __init__(self, lesson: str):
        self._lesson = lesson

    def __repr__(self) -> str:
        return "<not set up: the function is still its stub>"

    def _fail(self, *args: object, **kwargs: object) -> NoReturn:
        __tracebackhide__ = True
        raise StudentError(self._lesson, Failure.NOT_IMPLEMENTED)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):  # introspection (a pretty-printer's _repr_pretty_, say)
            raise AttributeError(name)
        self._fail()

    # ... and as a path: `tmp_path / 'name'` is a first use too.
    __call__ = __getitem__ = __iter__ = __len__ = __enter__ = _fail
    __truediv__ = __rtruediv__ = __fspath__ = _fail


def _stub_lesson(item: pytest.Item, test: KataTest) -> str | None:
    graded = (
        catalogue.EXERCISE_FUNCTIONS if test.function == catalogue.END_TO_END else (test.function,)
    )
    try:
        code = item.config.stash[RUN_PLAN].code_under_test(test.target, test.exercise)
        return code.stub_lesson(graded)
    except StudentError:
        return None  # the module does not import: its first test says why


def _module_key(test: KataTest) -> tuple[str, str]:
    return test.target, test.exercise.id


@pytest.hookimpl(tryfirst=True)  # before any fixture is set up: a skipped test costs nothing
def pytest_runtest_setup(item: pytest.Item) -> None:
    test = kata_test_of(item)
    if test is None:
        return
    not_imported = item.config.stash[NOT_IMPORTED].get(_module_key(test))
    if not_imported is not None:
        not_imported.skipped += 1
        pytest.skip(not_imported.reason)
    lesson = _stub_lesson(item, test)
    if lesson is not None and isinstance(item, pytest.Function):  # every exercise test is one
        # Filled in, pytest sets up none of them: the stub's test fails at its first use.
        stand_in = NotSetUp(lesson)
        for name in item.fixturenames:
            item.funcargs.setdefault(name, stand_in)
        item.config.stash[STUB_RUNNING] = stand_in


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> object:
    """While a stub's test runs, a fixture asked for after all (Hypothesis looks up the
    fixtures of a @given test after it ran, to check their scopes) is its stand-in: neither
    set up nor kept, so the next test sets it up for real if it needs it. It is cached as
    pytest caches a value (pytest 9.2 finishes only a fixture holding one) and finished with
    the test."""
    stand_in = request.config.stash.get(STUB_RUNNING, None)
    if stand_in is not None:
        fixturedef.cached_result = (stand_in, fixturedef.cache_key(request), None)
        request.config.stash.setdefault(STOOD_IN, []).append((fixturedef, request))
    return stand_in


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    item.config.stash[STUB_RUNNING] = None
    stood_in, item.config.stash[STOOD_IN] = item.config.stash.get(STOOD_IN, []), []
    for fixturedef, request in stood_in:
        fixturedef.finish(request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    test = kata_test_of(item)
    verbose = item.config.stash[RUN_PLAN].settings.verbose
    excinfo = call.excinfo
    failed = excinfo is not None and not excinfo.errisinstance(pytest.skip.Exception)
    if excinfo is not None and test is not None and failed and not verbose:
        # pytest would format every frame's source (25 ms a test) for the lesson to replace.
        excinfo.traceback = excinfo.traceback[:0]
    result = yield
    if test is None or call.excinfo is None:
        return result
    if result.skipped:
        if _module_key(test) in item.config.stash[NOT_IMPORTED]:
            result.user_properties.append(("failure", Failure.DOES_NOT_IMPORT.value))
        return result
    failure = report.classify(call.excinfo)
    result.user_properties.append(("failure", failure.value))
    error, _ = report.first_error(call.excinfo.value)
    if failure == Failure.DOES_NOT_IMPORT:
        _remember_not_imported(item, test, getattr(error, "line", None))
    if not verbose:
        result.longrepr = report.lesson(item, call.excinfo, failure)
    if call.when == "call":
        if failure == Failure.DOES_NOT_IMPORT:
            section = report.where_to_look_on_import(
                test.exercise, test.target, getattr(error, "line", None)
            )
        else:
            section = report.where_to_look(test.exercise, test.function, test.target)
        result.sections.append(("Where to look", section))
    return result


def _remember_not_imported(item: pytest.Item, test: KataTest, line: int | None) -> None:
    """The first import failure of a module stops the module's other tests (see the top)."""
    key = _module_key(test)
    known = item.config.stash[NOT_IMPORTED]
    if key in known:
        return
    display_path = f"{test.target}/{test.exercise.file_name}"
    at_line = f" (line {line})" if line else ""
    known[key] = NotImported(
        display_path=display_path,
        reason=f"{display_path} does not import{at_line}: see the report of {item.name}",
        first_test=item.name,
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line per module that did not import, for the tests it stopped (their skip reasons
    show only with -rs)."""
    stopped = [n for n in config.stash.get(NOT_IMPORTED, {}).values() if n.skipped]
    if stopped:
        terminalreporter.write_sep("=", "not run")
    for not_imported in stopped:
        count = not_imported.skipped
        terminalreporter.write_line(
            f"{count} other test{'s' if count > 1 else ''} of {not_imported.display_path} "
            f"skipped: it does not import, see the report of {not_imported.first_test} above.",
            yellow=True,
        )
