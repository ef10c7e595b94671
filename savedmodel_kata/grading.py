"""Grading: deterministic points per exercise and function, from a pristine harness.

`grade(submission)` takes only the student's exercise files from the
submission. Everything else it runs with (tests, conftest, the harness
package, the reference) comes from a pristine source: a folder given with
`pristine=` (the Gradescope autograder's own copy), or else the git objects
listed in `grading-manifest.json`, so a student who edits the tests or the
harness changes nothing but the tampering report. Each exercise runs in a
process of its own (grade_worker), so code that hangs, kills the interpreter
or exhausts memory loses only that exercise's points, and the report still
comes out: a human summary, report.json, Gradescope's results.json and JUnit
XML. Messages are cleaned of temporary paths and memory addresses, so the
same code always gets the same score and the same words.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from savedmodel_kata import catalogue, targets

MANIFEST_FILE = "grading-manifest.json"
HIDDEN_TESTS_FOLDER = Path("tests") / "hidden"
EXERCISE_TIME_LIMIT_SECONDS = 600
MEMORY_LIMIT_BYTES = 12 * 1024**3  # per exercise process; half this machine
HARNESS_PATTERNS = (
    "conftest.py",
    "pyproject.toml",
    "savedmodel_kata/*.py",
    "savedmodel_kata/catalogue.toml",
    "savedmodel_kata/data/*",
    "solutions/*.py",
    "tests/*.py",
    "tests/harness/*.py",
)


class GradingError(Exception):
    """Grading cannot start (no pristine harness, a broken manifest); the message says why."""


# --- the pristine harness ------------------------------------------------------


def harness_files(root: Path) -> list[str]:
    return sorted({str(p.relative_to(root)) for pattern in HARNESS_PATTERNS for p in root.glob(pattern) if p.is_file()})


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_manifest(root: Path) -> Path:
    """Record each harness file's git blob id (the instructor runs this before publishing)."""
    manifest = {path: _git_blob_id((root / path).read_bytes()) for path in harness_files(root)}
    target = root / MANIFEST_FILE
    target.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return target


def manifest_digest(root: Path) -> str:
    return hashlib.sha256((root / MANIFEST_FILE).read_bytes()).hexdigest()


def _pristine_from_git(root: Path, workspace: Path, manifest_sha256: str | None) -> list[str]:
    """Rebuild the harness in `workspace` from git objects; return the paths the working tree changed."""
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise GradingError(f"no {MANIFEST_FILE} in {root}: pass --pristine DIR, or write one (--write-manifest)")
    if manifest_sha256 and manifest_digest(root) != manifest_sha256:
        raise GradingError(f"{MANIFEST_FILE} was changed: its sha256 is not the one the grading command pins")
    manifest = json.loads(manifest_path.read_text())
    tampered = []
    for path, blob in manifest.items():
        try:
            data = subprocess.run(
                ["git", "cat-file", "blob", blob], cwd=root, capture_output=True, check=True
            ).stdout
        except (subprocess.CalledProcessError, FileNotFoundError) as error:
            raise GradingError(f"the pristine {path} (git blob {blob}) is not in {root}'s history") from error
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).write_bytes(data)
        current = root / path
        if not current.is_file() or _git_blob_id(current.read_bytes()) != blob:
            tampered.append(path)
    tampered += [path for path in harness_files(root) if path not in manifest]
    return sorted(tampered)


def _pristine_from_folder(pristine: Path, submission: Path, workspace: Path) -> list[str]:
    tampered = []
    for path in harness_files(pristine):
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pristine / path, workspace / path)
        mine = submission / path
        if mine.is_file() and mine.read_bytes() != (pristine / path).read_bytes():
            tampered.append(path)
    return tampered


def build_workspace(
    submission: Path,
    workspace: Path,
    *,
    pristine: Path | None = None,
    manifest_sha256: str | None = None,
    hidden_tests: Path | None = None,
) -> list[str]:
    """Pristine harness + the student's exercise files (and nothing else) in `workspace`; return tampering."""
    if pristine is not None:
        tampered = _pristine_from_folder(pristine, submission, workspace)
    else:
        tampered = _pristine_from_git(submission, workspace, manifest_sha256)
    (workspace / "exercises").mkdir(exist_ok=True)
    for exercise in catalogue.exercises():
        mine = submission / "exercises" / exercise.file_name
        if mine.is_file():
            shutil.copyfile(mine, workspace / "exercises" / exercise.file_name)
    if hidden_tests is not None:
        (workspace / HIDDEN_TESTS_FOLDER).mkdir(parents=True, exist_ok=True)
        for test_file in sorted(Path(hidden_tests).glob("test_*.py")):
            shutil.copyfile(test_file, workspace / HIDDEN_TESTS_FOLDER / test_file.name)
    return tampered


