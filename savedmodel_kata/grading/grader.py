"""The grading engine: tasks (an exercise, its targets) run by workers, turned into results.

One engine grades a single submission and a whole class: a single submission
is a class of one (its files are the target `exercises`). Workers
(worker.py) import TensorFlow once and report every event straight into a
pipe of their own; a worker that dies (student code's os._exit, a crash in
TensorFlow, memory) or is stopped for time is judged only after every event
it sent has been read: the target whose test was running loses the rest of
that exercise, the task's other targets are graded again by a new worker.
Each worker runs in a process group of its own, so a time limit stops it and
everything it started. A grading stopped from outside (a platform's step
time limit sends SIGTERM) stops its workers the same way and still reports
what it has. Messages are cleaned of temporary paths and memory addresses,
so the same code always gets the same score and the same words.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel_kata import catalogue, results, settings
from savedmodel_kata.errors import KataError
from savedmodel_kata.grading import submission as uploads
from savedmodel_kata.grading import workspace as harness
from savedmodel_kata.grading.worker import Worker
from savedmodel_kata.results import Failure, Scores, TestResult

EXERCISE_TIME_LIMIT_SECONDS = 420
KILL_GRACE_SECONDS = 5
SUBMISSION_TARGET = "exercises"


class Stopped(KataError):
    """The grading was told to stop (SIGTERM): report what is done."""


@dataclass
class GradingResults:
    """Everything a grading found for one submission; every report is a rendering of this."""

    exercises: list[catalogue.Exercise] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the submission's files were found
    seconds: float = 0.0
    fingerprint: str = ""  # a class grading's: what the report was computed from (resuming)

    @property
    def scores(self) -> Scores:
        return results.score(self.tests, self.exercises)


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def clean(message: str, workspace: Path) -> str:
    """The same words for the same code: no temporary paths, no memory addresses."""
    text = message.replace(str(workspace), "<submission>")
    text = re.sub(r"/tmp/[\w./-]*?pytest-of-[\w-]+/[\w-]+", "<tmp>", text)
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


def _ended(returncode: int) -> str:
    if returncode == 0:
        return "the test process ended before reporting"
    if returncode == -signal.SIGKILL:
        limit = memory_limit_bytes()
        within = f" (this container allows {limit / 1024**2:.0f} MB)" if limit else ""
        return (
            "the test process was killed (SIGKILL), most likely for memory"
            f"{within}: a grading process needs about 1 GB; raise the memory limit"
        )
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the test process was killed by {name} (a crash in native code, or a signal sent)"
    return f"the test process ended abruptly (exit code {returncode})"


# --- the run: tasks, workers, deaths ------------------------------------------------------


@dataclass
class Target:
    """What came back for one target: per exercise, the tests collected and their results."""

    collected: dict[str, list[dict]] = field(default_factory=dict)
    finished: dict[str, dict[str, TestResult]] = field(default_factory=dict)
    # by exercise number: a student's problems read in exercise order, however many workers
    problems: dict[int, list[str]] = field(default_factory=dict)
    dying: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # why, in which test
    ended: set[str] = field(default_factory=set)  # exercises whose run for this target is over

    def tests(self, exercise: catalogue.Exercise) -> list[TestResult]:
        """One TestResult for every collected test: run, died in, or never reached."""
        finished = self.finished.get(exercise.id, {})
        problem, dying = self.dying.get(exercise.id, ("", None))
        tests = []
        for item in self.collected.get(exercise.id, []):
            done = finished.get(item["nodeid"])
            if done is not None:
                tests.append(done)
                continue
            died_here = item["nodeid"] == dying
            tests.append(
                TestResult(
                    nodeid=item["nodeid"],
                    exercise=item["exercise"],
                    function=item["function"],
                    passed=False,
                    failure=Failure.CRASHED if died_here else Failure.NOT_RUN,
                    message=f"not run: {problem}"
                    + (" (this test was running)" if died_here else ""),
                    hidden=item["hidden"],
                    target=item["target"],
                )
            )
        return tests


def _task(exercise: int, targets) -> dict:
    # nodeids: each test's id as run -> (its target, its id in a report); running: the last
    # test started
    return {"exercise": exercise, "targets": list(targets), "nodeids": {}, "running": None}


def _without_target(nodeid: str, target: str) -> str:
    """The node id without the target's parameter: a report is per submission."""
    for shown, instead in ((f"[{target}]", ""), (f"[{target}-", "["), (f"-{target}]", "]")):
        if nodeid.endswith("]") and shown in nodeid:
            return nodeid.replace(shown, instead, 1)
    return nodeid


