"""Grading a whole class: `kata grade --class FOLDER --out DIR [--workers N]`.

FOLDER holds one folder per student, as GitHub Classroom's assistant or
Gradescope's "Export submissions" download them (a repository, a download
zip's folder, bare files: submission.find takes each as it is). Every
student's exercise files go into one pristine workspace as a target of their
own (students/<name>/), and worker processes, each importing TensorFlow once,
run an exercise's tests against a handful of students in one pytest session:
the reference's trained model, exports and fixtures are shared, the
students' are not. A worker that dies (a student's os._exit, a crash in
TensorFlow, memory) costs the student whose test was running the rest of that
exercise; the others of its batch are graded again by a new worker.

Out come DIR/<student>/ (the four reports of `kata grade`) and DIR/gradebook.csv
(student, points per function, total, tampering). A student whose files and
harness are unchanged since their report was written is not graded again, so
an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel_kata import catalogue, results, settings
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.grading import reports, submission, workspace
from savedmodel_kata.grading.grader import EXERCISE_TIME_LIMIT_SECONDS, GradingResults, clean
from savedmodel_kata.results import TestResult

STUDENTS_FOLDER = "students"
BATCH_SIZE = 6  # students an exercise's session grades at once: the fixtures' cost is shared
REPORT_FILE = "report.json"


@dataclass
class Student:
    name: str  # the folder's name, as in the gradebook
    target: str  # students/<slug>, the target the plugin runs against
    upload: Path
    found: submission.Found
    fingerprint: str = ""
    tampered: list[str] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Task:
    exercise: int
    targets: tuple[str, ...]


# --- the workers ---------------------------------------------------------------------


def _worker(root: str, tasks, events, environment: dict) -> None:
    """A worker process: import TensorFlow once, then run tasks until told to stop."""
    os.environ.update(environment)
    try:
        import resource

        from savedmodel_kata.grading.grader import MEMORY_LIMIT_BYTES

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    from savedmodel_kata.plugin.recorder import ResultRecorder
    from savedmodel_kata.runner.test_runs import run_tests
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    import_tensorflow()
    pid = os.getpid()
    while True:
        task = tasks.get()
        if task is None:
            return
        exercise = catalogue.by_number(task.exercise)

        def started(nodeid, task=task):
            events.put(("started", pid, task, nodeid))

        def finished(result, task=task):
            events.put(("result", pid, task, result.to_json()))

        recorder = ResultRecorder(on_start=started, on_result=finished)
        run_tests(Path(root), [exercise], targets=task.targets, recorder=recorder)
        events.put(("done", pid, task, recorder.errors))
        _forget_models()


def _forget_models() -> None:
    """Free what one session's models hold before the next (Keras keeps a global graph)."""
    import gc

    try:
        import keras

        keras.backend.clear_session()
    except ImportError:
        pass
    gc.collect()


class Events:
    """Workers' events, written straight into one pipe by the worker's own thread: an event
    sent before a worker dies is never lost. (A multiprocessing.Queue sends from a background
    thread, which a student's os._exit or a crash stops: under load the "started" event of the
    test that killed the worker could be lost, and the student before it blamed.)"""

    def __init__(self, context):
        self._reader, self._writer = context.Pipe(duplex=False)
        self._lock = context.Lock()  # several workers write to the one pipe

    def put(self, event) -> None:
        with self._lock:
            self._writer.send(event)

    def take(self, timeout: float) -> list:
        """Every event waiting now, after waiting up to `timeout` seconds for the first."""
        taken = []
        while self._reader.poll(timeout if not taken else 0):
            taken.append(self._reader.recv())
        return taken


class Pool:
    """Worker processes that take tasks and report events; a dead worker is replaced."""

    def __init__(self, root: Path, count: int, environment: dict):
        self.context = multiprocessing.get_context("spawn")  # no TensorFlow state forked
        self.tasks, self.events = self.context.Queue(), Events(self.context)
        self.root, self.environment = str(root), environment
        self.workers = [self._start() for _ in range(count)]

    def _start(self):
        worker = self.context.Process(
            target=_worker, args=(self.root, self.tasks, self.events, self.environment), daemon=True
        )
        worker.start()
        return worker

    def dead(self) -> list:
        """Workers that died since the last call (each replaced by a new one)."""
        gone = [w for w in self.workers if not w.is_alive()]
        for worker in gone:
            self.workers.remove(worker)
            self.workers.append(self._start())
        return gone

    def close(self) -> None:
        for _ in self.workers:
            self.tasks.put(None)
        for worker in self.workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()