# --- running and scoring ---------------------------------------------------------


@dataclass
class TestOutcome:
    exercise: str
    function: str
    name: str
    passed: bool
    message: str
    hidden: bool


@dataclass
class FunctionScore:
    exercise: catalogue.Exercise
    function: str
    max_score: float
    score: float
    passed: int
    total: int
    output: str


@dataclass
class Report:
    functions: list[FunctionScore] = field(default_factory=list)
    tests: list[TestOutcome] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(f.score for f in self.functions), 2)

    @property
    def max_score(self) -> float:
        return float(sum(f.max_score for f in self.functions))


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def clean(message: str, workspace: Path) -> str:
    """The same words for the same code: no temporary paths, no memory addresses."""
    text = message.replace(str(workspace), "<submission>")
    text = re.sub(r"/tmp/[\w./-]*?pytest-of-[\w-]+/[\w-]+", "<tmp>", text)
    text = re.sub(r"(<submission>/basetemp-ex\d\d)", "<tmp>", text)
    return _ADDRESS.sub("0x…", text)


def _run_exercise(workspace: Path, exercise: catalogue.Exercise, time_limit: int) -> tuple[list[dict], str]:
    journal = workspace / f"journal-{exercise.id}.jsonl"
    basetemp = workspace / f"basetemp-{exercise.id}"
    environment = dict(os.environ, PYTHONPATH=str(workspace), KATA_ROOT=str(workspace), PYTHONDONTWRITEBYTECODE="1")
    environment.pop("KATA_TARGET", None)
    if (workspace / HIDDEN_TESTS_FOLDER).is_dir():
        environment[targets.HIDDEN_TESTS_ENVIRONMENT_VARIABLE] = str(workspace / HIDDEN_TESTS_FOLDER)
    command = [sys.executable, "-m", "savedmodel_kata.grade_worker", str(workspace), str(exercise.number), str(journal), str(basetemp)]
    problem = ""
    with open(workspace / f"output-{exercise.id}.log", "wb") as log:
        try:
            finished = subprocess.run(
                command, cwd=workspace, env=environment, stdout=log, stderr=log, timeout=time_limit,
                preexec_fn=_limit_memory if hasattr(os, "fork") else None,
            )
            if finished.returncode != 0:
                problem = f"the test process ended abruptly (exit code {finished.returncode})"
        except subprocess.TimeoutExpired:
            problem = f"the tests did not finish within {time_limit} s and were stopped"
    records = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    if not problem and not any(r["event"] == "finished" for r in records):
        problem = "the test process ended before reporting"
    return records, problem


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass


def _score_exercise(exercise, records, problem, workspace) -> tuple[list[TestOutcome], list[FunctionScore], list[str]]:
    collected = [r for r in records if r["event"] == "collected"]
    results = {r["nodeid"]: r for r in records if r["event"] == "result"}
    started = [r["nodeid"] for r in records if r["event"] == "started"]
    problems = [clean(r["message"], workspace) for r in records if r["event"] == "collection_error"]
    dying_test = started[-1] if problem and started and started[-1] not in results else None
    if problem:
        where = f" in {dying_test.split('::')[-1]}" if dying_test else ""
        problems.append(f"exercise {exercise.number}: {problem}{where}; its remaining tests score 0")
    tests = []
    for item in collected:
        result = results.get(item["nodeid"])
        name = item["nodeid"].split("::")[-1]
        if result is None:
            message = f"not run: {problem}" + (" (this test was running)" if item["nodeid"] == dying_test else "")
            passed = False
        else:
            passed, message = result["passed"], clean(result["message"], workspace)
        tests.append(TestOutcome(exercise.id, item["function"], name, passed, message, hidden=name.startswith("test_hidden_")))
    functions = []
    for function in (*exercise.functions, None):
        function_name = function.name if function else "end_to_end"
        mine = [t for t in tests if t.function == function_name]
        if function is None and not mine:
            continue
        passed = sum(t.passed for t in mine)
        max_score = float(function.points) if function else 0.0
        score = round(max_score * passed / len(mine), 2) if mine else 0.0
        failures = [t for t in mine if not t.passed]
        output = "\n\n".join(f"{t.name}:\n{t.message.strip()}" for t in failures if not t.hidden)
        if any(t.hidden for t in failures):
            output += "\n\n(and hidden tests that failed)"
        functions.append(FunctionScore(exercise, function_name, max_score, score, passed, len(mine), output.strip()))
    return tests, functions, problems


