"""Grading a whole class: `kata grade --class FOLDER --out DIR [--workers N]`.

FOLDER holds one folder per student, as cloned repositories or Gradescope's
"Export submissions" download them (a repository, a download zip's folder,
bare files: submission.find takes each as it is). Every student's exercise
files go into one pristine workspace as a target of their own
(students/<name>/), and the grader's engine (grader.py, the one that grades a
single submission) runs each student's exercises one after another in a
worker process of that student's own: a student's code runs in the process
that reports its tests, so no other student's tests may run there (one
student's code once made an untouched stub in the same session pass). The
workspace, the trained reference and the harness are shared; the processes
are not. A worker that dies (a student's os._exit, a crash in TensorFlow,
memory) costs that student the rest of that exercise.

Out come DIR/<student>/ (the four reports of `kata grade`) and DIR/gradebook.csv
(student, points per function, total, tampering). A student whose files and
harness are unchanged since their report was written is not graded again, so
an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.grading import reports, submission, workspace
from savedmodel_kata.grading.grader import (
    EXERCISE_TIME_LIMIT_SECONDS,
    Engine,
    GradingResults,
    Target,
    results_of,
)

STUDENTS_FOLDER = "students"
REPORT_FILE = "report.json"

Task = tuple[int, tuple[str, ...]]  # an exercise's number, the targets it grades


@dataclass
class Student:
    name: str  # the folder's name, as in the gradebook
    target: str  # students/<slug>, the target the plugin runs against
    upload: Path
    found: submission.Found
    fingerprint: str = ""
    tampered: list[str] = field(default_factory=list)


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
        student.tampered = workspace.tampered(pristine, found.repository(upload))
        students.append(student)
    return students


def _already_graded(student: Student, out: Path) -> GradingResults | None:
    """The student's report, if it was computed from these files and this harness."""
    try:
        graded = reports.read_report(out / student.name / REPORT_FILE)
    except (OSError, ValueError, KeyError):
        return None
    return graded if graded.fingerprint == student.fingerprint else None


def _stage_harness(pristine: Path, root: Path, hidden_tests: Path | None) -> None:
    empty = root / "empty-submission"
    (empty / "exercises").mkdir(parents=True)
    workspace.build(empty, root, pristine=pristine, hidden_tests=hidden_tests)
    shutil.rmtree(empty)


def _packed(root: Path) -> dict[str, bytes]:
    """The staged harness as bytes (path: contents): what a cluster's workers grade with."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _tasks(todo: list[Student], exercises: list[catalogue.Exercise]) -> list[Task]:
    # Student after student, so a worker grades one student's exercises with one TensorFlow
    # import; a student without an exercise's file has nothing to run for it.
    return [
        (exercise.number, (student.target,))
        for student in todo
        for exercise in exercises
        if exercise.id in student.found.files
    ]


class _Reports:
    """Each student's reports, written as soon as their last exercise ends: a run stopped
    halfway resumes from the students it finished."""

    def __init__(self, todo, tasks, exercises, root: Path, out: Path, gradings, progress):
        self.students = {s.target: s for s in todo}
        self.left = {s.target: set() for s in todo}
        for exercise, targets in tasks:
            for target in targets:
                self.left[target].add(exercise)
        self.exercises, self.root, self.out = exercises, root, out
        self.gradings, self.progress = gradings, progress

    def ended(self, exercise: int, targets, findings: dict[str, Target]) -> None:
        for target in targets:
            self.left[target].discard(exercise)
            if not self.left[target]:
                self.write(target, findings.get(target, Target()))
        if self.progress:
            self.progress.advance(len(targets))

    def write(self, target: str, findings: Target) -> None:
        student = self.students[target]
        tests, problems = results_of(findings, self.exercises, self.root, target)
        graded = GradingResults(
            exercises=self.exercises,
            tests=tests,
            tampered=student.tampered,
            problems=problems,
            notes=student.found.notes,
            fingerprint=student.fingerprint,
        )
        reports.write(graded, self.out / student.name)
        self.gradings[student.name] = graded

    def finish(self, found: dict[str, Target]) -> None:
        """The students not written yet: those with no exercise file, those of a stopped task."""
        for target in self.students:
            if self.gradings[self.students[target].name] is None:
                self.write(target, found.get(target, Target()))  # Target(): no file to run


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
    cluster: str | None = None,
) -> dict[str, GradingResults]:
    """Every student's grading (by name), their reports and the gradebook written in `out`;
    graded by `workers` processes here, or on the Dask cluster `cluster` (cluster.py)."""
    exercises = list(exercises or catalogue.exercises())
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kata-class-") as temporary:
        root = Path(temporary)
        _stage_harness(pristine, root, hidden_tests)
        harness = _packed(root) if cluster else {}
        students = discover(folder, pristine, root)
        gradings = {s.name: _already_graded(s, out) for s in students}
        todo = [s for s in students if gradings[s.name] is None]
        tasks = _tasks(todo, exercises)
        if progress:
            total = sum(len(targets) for _, targets in tasks)
            progress.start(total=total, skipped=len(students) - len(todo))
        written = _Reports(todo, tasks, exercises, root, out, gradings, progress)
        if cluster and tasks:  # nothing to grade: no cluster to start
            from savedmodel_kata.grading import cluster as dask_cluster

            found = dask_cluster.grade(
                cluster, root, harness, tasks, time_limit=time_limit, on_done=written.ended
            )
        else:
            engine = Engine(root, workers, time_limit, time_budget=None)
            found = engine.run(
                tasks, on_done=lambda exercise, targets: written.ended(
                    exercise, targets, engine.targets
                ),
            )  # fmt: skip
        written.finish(found)
    (out / "gradebook.csv").write_bytes(reports.gradebook_csv(gradings, exercises).encode())
    return gradings


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
    with --workers where memory allows. (command.py's --workers help says so.)"""
    return max(1, (os.cpu_count() or 2) // 2)


def run(args) -> int:
    pristine = (args.pristine or find_root()).resolve()
    progress = _Progress()
    started = time.perf_counter()
    try:
        gradings = grade_class(
            args.class_folder.resolve(),
            args.out.resolve(),
            pristine=pristine,
            workers=args.workers or default_workers(),
            hidden_tests=args.hidden_tests,
            exercises=[catalogue.by_number(n) for n in args.exercise] if args.exercise else None,
            time_limit=args.time_limit,
            progress=progress,
            cluster=args.cluster,
        )
    finally:
        if hasattr(progress, "task"):
            progress.stop()
    seconds = time.perf_counter() - started
    print(
        f"{len(gradings)} submissions in {seconds:.0f} s: {args.out / 'gradebook.csv'}, and a "
        f"report folder per student in {args.out}"
    )
    return 0