# --- the run ---------------------------------------------------------------------------


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "student"
    slug, number = base, 1
    while slug in taken:
        number += 1
        slug = f"{base}_{number}"
    taken.add(slug)
    return slug


def _fingerprint(student: Student, manifest: str) -> str:
    digest = hashlib.sha256(manifest.encode())
    for key in sorted(student.found.files):
        digest.update(key.encode() + student.found.files[key].read_bytes())
    return digest.hexdigest()


def discover(folder: Path, pristine: Path, root: Path) -> list[Student]:
    """One Student per folder of `folder`, their files staged as targets of `root`."""
    taken: set[str] = set()
    students = []
    manifest = workspace.manifest(pristine)
    for upload in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = submission.find(upload)
        student = Student(
            upload.name, f"{STUDENTS_FOLDER}/{_slug(upload.name, taken)}", upload, found
        )
        student.fingerprint = _fingerprint(student, manifest)
        target = root / student.target
        target.mkdir(parents=True)
        for path in found.files.values():
            shutil.copyfile(path, target / path.name)
        repository = next(
            (p.parent.parent for p in found.files.values() if p.parent.name == "exercises"), upload
        )
        student.tampered = workspace.tampered(pristine, repository)
        students.append(student)
    return students


def _already_graded(student: Student, out: Path) -> bool:
    report = out / student.name / REPORT_FILE
    try:
        return json.loads(report.read_text()).get("fingerprint") == student.fingerprint
    except (OSError, ValueError):
        return False


def _stage_harness(pristine: Path, root: Path, hidden_tests: Path | None) -> None:
    empty = root / "empty-submission"
    (empty / "exercises").mkdir(parents=True)
    workspace.build(empty, root, pristine=pristine, hidden_tests=hidden_tests)
    shutil.rmtree(empty)


def grade_class(
    folder: Path,
    out: Path,
    *,
    pristine: Path,
    workers: int,
    hidden_tests: Path | None = None,
    exercises: list[catalogue.Exercise] | None = None,
    time_limit: float = EXERCISE_TIME_LIMIT_SECONDS,
    progress=None,
) -> list[Student]:
    exercises = list(exercises or catalogue.exercises())
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kata-class-") as temporary:
        root = Path(temporary)
        _stage_harness(pristine, root, hidden_tests)
        students = discover(folder, pristine, root)
        todo = [s for s in students if not _already_graded(s, out)]
        by_target = {s.target: s for s in todo}
        pending = [
            Task(e.number, tuple(s.target for s in todo[i : i + BATCH_SIZE]))
            for e in exercises
            for i in range(0, len(todo), BATCH_SIZE)
        ]
        if progress:
            progress.start(total=len(todo) * len(exercises), skipped=len(students) - len(todo))
        if pending:
            _run_tasks(root, pending, by_target, workers, hidden_tests, time_limit, progress)
        for student in todo:
            _write_student(student, exercises, out, root)
    _write_gradebook(students, exercises, out)
    return students


def _run_tasks(root, pending, by_target, count, hidden_tests, time_limit, progress) -> None:
    chosen = settings.current().replace(
        root=root,
        hypothesis_profile="kata-grading",
        hidden_tests=(root / workspace.HIDDEN_TESTS_FOLDER) if hidden_tests else None,
    )
    environment = {**chosen.environment(), "PYTHONDONTWRITEBYTECODE": "1"}
    pool = Pool(root, count, environment)
    running: dict[int, tuple[Task, float, str | None]] = {}  # pid -> task, its start, its test
    waiting = len(pending)
    try:
        for task in pending:
            pool.tasks.put(task)
        while waiting:
            events = pool.events.take(timeout=1.0)
            gone = pool.dead()
            # A worker sends its events before it dies: once it is dead, all are in the pipe.
            events += pool.events.take(timeout=0) if gone else []
            for kind, pid, task, payload in events:
                if kind == "started":
                    same = pid in running and running[pid][0] == task
                    running[pid] = (task, running[pid][1] if same else time.monotonic(), payload)
                elif kind == "result":
                    result = TestResult.from_json(payload)
                    by_target[result.target].tests.append(_clean(result, root))
                elif kind == "done":
                    for error in payload:
                        for target in task.targets:
                            by_target[target].problems.append(clean(error, root))
                    running.pop(pid, None)
                    waiting -= 1
                    if progress:
                        progress.advance(len(task.targets))
            for worker in gone:
                entry = running.pop(worker.pid, None)
                if entry is None:
                    continue
                task, _, dying = entry
                waiting += _after_a_death(task, dying, worker.exitcode, by_target, pool) - 1
                if progress:
                    progress.advance(1)
            _stop_overdue(running, time_limit)
    finally:
        pool.close()


