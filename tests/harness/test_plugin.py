"""The plugin: plain collection, one plan per run, the same report however a test is reached."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from savedmodel_kata import catalogue

ROOT = Path(__file__).resolve().parents[2]
EX1_FILE = catalogue.exercises()[0].file_name
BARE_ASSERT_TEST = """

@pytest.mark.function("evaluate")
def test_evaluate_bare_assert_for_the_harness(student):
    doubled = 1 + 1
    assert doubled == 3
"""


@pytest.fixture
def kata_with_a_bare_assert(tmp_path):
    """A scratch kata whose exercise-1 tests end with a test failing on a bare assert."""
    for folder in ("solutions", "exercises"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    (tmp_path / "tests").mkdir()
    source = (ROOT / "tests" / "test_ex01_graph_mode.py").read_text()
    (tmp_path / "tests" / "test_ex01_graph_mode.py").write_text(source + BARE_ASSERT_TEST)
    (tmp_path / "conftest.py").symlink_to(ROOT / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def failure_report(root: Path, *arguments: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KATA_")}
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", *arguments, "-p", "no:cacheprovider", "-k", "bare_assert"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 1, finished.stdout + finished.stderr
    section = re.search(
        r"_{3,} test_evaluate_bare_assert_for_the_harness _{3,}\n(.*?)\n={3,}",
        finished.stdout,
        re.S,
    )
    assert section, finished.stdout
    return section.group(1)


def test_a_bare_assert_teaches_the_same_under_both_ways_of_running(kata_with_a_bare_assert):
    root = kata_with_a_bare_assert
    by_exercise = failure_report(root, "exercises/ex01_graph_mode.py")
    by_test_file = failure_report(root, "tests/test_ex01_graph_mode.py", "--target", "exercises")
    assert by_exercise == by_test_file
    # Assertion rewriting is on: the operands are shown, with where the check is.
    assert "assert 2 == 3" in by_exercise
    assert "(checked at test_ex01_graph_mode.py:" in by_exercise
    assert "evaluate() in exercises/ex01_graph_mode.py" in by_exercise


class _Collected:
    def __init__(self):
        self.items = []
        self.args = []

    def pytest_collection_finish(self, session):
        self.items = [(item.nodeid, dict(item.user_properties)) for item in session.items]
        self.args = list(session.config.args)


@functools.cache
def collect(*arguments: str) -> list[tuple[str, dict]]:
    collected = _Collected()
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(
            [*arguments, "--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT)],
            plugins=[collected],
        )
    return collected.items


@pytest.mark.parametrize("function", [*catalogue.EXERCISE_FUNCTIONS, catalogue.END_TO_END])
def test_dash_k_and_a_function_name_selects_exactly_that_functions_tests(function):
    everything = collect(str(ROOT / "solutions"))
    marked = {nodeid for nodeid, properties in everything if properties["function"] == function}
    selected = {nodeid for nodeid, _ in collect(str(ROOT / "solutions"), "-k", function)}
    assert marked and selected == marked, (
        f"`pytest -k {function}` selects {sorted(selected ^ marked)} wrongly: name each test "
        f"test_<function>_..., with no other function's name in it or its parameters' ids"
    )


def test_both_targets_in_one_run_run_every_test_once_per_target():
    items = collect(str(ROOT / "exercises"), str(ROOT / "solutions"))
    targets = {properties["target"] for _, properties in items}
    assert targets == {"exercises", "solutions"}
    per_target = {t: sum(p["target"] == t for _, p in items) for t in targets}
    assert per_target["exercises"] == per_target["solutions"] > 0


class _FreshProcessWatcher:
    """Whether the fresh process runs once collection is done, before the run's own hooks."""

    def __init__(self):
        self.running_after_collection = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session):
        from savedmodel_kata.plugin.fixtures import the_fresh_process

        self.running_after_collection = the_fresh_process().running()


