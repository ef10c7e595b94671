"""The mutation gate: the suite's judgement, itself judged.

Each exercise's planted mistakes and valid alternatives are data beside its
tests, in tests/planted/<module>.toml (one text replacement each in a copy
of the reference solution; TOML's literal strings keep the code as written,
and no formatter touches them). The gate plants every case in a folder of its own and
runs the exercise's tests against all of them in one pytest session per
exercise (the reference's trained model, exports and caches are shared):

* a mistake in function f runs f's tests, and must fail at least one, with
  a report that contains its lesson and fits a screen (its remaining tests
  are skipped once one has, so only the reports up to that one are measured
  against the screen); a test of another
  function never calls f (the plugin enforces it), so the mistake costs f's
  points and no other function's (the end-to-end test, which chains all
  four, may fail too);
* an alternative runs the tests of every function its change can reach
  (through the module's names: `affected_functions`) and the end-to-end
  test, and must pass them all.

`kata dev mutations` prints the table; tests/harness/test_mutation_gate.py
fails on any case that does not hold.
"""

from __future__ import annotations

import ast
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.catalogue import tomllib
from savedmodel_kata.plugin.run import KataTest, kata_test_of
from savedmodel_kata.results import Failure, TestResult

MAX_REPORT_LINES = 30
WHERE_TO_LOOK_LINES = 3  # the section pytest prints after a failing test's report


@dataclass(frozen=True)
class Mistake:
    """A realistic mistake: `original` (text of the reference, once) becomes `planted`."""

    function: str
    name: str
    original: str
    planted: str
    lesson: str  # a failing report of the function's tests must contain this


@dataclass(frozen=True)
class Alternative:
    """Another correct way to satisfy the docstring: it must pass every test."""

    function: str
    name: str
    original: str
    planted: str


@dataclass
class Verdict:
    exercise: catalogue.Exercise
    case: Mistake | Alternative
    results: list[TestResult] = field(default_factory=list)
    problem: str = ""  # why the case could not be planted, if it could not

    @property
    def is_mistake(self) -> bool:
        return isinstance(self.case, Mistake)

    @property
    def failures(self) -> list[TestResult]:
        return [r for r in self.results if not r.passed]

    def report_lines(self, result: TestResult) -> int:
        return len(result.message.splitlines()) + WHERE_TO_LOOK_LINES

    @property
    def longest_report(self) -> int:
        return max((self.report_lines(r) for r in self.failures), default=0)

    @property
    def teaching(self) -> list[TestResult]:
        return [r for r in self.failures if self.case.lesson in r.message]

    @property
    def holds(self) -> bool:
        if self.problem or not self.results:
            return False
        if not self.is_mistake:
            return not self.failures
        own = [r for r in self.failures if r.function == self.case.function]
        return bool(own) and bool(self.teaching) and self.longest_report <= MAX_REPORT_LINES

    def explain(self) -> str:
        """Why the case does not hold, for the gate's failure message."""
        label = f"exercise {self.exercise.number} {self.case.function}: {self.case.name}"
        if self.problem:
            return f"{label}: {self.problem}"
        if not self.is_mistake:
            return f"{label}: a correct alternative failed:\n" + "\n".join(
                f"  {r.name}: {_first_lines(r.message, 8)}" for r in self.failures
            )
        if not self.failures:
            return f"{label}: planted, and every test of {self.case.function}() still passes"
        if not self.teaching:
            return f"{label}: caught, but no report says {self.case.lesson!r}:\n" + "\n".join(
                f"  {r.name}: {_first_lines(r.message, 8)}" for r in self.failures
            )
        return f"{label}: a report has {self.longest_report} lines (at most {MAX_REPORT_LINES})"


def _first_lines(text: str, count: int) -> str:
    lines = text.strip().splitlines()
    return "\n    ".join(lines[:count] + (["..."] if len(lines) > count else []))


def slug(name: str) -> str:
    return re.sub(r"\W+", "-", name.lower()).strip("-")[:60]


def planted_file(root: Path, exercise: catalogue.Exercise) -> Path:
    """Where an exercise's planted cases live: tests/planted/<module>.toml, beside its tests."""
    return root / "tests" / "planted" / f"{exercise.module}.toml"