def _stop_overdue(running, time_limit) -> None:
    """A task past its time (a call stuck in C code) loses its worker: the death is handled."""
    now = time.monotonic()
    for pid, (task, started, _) in list(running.items()):
        if now - started > time_limit * len(task.targets):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def _after_a_death(task: Task, dying: str | None, exitcode, by_target, pool) -> int:
    """The student whose test was running loses the rest of the exercise; the others of the
    task go back in the queue. Returns how many tasks were queued again."""
    victim = dying.split("::")[0] if dying else None
    target = next((t for t in task.targets if victim and f"[{t}]" in dying), task.targets[0])
    exercise = catalogue.by_number(task.exercise)
    student = by_target[target]
    student.problems.append(
        f"exercise {exercise.number}: the test process died (exit code {exitcode}) in "
        f"{dying.split('::')[-1] if dying else 'its set-up'}; its remaining tests score 0"
    )
    student.tests = [t for t in student.tests if t.exercise != exercise.id]
    others = tuple(
        t
        for t in task.targets
        if t != target and not any(r.exercise == exercise.id for r in by_target[t].tests)
    )
    if others:
        pool.tasks.put(Task(task.exercise, others))
        return 1
    return 0


def _clean(result: TestResult, root: Path) -> TestResult:
    name = re.sub(
        r"\[[^\]]*\]$", "", result.nodeid
    )  # the target's parameter: the report is per student
    return TestResult(**{**result.__dict__, "nodeid": name, "message": clean(result.message, root)})


def _write_student(student: Student, exercises, out: Path, root: Path) -> None:
    graded = GradingResults(
        exercises=exercises,
        tests=student.tests,
        tampered=student.tampered,
        problems=student.problems,
        notes=student.found.notes,
    )
    graded.scores = results.score(student.tests, exercises)
    for exercise in exercises:  # an exercise without a single result never ran: say so
        if (
            not any(t.exercise == exercise.id for t in student.tests)
            and exercise.id in student.found.files
        ):
            graded.problems.append(f"exercise {exercise.number}: no test result came back")
    folder = out / student.name
    reports.write(graded, folder)
    record = json.loads((folder / REPORT_FILE).read_text())
    record["fingerprint"] = student.fingerprint
    (folder / REPORT_FILE).write_text(json.dumps(record, indent=2) + "\n")


def _write_gradebook(students: list[Student], exercises, out: Path) -> Path:
    columns = [f"{e.id}_{f.name}" for e in exercises for f in e.graded_functions]
    path = out / "gradebook.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *columns, "total", "max", "tampering", "problems"])
        for student in students:
            report = json.loads((out / student.name / REPORT_FILE).read_text())
            earned = {f"{f['exercise']}_{f['function']}": f["score"] for f in report["functions"]}
            writer.writerow(
                [
                    student.name,
                    *(earned.get(column, 0) for column in columns),
                    report["score"],
                    report["max_score"],
                    " ".join(report["tampered"]),
                    len(report["problems"]),
                ]
            )
    return path


class _Progress:
    """A rich progress bar: exercise gradings done of all to do."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(),
        )  # fmt: skip

    def start(self, total: int, skipped: int) -> None:
        label = "grading exercises" + (
            f" ({skipped} students unchanged, skipped)" if skipped else ""
        )
        self.task = self.bar.add_task(label, total=total)
        self.bar.start()

    def advance(self, count: int) -> None:
        self.bar.advance(self.task, count)

    def stop(self) -> None:
        self.bar.stop()


def default_workers() -> int:
    """One worker per two cores: TensorFlow spreads one worker's tests over two. On 2 cores a
    second worker grades 1.4 times as fast, at twice the memory (measured: README): ask for it
    with --workers where memory allows."""
    return max(1, (os.cpu_count() or 2) // 2)


def run(args) -> int:
    pristine = (args.pristine or find_root()).resolve()
    progress = _Progress()
    started = time.perf_counter()
    try:
        students = grade_class(
            args.class_folder.resolve(),
            args.out.resolve(),
            pristine=pristine,
            workers=args.workers or default_workers(),
            hidden_tests=args.hidden_tests,
            exercises=[catalogue.by_number(n) for n in args.exercise] if args.exercise else None,
            time_limit=args.time_limit,
            progress=progress,
        )
    finally:
        if hasattr(progress, "task"):
            progress.stop()
    seconds = time.perf_counter() - started
    print(
        f"{len(students)} submissions in {seconds:.0f} s: {args.out / 'gradebook.csv'}, and a "
        f"report folder per student in {args.out}"
    )
    return 0