class Engine:
    """Tasks run by `workers` processes, every event judged as it comes."""

    def __init__(self, root: Path, workers: int, time_limit: float, time_budget: float | None):
        self.root, self.count = root, max(1, workers)
        self.time_limit, self.time_budget = time_limit, time_budget
        self.started = time.monotonic()
        chosen = settings.current().replace(
            root=root,
            target=SUBMISSION_TARGET,
            hypothesis_profile="kata-grading",
            hidden_tests=(
                root / harness.HIDDEN_TESTS_FOLDER
                if (root / harness.HIDDEN_TESTS_FOLDER).is_dir()
                else None
            ),
        )
        self.environment = {
            **{name: value for name, value in os.environ.items() if not name.startswith("KATA_")},
            **chosen.environment(),
            "PYTHONPATH": str(root),  # the pristine harness's own package
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.targets: dict[str, Target] = {}
        self.workers: list[Worker] = []
        self.selector = selectors.DefaultSelector()
        self.queue: list[dict] = []
        self.running: dict[Worker, dict] = {}
        self.on_done: Callable | None = None
        self._spawned = 0
        self.closed = False

    def _start_worker(self) -> Worker:
        self._spawned += 1
        worker = Worker(self.root, self.environment, self.root / f"worker-{self._spawned}.log")
        self.workers.append(worker)
        self.selector.register(worker, selectors.EVENT_READ)
        return worker

    def _limit(self) -> float:
        """A task's time: the time limit per target, and its share of what is left of the budget."""
        if self.time_budget is None:
            return self.time_limit
        waiting = len(self.queue) + 1 + len(self.running)
        left = self.time_budget - (time.monotonic() - self.started)
        return max(1.0, min(self.time_limit, left / waiting))

    def run(
        self,
        tasks: list[tuple[int, tuple[str, ...]]],
        on_done: Callable | None = None,
        keep_workers: bool = False,
    ):
        """Run every task; `on_done(exercise, targets)` as targets end an exercise (a report
        written then survives a later kill). Returns the targets' findings, this run's only.
        `keep_workers`: idle workers stay for the next run, until close() (a cluster's worker
        grades task after task with one TensorFlow import: cluster.py)."""
        self.on_done = on_done
        self.targets = {}
        self.queue = [_task(e, t) for e, t in tasks]
        for _, targets in tasks:
            for target in targets:
                self.targets.setdefault(target, Target())
        try:
            while self.queue or self.running:
                self._dispatch()
                for key, _ in self.selector.select(timeout=1.0):
                    self._read(key.fileobj)
                self._stop_overdue()
        except Stopped as stopped:
            for task in self.running.values():
                for target in task["targets"]:
                    self.targets[target].problems.setdefault(task["exercise"], []).append(
                        f"exercise {task['exercise']}: {stopped}"
                    )
                    exercise = catalogue.by_number(task["exercise"]).id
                    self.targets[target].collected.pop(exercise, None)
                    self.targets[target].finished.pop(exercise, None)
                    self.targets[target].ended.add(exercise)
        finally:
            if not keep_workers or self.running:  # stopped or failed: its workers end too
                self.close()
        return self.targets

    def _dispatch(self) -> None:
        """Tasks to idle workers. A worker grades only the targets it graded before: a student's
        code runs in its worker's process and could change how that process reports, so no
        other student's tests ever run there (an idle worker of other students is retired)."""
        while self.queue and (len(self.running) < self.count):
            task = self.queue.pop(0)
            targets = frozenset(task["targets"])
            idle = next(
                (
                    w
                    for w in self.workers
                    if w.task is None and w.alive() and w.served in (None, targets)
                ),
                None,
            )
            if idle is None:
                self._retire_idle(keep=self.count - len(self.running) - 1)
                idle = self._start_worker()
            task["limit"] = self._limit() * len(task["targets"])
            if not idle.send(task, time.monotonic()):  # it died idle: its end is judged apart
                self.queue.insert(0, task)
                continue
            self.running[idle] = task

    def _retire_idle(self, keep: int) -> None:
        """End idle workers beyond `keep`, the oldest first: each holds a TensorFlow."""
        idle = [w for w in self.workers if w.task is None]
        for worker in idle[: max(0, len(idle) - keep)]:
            self.selector.unregister(worker)
            self.workers.remove(worker)
            worker.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=10)
            _stop_group(worker)
            worker.events.close()

    def _read(self, worker: Worker) -> None:
        events = worker.read()
        if events is None:  # the pipe's end: every event it sent has been read
            self._judge_death(worker)
            return
        task = worker.task
        for event in events:
            kind = event["event"]
            if kind == "collected":
                for item in event["tests"]:
                    shown = _without_target(item["nodeid"], item["target"])
                    task["nodeids"][item["nodeid"]] = (item["target"], shown)
                    item["nodeid"] = shown
                for target in task["targets"]:
                    found = self.targets[target]
                    for exercise in {t["exercise"] for t in event["tests"]}:
                        found.collected[exercise] = [
                            t
                            for t in event["tests"]
                            if t["target"] == target and t["exercise"] == exercise
                        ]
                        found.finished[exercise] = {}
            elif kind == "started":
                task["running"] = event["nodeid"]
            elif kind == "result":
                result = TestResult.from_json(event["result"])
                shown = _without_target(result.nodeid, result.target)
                message = clean(result.message, self.root)
                finished = self.targets[result.target].finished.setdefault(result.exercise, {})
                finished[shown] = TestResult(
                    **{**result.__dict__, "nodeid": shown, "message": message}
                )
            elif kind == "done":
                for target in task["targets"]:
                    self.targets[target].problems.setdefault(task["exercise"], []).extend(
                        clean(e, self.root) for e in event["errors"]
                    )
                del self.running[worker]
                worker.task = None
                self._ended(task["exercise"], task["targets"])

    def _stop_overdue(self) -> None:
        """A task past its time (a call stuck in C code) loses its worker, and a worker that
        ended leaves nothing of its group behind: either way the pipe ends and the death is
        judged."""
        now = time.monotonic()
        for worker, task in self.running.items():
            if worker.process.poll() is not None:
                _signal_group(worker, signal.SIGKILL)
            elif worker.stopped_because is None and now - worker.started_at > task["limit"]:
                worker.stopped_because = (
                    f"the tests did not finish within {task['limit']:.0f} s and were stopped"
                )
                worker.started_at = now  # from now on: the grace before SIGKILL
                _signal_group(worker, signal.SIGTERM)
            elif (
                worker.stopped_because is not None and now - worker.started_at > KILL_GRACE_SECONDS
            ):
                _signal_group(worker, signal.SIGKILL)

    def _judge_death(self, worker: Worker) -> None:
        """The target whose test was running loses the rest of the exercise; the task's other
        targets without a result go back in the queue."""
        self.selector.unregister(worker)
        self.workers.remove(worker)
        _stop_group(worker)
        worker.close()
        worker.events.close()
        task = self.running.pop(worker, None)
        if task is None:
            return
        exercise = catalogue.by_number(task["exercise"])
        target, dying = task["nodeids"].get(task.get("running"), (task["targets"][0], None))
        victim = self.targets[target]
        if dying in victim.finished.get(exercise.id, {}):
            dying = None  # it had finished: the process died between tests
        problem = worker.stopped_because or _ended(worker.process.returncode)
        where = f" in {dying.split('::')[-1]}" if dying else ""
        victim.problems.setdefault(exercise.number, []).append(
            f"exercise {exercise.number}: {problem}{where}; its remaining tests score 0"
        )
        victim.dying[exercise.id] = (problem, dying)
        again = [
            t
            for t in task["targets"]
            if t != target and not self.targets[t].finished.get(exercise.id)
        ]
        if again:
            self.queue.insert(0, _task(task["exercise"], again))
        self._ended(task["exercise"], [t for t in task["targets"] if t not in again])

    def _ended(self, exercise: int, targets: list[str]) -> None:
        for target in targets:
            self.targets[target].ended.add(catalogue.by_number(exercise).id)
        if self.on_done:
            self.on_done(exercise, targets)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for worker in list(self.workers):
            if worker.task is not None:  # stopped from outside: no time to finish its task
                _stop_group(worker)
            worker.close()
        deadline = time.monotonic() + 10
        for worker in list(self.workers):
            with contextlib.suppress(subprocess.TimeoutExpired):  # lingering: stopped below
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _stop_group(worker)
            worker.events.close()
        self.selector.close()


