"""Grade a submission: each exercise in a worker process, the journals turned into one result.

Code that hangs, kills the interpreter or exhausts memory loses only its own
exercise's remaining points: the worker's journal says what ran and where
it died, and the report still comes out. Messages are cleaned of temporary
paths and memory addresses, so the same code always gets the same score and
the same words.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel_kata import catalogue, results, settings
from savedmodel_kata.grading import workspace as harness
from savedmodel_kata.results import Failure, Scores, TestResult

EXERCISE_TIME_LIMIT_SECONDS = 600
MEMORY_LIMIT_BYTES = 12 * 1024**3  # address space per exercise process; half this machine


@dataclass
class GradingResults:
    """Everything a grading found; every report is a rendering of this."""

    tests: list[TestResult] = field(default_factory=list)
    scores: Scores = field(default_factory=Scores)
    tampered: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def clean(message: str, workspace: Path) -> str:
    """The same words for the same code: no temporary paths, no memory addresses."""
    text = message.replace(str(workspace), "<submission>")
    text = re.sub(r"/tmp/[\w./-]*?pytest-of-[\w-]+/[\w-]+", "<tmp>", text)
    text = re.sub(r"(<submission>/basetemp-ex\d\d)", "<tmp>", text)
    return _ADDRESS.sub("0x…", text)


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass


def _run_worker(
    workspace: Path, exercise: catalogue.Exercise, time_limit: int
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
        try:
            finished = subprocess.run(
                command,
                cwd=workspace,
                env=environment,
                stdout=log,
                stderr=log,
                timeout=time_limit,
                preexec_fn=_limit_memory if hasattr(os, "fork") else None,
            )
            if finished.returncode != 0:
                problem = f"the test process ended abruptly (exit code {finished.returncode})"
        except subprocess.TimeoutExpired:
            problem = f"the tests did not finish within {time_limit} s and were stopped"
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


def grade(
    submission: Path,
    *,
    pristine: Path | None = None,
    manifest_sha256: str | None = None,
    hidden_tests: Path | None = None,
    time_limit: int = EXERCISE_TIME_LIMIT_SECONDS,
    exercises: list[catalogue.Exercise] | None = None,
) -> GradingResults:
    started = time.perf_counter()
    exercises = list(exercises or catalogue.exercises())
    graded = GradingResults()
    with tempfile.TemporaryDirectory(prefix="kata-grade-") as temporary:
        workspace = Path(temporary)
        graded.tampered = harness.build(
            Path(submission),
            workspace,
            pristine=pristine,
            manifest_sha256=manifest_sha256,
            hidden_tests=hidden_tests,
        )
        for exercise in exercises:
            records, problem = _run_worker(workspace, exercise, time_limit)
            tests, problems = _results_of(exercise, records, problem, workspace)
            graded.tests += tests
            graded.problems += problems
    graded.scores = results.score(graded.tests, exercises)
    graded.seconds = time.perf_counter() - started
    return graded