def cases_of(root: Path, exercise: catalogue.Exercise) -> list[Mistake | Alternative]:
    """The exercise's planted mistakes and alternatives, read as data (no test module runs)."""
    with planted_file(root, exercise).open("rb") as handle:
        data = tomllib.load(handle)
    return [
        *(Mistake(**case) for case in data.get("mistake", ())),
        *(Alternative(**case) for case in data.get("alternative", ())),
    ]


def misplaced_originals(root: Path) -> list[str]:
    """Every planted case whose original does not occur exactly once in its solution: the
    gate could not plant it (a solution edited, or reformatted, since the case was written)."""
    problems = []
    for exercise in catalogue.exercises():
        solution = (root / "solutions" / exercise.file_name).read_text()
        for case in cases_of(root, exercise):
            found = solution.count(case.original)
            if found != 1:
                problems.append(
                    f"{planted_file(root, exercise).relative_to(root)}: {case.function}: "
                    f"{case.name!r}: its original occurs {found} times in "
                    f"solutions/{exercise.file_name} (exactly once is needed)"
                )
    return problems


_SIMPLE_STATEMENTS = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
    ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr,
)  # fmt: skip


def affected_functions(source: str, mutant: str) -> set[str]:
    """The exercise functions whose behaviour the change from `source` to `mutant` can reach:
    those that refer, directly or through other top-level names of the module, to a top-level
    statement that changed. A changed statement that binds no name, a changed compound
    statement (if, try, ...) and a mutant that does not parse reach all four."""

    def top_level(text: str) -> dict[str, str]:
        statements = {}
        for index, node in enumerate(ast.parse(text).body):
            names = _bound_names(node)
            if not names or not isinstance(node, _SIMPLE_STATEMENTS):
                names = names | {f"<statement {index}>"}  # a change here may do anything
            for name in names:
                statements[name] = statements.get(name, "") + ast.dump(node)
        return statements

    try:
        before, after = top_level(source), top_level(mutant)
    except SyntaxError:
        return set(catalogue.EXERCISE_FUNCTIONS)
    changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
    if any(name.startswith("<statement") for name in changed):
        return set(catalogue.EXERCISE_FUNCTIONS)
    uses: dict[str, set[str]] = {}  # top-level name -> the names its statement refers to
    for node in ast.parse(mutant).body:
        referred = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        referred |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        for name in _bound_names(node):
            uses.setdefault(name, set()).update(referred)
    reaches = set(changed)
    while True:
        more = {name for name, used in uses.items() if used & reaches} - reaches
        if not more:
            break
        reaches |= more
    return {f for f in catalogue.EXERCISE_FUNCTIONS if f in reaches}


