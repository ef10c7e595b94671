"""Running exercise tests in this process, and getting `TestResult`s back.

TensorFlow stays imported between runs (what makes `kata watch` fast), and
each run resolves its settings afresh through the plugin. `kata status`,
`kata watch`, `kata solution`, `kata grade`'s class batch, the mutation gate
and the meta-tests use this one function; it sits with the plugin, below all
of them, so none imports another's package for it.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from savedmodel_kata import catalogue, settings
from savedmodel_kata.plugin import hypothesis_profiles
from savedmodel_kata.plugin.recorder import ResultRecorder
from savedmodel_kata.plugin.run import Selection


def pytest_arguments(
    root: Path,
    exercises: list[catalogue.Exercise],
    *,
    targets: tuple[str, ...],
    first_failure_only: bool = False,
    profile: str = "kata-grading",
    select: str | None = None,
) -> list[str]:
    """pytest's command line for the tests of `exercises` against each of `targets` (what
    `run_tests` collects; it hands pytest the selection itself too)."""
    arguments = Selection.of(exercises, targets).module_paths(root)
    # pytest's unraisable-exception plugin runs gc.collect() five times at exit:
    # 0.8 s with TensorFlow's heap, on every rerun of `kata watch`.
    arguments += ["-p", "savedmodel_kata.plugin", "-p", "no:cacheprovider"]
    arguments += ["-p", "no:unraisableexception", "-q", "--rootdir", str(root)]
    arguments += ["--hypothesis-profile", profile]
    if first_failure_only:
        arguments.append("-x")
    if select:
        arguments += ["-k", select]
    return arguments


def run_tests(
    root: Path,
    exercises: list[catalogue.Exercise],
    *,
    target: str = "exercises",
    targets: tuple[str, ...] = (),
    first_failure_only: bool = False,
    profile: str = "kata-grading",
    select: str | None = None,
    plugins: tuple = (),
    recorder: ResultRecorder | None = None,
) -> ResultRecorder:
    """Run the tests of `exercises` against `target` (or each of `targets`), quietly.

    `select` is pytest's -k; `plugins` join the run (the mutation gate's selector does).
    """
    import pytest

    recorder = recorder or ResultRecorder()
    targets = targets or (target,)
    # The plan's choice, handed over as it is: the plugin need not read it back from paths.
    selection = Selection.of(exercises, targets)
    arguments = pytest_arguments(
        root,
        exercises,
        targets=targets,
        first_failure_only=first_failure_only,
        profile=profile,
        select=select,
    )
    outer = settings._current  # a run inside a pytest session (the meta-tests) leaves it as it was
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            pytest.main(arguments, plugins=[selection, recorder, *plugins])
    finally:
        if outer is not None:
            settings.use(outer)
            hypothesis_profiles.load(outer.hypothesis_profile)
    return recorder
