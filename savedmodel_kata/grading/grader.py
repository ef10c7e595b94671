"""Grade a submission: each exercise in a worker process, the journals turned into one result.

Code that hangs, kills the interpreter or exhausts memory loses only its own
exercise's remaining points: the worker's journal says what ran and where
it died, and the report still comes out. Each worker runs in a process group
of its own, so a time limit stops it and everything it started. A grading
stopped from outside (a platform's step time limit sends SIGTERM) stops its
worker the same way and still reports what it has. Messages are cleaned of
temporary paths and memory addresses, so the same code always gets the same
score and the same words.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel_kata import catalogue, results, settings
from savedmodel_kata.errors import KataError
from savedmodel_kata.grading import submission as uploads
from savedmodel_kata.grading import workspace as harness
from savedmodel_kata.results import Failure, Scores, TestResult

EXERCISE_TIME_LIMIT_SECONDS = 420
MEMORY_LIMIT_BYTES = 12 * 1024**3  # address space per exercise process: refuses absurd allocations
KILL_GRACE_SECONDS = 5


class Stopped(KataError):
    """The grading was told to stop (SIGTERM): report what is done."""


@dataclass
class GradingResults:
    """Everything a grading found; every report is a rendering of this."""

    exercises: list[catalogue.Exercise] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    scores: Scores = field(default_factory=Scores)
    tampered: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the submission's files were found
    seconds: float = 0.0


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def clean(message: str, workspace: Path) -> str:
    """The same words for the same code: no temporary paths, no memory addresses."""
    text = message.replace(str(workspace), "<submission>")
    text = re.sub(r"/tmp/[\w./-]*?pytest-of-[\w-]+/[\w-]+", "<tmp>", text)
    text = re.sub(r"(<submission>/basetemp-ex\d\d)", "<tmp>", text)
    return _ADDRESS.sub("0x…", text)


def memory_limit_bytes() -> int | None:
    """The container's memory limit (cgroup v2 or v1), if it has one."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the worker's process group, SIGKILL if it lingers."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=KILL_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def _ended(returncode: int) -> str:
    if returncode == -signal.SIGKILL:
        limit = memory_limit_bytes()
        within = f" (this container allows {limit / 1024**2:.0f} MB)" if limit else ""
        return (
            "the test process was killed (SIGKILL), most likely for memory"
            f"{within}: a grading process needs about 1 GB; raise the memory limit"
        )
    return f"the test process ended abruptly (exit code {returncode})"