def run_exercise_1(selected: str, watcher: _FreshProcessWatcher) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        exercise_1 = str(ROOT / "solutions" / EX1_FILE)
        options = ["-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
        code = pytest.main([exercise_1, "-k", selected, *options], plugins=[watcher])
    assert code == 0


def test_the_fresh_process_starts_with_collection_and_stays_only_if_a_test_reloads():
    from savedmodel_kata.plugin.fixtures import the_fresh_process

    no_reload, reload = "create_model_has_the_tutorials_parameters", "reloaded_elsewhere"
    process = the_fresh_process()
    process.close()
    watcher = _FreshProcessWatcher()
    run_exercise_1(no_reload, watcher)
    # Started while the test module was collected (its import overlaps this process's)...
    assert watcher.running_after_collection
    # ...and stopped by a run none of whose tests reloads.
    assert not process.running()
    run_exercise_1(reload, watcher)
    assert process.running()
    # Kept by a later run that does not reload, as `kata watch` reruns one function's tests.
    run_exercise_1(no_reload, watcher)
    assert process.running()
    # Collecting alone starts nothing, even tests that reload.
    process.close()
    collect(str(ROOT / "solutions" / EX1_FILE), "-k", reload)
    assert not process.running()


def test_code_that_changes_what_it_is_given_fails_only_its_own_target(kata_copy):
    # exercises/ holds exercise 1's reference but for an evaluate that resets the variables of
    # the session it is given: in a run of both targets, only the exercises/ tests may fail.
    source = (ROOT / "solutions" / EX1_FILE).read_text()
    reset = "    sess.run(tf.compat.v1.global_variables_initializer())\n"
    planted = source.replace("    one_hot_labels = np.eye(", reset + "    one_hot_labels = np.eye(")
    assert planted != source
    (kata_copy / "exercises" / EX1_FILE).write_text(planted)
    both = [f"exercises/{EX1_FILE}", f"solutions/{EX1_FILE}"]
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", *both, "-k", "evaluate", "-q", "-p", "no:cacheprovider"],
        cwd=kata_copy,
        capture_output=True,
        text=True,
    )
    failed = re.findall(r"^FAILED \S+\[(\w+)\]", finished.stdout, re.M)
    assert failed and set(failed) == {"exercises"}, finished.stdout[-3000:]


def test_pytests_arguments_stay_as_typed_and_the_exercise_file_stands_for_its_tests():
    collected = _Collected()
    typed = f"{ROOT / 'exercises' / EX1_FILE}::test_end_to_end_with_all_your_functions"
    options = ["--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main([typed, *options], plugins=[collected])
    assert collected.args == [typed]
    ((nodeid, properties),) = collected.items
    assert nodeid == f"tests/test_{EX1_FILE}::test_end_to_end_with_all_your_functions"
    assert (properties["exercise"], properties["target"]) == ("ex01", "exercises")


def test_the_end_to_end_test_fails_at_once_at_the_first_stub_of_the_chain(kata_copy):
    # Exercise 1's reference, but for a save that is still a stub (defined again at the end).
    from savedmodel_kata.plugin.in_process import run_tests
    from savedmodel_kata.results import Failure

    source = (ROOT / "solutions" / EX1_FILE).read_text()
    stub = '\n\ndef save(sess, tensors, export_dir):\n    raise NotImplementedError("see hint 1")\n'
    (kata_copy / "exercises" / EX1_FILE).write_text(source + stub)
    recorder = run_tests(kata_copy, [catalogue.by_number(1)], select="end_to_end")
    ((result,),) = [recorder.results]
    assert result.failure == Failure.NOT_IMPLEMENTED, result.message
    assert result.message.startswith(
        f"exercises/{EX1_FILE}: save() is not implemented yet.\n  see hint 1"
    )
    assert result.seconds < 1, "the student's create_model was trained before save's stub"


def test_a_missing_exercise_module_fails_its_own_tests_only(kata_copy):
    from savedmodel_kata.plugin.in_process import run_tests
    from savedmodel_kata.results import Failure

    (kata_copy / "exercises" / EX1_FILE).unlink()
    exercise_1, exercise_2 = catalogue.by_number(1), catalogue.by_number(2)
    recorder = run_tests(kata_copy, [exercise_1, exercise_2], select="create_model")
    assert not recorder.errors, recorder.errors
    by_exercise = {
        e.id: [r for r in recorder.results if r.exercise == e.id] for e in (exercise_1, exercise_2)
    }
    assert by_exercise["ex01"] and by_exercise["ex02"]
    # As a module that does not import: the first test says why, the others are skipped.
    assert f"exercises/{EX1_FILE} is missing" in by_exercise["ex01"][0].message
    assert {r.failure for r in by_exercise["ex01"]} == {Failure.DOES_NOT_IMPORT}
    assert all("is not implemented yet" in r.message for r in by_exercise["ex02"])
