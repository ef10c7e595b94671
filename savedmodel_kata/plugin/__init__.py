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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from savedmodel_kata import catalogue, settings
from savedmodel_kata.catalogue import END_TO_END
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.errors import KataError
from savedmodel_kata.plugin import hypothesis_profiles, report
from savedmodel_kata.plugin.run import RUN, KataRun, exercise_of_test_file
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


def pytest_addoption(parser):
    group = parser.getgroup("kata")
    group.addoption(
        "--target",
        choices=TARGETS,
        default=None,
        help="which code the tests in tests/ check (default: $KATA_TARGET, else exercises). "
        "Naming exercises/ or solutions/ paths instead chooses for you.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
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
    run = KataRun.plan(root, chosen, list(config.args), Path(config.invocation_params.dir))
    config.args[:] = run.args
    config.stash[RUN] = run
    config.stash[NOT_IMPORTED] = {}


def pytest_generate_tests(metafunc):
    if "target" not in metafunc.fixturenames:
        return
    targets = metafunc.config.stash[RUN].targets_for(metafunc.definition.path)
    if len(targets) > 1:
        metafunc.parametrize("target", targets, indirect=True, scope="module")


def target_of(item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "target" in callspec.params:
        return callspec.params["target"]
    return item.config.stash[RUN].targets_for(item.path)[0]


def pytest_collection_modifyitems(config, items):
    run = config.stash[RUN]
    for item in items:
        exercise = exercise_of_test_file(item.path)
        if exercise is None:
            continue
        marks = [mark.args[0] for mark in item.iter_markers("function")]
        end_to_end = item.get_closest_marker("end_to_end") is not None
        if len(marks) + end_to_end != 1 or any(
            name not in catalogue.EXERCISE_FUNCTIONS for name in marks
        ):
            raise pytest.UsageError(
                f"{item.nodeid}: mark it with exactly one of @pytest.mark.function(name) "
                f"(name in {catalogue.EXERCISE_FUNCTIONS}) or @pytest.mark.end_to_end"
            )
        hidden = run.is_hidden(item.path)
        if hidden:
            item.add_marker(pytest.mark.hidden)
        item.user_properties += [
            ("exercise", exercise.id),
            ("function", marks[0] if marks else END_TO_END),
            ("target", target_of(item)),
            ("hidden", hidden),
        ]


def _module_key(item) -> tuple[str, str] | None:
    properties = dict(item.user_properties)
    if "exercise" not in properties:
        return None
    return properties["target"], properties["exercise"]


@pytest.hookimpl(tryfirst=True)  # before any fixture is set up: a skipped test costs nothing
def pytest_runtest_setup(item):
    key = _module_key(item)
    not_imported = item.config.stash[NOT_IMPORTED].get(key) if key else None
    if not_imported is not None:
        not_imported.skipped += 1
        pytest.skip(not_imported.reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    result = yield
    properties = dict(item.user_properties)
    if "exercise" not in properties or call.excinfo is None:
        return result
    if result.skipped:
        if _module_key(item) in item.config.stash[NOT_IMPORTED]:
            result.user_properties.append(("failure", Failure.DOES_NOT_IMPORT.value))
        return result
    failure = report.classify(call.excinfo)
    result.user_properties.append(("failure", failure.value))
    exercise = catalogue.by_id(properties["exercise"])
    error, _ = report.first_error(call.excinfo.value)
    if failure == Failure.DOES_NOT_IMPORT:
        _remember_not_imported(item, exercise, getattr(error, "line", None))
    if not item.config.stash[RUN].settings.verbose:
        result.longrepr = report.lesson(item, call.excinfo, failure)
    if call.when == "call":
        if failure == Failure.DOES_NOT_IMPORT:
            section = report.where_to_look_on_import(
                exercise, properties["target"], getattr(error, "line", None)
            )
        else:
            section = report.where_to_look(exercise, properties["function"], properties["target"])
        result.sections.append(("Where to look", section))
    return result


def _remember_not_imported(item, exercise: catalogue.Exercise, line: int | None) -> None:
    """The first import failure of a module stops the module's other tests (see the top)."""
    key = _module_key(item)
    known = item.config.stash[NOT_IMPORTED]
    if key in known:
        return
    display_path = f"{key[0]}/{exercise.file_name}"
    at_line = f" (line {line})" if line else ""
    known[key] = NotImported(
        display_path=display_path,
        reason=f"{display_path} does not import{at_line}: see the report of {item.name}",
        first_test=item.name,
    )


def pytest_terminal_summary(terminalreporter, config):
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