def _run_worker(
    workspace: Path, exercise: catalogue.Exercise, time_limit: float
) -> tuple[list[dict], str]:
    journal = workspace / f"journal-{exercise.id}.jsonl"
    basetemp = workspace / f"basetemp-{exercise.id}"
    hidden = workspace / harness.HIDDEN_TESTS_FOLDER
    chosen = settings.current().replace(
        root=workspace,
        target="exercises",
        hypothesis_profile="kata-grading",
        hidden_tests=hidden if hidden.is_dir() else None,
    )
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("KATA_")},
        **chosen.environment(),
        "PYTHONPATH": str(workspace),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [
        sys.executable, "-m", "savedmodel_kata.grading.worker",
        str(workspace), str(exercise.number), str(journal), str(basetemp),
    ]  # fmt: skip
    problem = ""
    with open(workspace / f"output-{exercise.id}.log", "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workspace,
            env=environment,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own group: a limit stops it and all it started
            preexec_fn=_limit_memory if hasattr(os, "fork") else None,
        )
        try:
            returncode = process.wait(timeout=time_limit)
            if returncode != 0:
                problem = _ended(returncode)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            problem = f"the tests did not finish within {time_limit:.0f} s and were stopped"
        except Stopped:
            _stop_group(process)
            problem = "grading was stopped from outside (a platform's time limit?)"
            raise Stopped(problem) from None
        finally:
            if process.poll() is None:
                _stop_group(process)
    records = (
        [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    )
    if not problem and not any(r["event"] == "finished" for r in records):
        problem = "the test process ended before reporting"
    return records, problem


def _results_of(exercise, records, problem, workspace) -> tuple[list[TestResult], list[str]]:
    """One TestResult for every collected test: run, died in, or never reached."""
    finished = {
        r["result"]["nodeid"]: TestResult.from_json(r["result"])
        for r in records
        if r["event"] == "result"
    }
    started = [r["nodeid"] for r in records if r["event"] == "started"]
    problems = [clean(r["message"], workspace) for r in records if r["event"] == "error"]
    dying = started[-1] if problem and started and started[-1] not in finished else None
    if problem:
        where = f" in {dying.split('::')[-1]}" if dying else ""
        problems.append(
            f"exercise {exercise.number}: {problem}{where}; its remaining tests score 0"
        )
    tests = []
    for item in (r for r in records if r["event"] == "collected"):
        done = finished.get(item["nodeid"])
        if done is not None:
            tests.append(TestResult(**{**done.__dict__, "message": clean(done.message, workspace)}))
            continue
        died_here = item["nodeid"] == dying
        tests.append(
            TestResult(
                nodeid=item["nodeid"],
                exercise=item["exercise"],
                function=item["function"],
                passed=False,
                failure=Failure.CRASHED if died_here else Failure.NOT_RUN,
                message=f"not run: {problem}" + (" (this test was running)" if died_here else ""),
                hidden=item["hidden"],
            )
        )
    return tests, problems


def _upload_root(found: uploads.Found, submission: Path) -> Path:
    """The folder of the upload that stands for the repository (for the tampering check)."""
    for path in found.files.values():
        if path.parent.name == "exercises":
            return path.parent.parent
    return submission


def grade(
    submission: Path,
    *,
    pristine: Path | None = None,
    manifest_sha256: str | None = None,
    hidden_tests: Path | None = None,
    time_limit: float = EXERCISE_TIME_LIMIT_SECONDS,
    time_budget: float | None = None,
    exercises: list[catalogue.Exercise] | None = None,
    on_progress: Callable[[GradingResults], None] | None = None,
) -> GradingResults:
    """Grade `submission` (a repository, or any upload holding exercise files).

    Each exercise gets `time_limit` seconds, and no more than its share of
    what is left of `time_budget`; `on_progress` sees the results after each
    exercise (a report written then survives a later kill).
    """
    started = time.perf_counter()
    exercises = list(exercises or catalogue.exercises())
    graded = GradingResults(exercises=exercises)
    submission = Path(submission)
    with tempfile.TemporaryDirectory(prefix="kata-grade-") as temporary:
        workspace = Path(temporary)
        if pristine is None:  # a repository with its git history: the manifest's objects
            graded.tampered = harness.build(
                submission, workspace, manifest_sha256=manifest_sha256, hidden_tests=hidden_tests
            )
        else:
            found = uploads.find(submission)
            graded.notes = found.notes
            staged = uploads.stage(found, workspace / "submission")
            graded.tampered = harness.build(
                staged, workspace, pristine=pristine, hidden_tests=hidden_tests,
                compare_with=_upload_root(found, submission),
            )  # fmt: skip
        for index, exercise in enumerate(exercises):
            limit = time_limit
            if time_budget is not None:
                left = time_budget - (time.perf_counter() - started)
                limit = max(1.0, min(time_limit, left / (len(exercises) - index)))
            try:
                records, problem = _run_worker(workspace, exercise, limit)
            except Stopped as stopped:
                graded.problems.append(f"exercise {exercise.number}: {stopped}")
                break
            tests, problems = _results_of(exercise, records, problem, workspace)
            graded.tests += tests
            graded.problems += problems
            graded.scores = results.score(graded.tests, exercises)
            graded.seconds = time.perf_counter() - started
            if on_progress:
                on_progress(graded)
    graded.scores = results.score(graded.tests, exercises)
    graded.seconds = time.perf_counter() - started
    return graded


def stop_on_sigterm() -> None:
    """Make SIGTERM (a platform's time limit) stop the grading cleanly, reporting what is done."""

    def stop(signum, frame):
        raise Stopped("stopped by SIGTERM")

    signal.signal(signal.SIGTERM, stop)