def grade(
    submission: Path,
    *,
    pristine: Path | None = None,
    manifest_sha256: str | None = None,
    hidden_tests: Path | None = None,
    time_limit: int = EXERCISE_TIME_LIMIT_SECONDS,
    exercises: list[catalogue.Exercise] | None = None,
) -> Report:
    started = time.perf_counter()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="kata-grade-") as temporary:
        workspace = Path(temporary)
        report.tampered = build_workspace(
            Path(submission), workspace, pristine=pristine, manifest_sha256=manifest_sha256, hidden_tests=hidden_tests
        )
        for exercise in exercises or catalogue.exercises():
            records, problem = _run_exercise(workspace, exercise, time_limit)
            tests, functions, problems = _score_exercise(exercise, records, problem, workspace)
            report.tests += tests
            report.functions += functions
            report.problems += problems
    report.seconds = time.perf_counter() - started
    return report


# --- reports -------------------------------------------------------------------


def summary_text(report: Report) -> str:
    lines = [f"Score: {report.score:g} / {report.max_score:g}", ""]
    for function in report.functions:
        label = f"exercise {function.exercise.number} {function.function}"
        points = f"{function.score:g}/{function.max_score:g}" if function.max_score else "-"
        lines.append(f"  {label:<42} {function.passed:>2}/{function.total:<2} tests  {points:>7}")
    if report.tampered:
        lines += ["", "Tampering: these harness files differ from the pristine copy; the pristine copy was used:"]
        lines += [f"  {path}" for path in report.tampered]
    if report.problems:
        lines += ["", "Problems:"] + [f"  {problem}" for problem in report.problems]
    return "\n".join(lines) + "\n"


def gradescope_results(report: Report) -> dict:
    tests = [
        {
            "name": f"Exercise {f.exercise.number}: {f.function}",
            "score": f.score,
            "max_score": f.max_score,
            "output": f.output or f"all {f.total} tests pass",
            "visibility": "visible",
        }
        for f in report.functions
    ]
    return {"score": report.score, "tests": tests, "output": summary_text(report), "visibility": "visible"}


def report_json(report: Report) -> dict:
    return {
        "score": report.score,
        "max_score": report.max_score,
        "functions": [
            {
                "exercise": f.exercise.id,
                "function": f.function,
                "score": f.score,
                "max_score": f.max_score,
                "passed": f.passed,
                "total": f.total,
                "output": f.output,
            }
            for f in report.functions
        ],
        "tests": [t.__dict__ for t in report.tests],
        "tampered": report.tampered,
        "problems": report.problems,
    }


def junit_xml(report: Report) -> bytes:
    suites = ElementTree.Element("testsuites", name="savedmodel-kata")
    for exercise in catalogue.exercises():
        mine = [t for t in report.tests if t.exercise == exercise.id]
        if not mine:
            continue
        suite = ElementTree.SubElement(
            suites, "testsuite", name=exercise.module, tests=str(len(mine)), failures=str(sum(not t.passed for t in mine))
        )
        for test in mine:
            case = ElementTree.SubElement(suite, "testcase", classname=f"{exercise.module}.{test.function}", name=test.name)
            if not test.passed:
                failure = ElementTree.SubElement(case, "failure", message=(test.message.strip().splitlines() or [""])[0][:200])
                failure.text = "" if test.hidden else test.message
    return ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)


def write_reports(report: Report, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out / "summary.txt",
        "report": out / "report.json",
        "gradescope": out / "results.json",
        "junit": out / "junit.xml",
    }
    paths["summary"].write_text(summary_text(report))
    paths["report"].write_text(json.dumps(report_json(report), indent=2) + "\n")
    paths["gradescope"].write_text(json.dumps(gradescope_results(report), indent=2) + "\n")
    paths["junit"].write_bytes(junit_xml(report))
    return paths


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-manifest"]:
        from savedmodel_kata.targets import find_root

        print(write_manifest(find_root()))