def _signal_group(worker: Worker, sent: int) -> bool:
    try:
        os.killpg(worker.process.pid, sent)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _stop_group(worker: Worker) -> None:
    """SIGTERM to the worker's process group, SIGKILL if it lingers; the worker reaped."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        if not _signal_group(worker, sent):
            break
        try:
            worker.process.wait(timeout=KILL_GRACE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.process.wait(timeout=KILL_GRACE_SECONDS)


def results_of(
    found: Target, exercises: list[catalogue.Exercise], root: Path, target: str
) -> tuple[list[TestResult], list[str]]:
    """A target's results and problems; an exercise whose run ended without a single result,
    though it has a file, is said so."""
    tests = [test for exercise in exercises for test in found.tests(exercise)]
    problems = [p for exercise in exercises for p in found.problems.get(exercise.number, [])]
    for exercise in exercises:
        if (
            exercise.id in found.ended
            and (root / target / exercise.file_name).is_file()
            and not any(t.exercise == exercise.id for t in tests)
            and not any(p.startswith(f"exercise {exercise.number}: ") for p in problems)
        ):
            problems.append(f"exercise {exercise.number}: no test result came back")
    return tests, problems


# --- one submission: a class of one --------------------------------------------------------


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
                compare_with=found.repository(submission),
            )  # fmt: skip
        if time_budget is not None:  # what staging the workspace took is spent
            time_budget -= time.perf_counter() - started
        engine = Engine(workspace, 1, time_limit, time_budget)

        def take(*_) -> None:
            findings = engine.targets.get(SUBMISSION_TARGET, Target())
            graded.tests, graded.problems = results_of(
                findings, exercises, workspace, SUBMISSION_TARGET
            )
            graded.seconds = time.perf_counter() - started

        def progress(*_) -> None:
            take()
            if on_progress:
                on_progress(graded)

        present = [e for e in exercises if (workspace / SUBMISSION_TARGET / e.file_name).is_file()]
        engine.run([(e.number, (SUBMISSION_TARGET,)) for e in present], on_done=progress)
        take()
    return graded


def stop_on_sigterm() -> None:
    """Make SIGTERM (a platform's time limit) stop the grading cleanly, reporting what is done."""

    def stop(signum, frame):
        raise Stopped("grading was stopped from outside (a platform's time limit?)")

    signal.signal(signal.SIGTERM, stop)
