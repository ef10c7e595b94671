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
"""

from __future__ import annotations

from pathlib import Path

import pytest

from savedmodel_kata import catalogue, settings
from savedmodel_kata.catalogue import END_TO_END
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.errors import KataError
from savedmodel_kata.plugin import hypothesis_profiles, report
from savedmodel_kata.plugin.run import RUN, KataRun, exercise_of_test_file
from savedmodel_kata.settings import HYPOTHESIS_PROFILES, TARGETS, Settings

pytest_plugins = ["savedmodel_kata.plugin.fixtures"]


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    result = yield
    properties = dict(item.user_properties)
    if "exercise" not in properties or call.excinfo is None or result.skipped:
        return result
    failure = report.classify(call.excinfo)
    result.user_properties.append(("failure", failure.value))
    if not item.config.stash[RUN].settings.verbose:
        result.longrepr = report.lesson(item, call.excinfo, failure)
    if call.when == "call":
        exercise = catalogue.by_id(properties["exercise"])
        section = report.where_to_look(exercise, properties["function"], properties["target"])
        result.sections.append(("Where to look", section))
    return result