def _bound_names(node) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return {"<docstring>"}
    # A compound statement (if, try, with, for): every name bound anywhere inside it.
    inside = list(ast.walk(node))
    stored = {n.id for n in inside if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    defined = {n.name for n in inside if isinstance(n, definitions)}
    return stored | defined


class _OnlyWhatTheCaseNeeds:
    """Runs, for a case's target, only the tests of the function it is planted in (and for an
    alternative the end-to-end test, which calls all four), and for a mistake only until one
    of them fails with its lesson: the case holds from then on, the rest would cost time."""

    def __init__(self, cases: dict[str, Mistake | Alternative], reached: dict[str, set[str]]):
        self.cases = cases  # target -> its case
        self.reached = reached  # target -> the functions its change can reach
        self.settled: set[str] = set()
        self.tests: dict[str, KataTest] = {}  # nodeid -> the test, for its reports

    @pytest.hookimpl(trylast=True)  # after the plugin's own ordering of the items
    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            test = kata_test_of(item)
            case = self.cases.get(test.target) if test is not None else None
            if case is None:
                keep.append(item)
                continue
            self.tests[item.nodeid] = test
            # A test of one function calls no other function of the code under test (the
            # plugin enforces it): a function the change cannot reach passes or fails as on
            # the reference, so its tests would only cost time.
            if isinstance(case, Mistake):
                needed = {case.function}
            else:
                needed = {*self.reached[test.target], catalogue.END_TO_END}
            (keep if test.function in needed else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    @pytest.hookimpl(tryfirst=True)  # before any fixture is set up (skipped: left out in run())
    def pytest_runtest_setup(self, item):
        test = kata_test_of(item)
        if test is not None and test.target in self.settled:
            pytest.skip("the case holds already")

    def pytest_runtest_logreport(self, report):
        test = self.tests.get(report.nodeid)
        case = self.cases.get(test.target) if test is not None else None
        if not isinstance(case, Mistake) or not report.failed or report.when == "teardown":
            return
        text = report.longreprtext
        fits = len(text.splitlines()) + WHERE_TO_LOOK_LINES <= MAX_REPORT_LINES
        if case.lesson in text and fits:
            self.settled.add(test.target)


def run(
    root: Path, exercises: Iterable[catalogue.Exercise], names: Iterable[str] = ()
) -> list[Verdict]:
    """Plant every case (or those named) of `exercises` and judge the suite on each."""
    from savedmodel_kata.plugin.in_process import run_tests

    names = set(names)
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="kata-mutants-") as folder:
        scratch = Path(folder)
        for name in ("solutions", "tests", "conftest.py"):
            (scratch / name).symlink_to(root / name)
        (scratch / "exercises").mkdir()
        (scratch / "pytest.ini").write_text("[pytest]\n")
        for exercise in exercises:
            source = (root / "solutions" / exercise.file_name).read_text()
            planted: dict[str, Verdict] = {}
            for case in cases_of(root, exercise):
                if names and case.name not in names:
                    continue
                verdict = Verdict(exercise, case)
                verdicts.append(verdict)
                if source.count(case.original) != 1:
                    verdict.problem = (
                        f"the reference has {source.count(case.original)} copies of the text to "
                        "replace (1 expected): update the case"
                    )
                    continue
                target = f"mutants/{exercise.id}-{slug(case.name)}"
                (scratch / target).mkdir(parents=True)
                mutant = source.replace(case.original, case.planted)
                (scratch / target / exercise.file_name).write_text(mutant)
                planted[target] = verdict
            if not planted:
                continue
            reached = {
                t: affected_functions(source, source.replace(v.case.original, v.case.planted))
                for t, v in planted.items()
                if not v.is_mistake
            }
            selector = _OnlyWhatTheCaseNeeds({t: v.case for t, v in planted.items()}, reached)
            recorder = run_tests(scratch, [exercise], targets=tuple(planted), plugins=(selector,))
            for result in recorder.results:
                if result.failure == Failure.NOT_RUN and result.target in selector.settled:
                    continue  # skipped once the case held (the recorder keeps skips as not run)
                planted[result.target].results.append(result)
            for error in recorder.errors:
                for verdict in planted.values():
                    if not verdict.results:
                        verdict.problem = f"the run failed: {_first_lines(error, 6)}"
            shutil.rmtree(scratch / "mutants")
    return verdicts


def table(verdicts: list[Verdict]) -> str:
    """Per exercise and function: mistakes planted and caught, alternatives accepted."""
    lines = [
        "| exercise | function | mistakes planted | caught, in their function, with the lesson "
        "| alternatives | accepted | longest report (lines) |",
        "|---|---|---|---|---|---|---|",
    ]
    for exercise in sorted({v.exercise for v in verdicts}, key=lambda e: e.number):
        for function in catalogue.EXERCISE_FUNCTIONS:
            mine = [v for v in verdicts if v.exercise == exercise and v.case.function == function]
            mistakes = [v for v in mine if v.is_mistake]
            alternatives = [v for v in mine if not v.is_mistake]
            longest = max((v.longest_report for v in mistakes), default=0)
            caught, accepted = sum(v.holds for v in mistakes), sum(v.holds for v in alternatives)
            lines.append(
                f"| {exercise.id} | {function} | {len(mistakes)} | {caught} "
                f"| {len(alternatives)} | {accepted} | {longest} |"
            )
    reports = sorted(v.report_lines(r) for v in verdicts if v.is_mistake for r in v.failures)
    if reports:
        lines.append(
            f"\nFailure reports of the planted mistakes: {len(reports)}, median "
            f"{reports[len(reports) // 2]} lines, longest {reports[-1]} "
            f"(at most {MAX_REPORT_LINES})."
        )
    return "\n".join(lines)
