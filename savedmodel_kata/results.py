"""One results model and one scoring rule for every way the kata reports.

The pytest plugin's recorder turns each test into a `TestResult` (which
exercise and function it grades, how it ended, and why). `score` turns
results into points per function, in proportion to the tests passed; `kata
status`, `kata watch`, `kata grade` and every report format (summary,
report.json, Gradescope, JUnit, GitHub Actions) render these same objects,
so they agree on every function's points.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from savedmodel_kata.catalogue import Exercise


class Graded(NamedTuple):
    """What a test grades, and what a function's score counts: one key for both, so that
    results are matched to their function one way (`TestResult.graded`, `FunctionScore.graded`)."""

    exercise: str  # the exercise's id, e.g. "ex01"
    function: str  # one of its functions, or END_TO_END


class Failure(str, Enum):
    """How a test failed: a field of the result, never guessed from its text."""

    NOT_IMPLEMENTED = "not implemented"  # the student's function is still the stub
    RAISED = "raised"  # the student's code raised an exception
    TIMED_OUT = "timed out"  # the student's code did not return in time
    DOES_NOT_IMPORT = "does not import"  # the student's module cannot be imported
    MISSING_FUNCTION = "missing function"  # the module has no function of that name
    CHECK = "check failed"  # the test's own check (assert, pytest.fail) failed
    TEST_ERROR = "error in the test"  # the test raised outside student code (TensorFlow, the kata)
    CRASHED = "process died"  # grading: the test process died during this test
    NOT_RUN = "not run"  # grading: the process died or was stopped before this test


class State(str, Enum):
    NOT_STARTED = "not started"
    FAILING = "failing"
    PASSING = "passing"


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a test class, whatever pytest thinks of its name

    nodeid: str
    exercise: str  # the exercise's id, e.g. "ex01"
    function: str  # the function it grades, or "end_to_end"
    passed: bool
    failure: Failure | None = None
    message: str = ""
    hidden: bool = False
    seconds: float = 0.0
    target: str = "exercises"  # the code it ran against

    @property
    def name(self) -> str:
        return self.nodeid.split("::")[-1]

    @property
    def graded(self) -> Graded:
        return Graded(self.exercise, self.function)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failure"] = self.failure.value if self.failure else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestResult:
        failure = Failure(data["failure"]) if data.get("failure") else None
        return cls(**{**data, "failure": failure})


@dataclass(frozen=True)
class FunctionScore:
    exercise: Exercise
    function: str
    points: float
    earned: float
    passed: int
    total: int
    state: State
    failures: tuple[TestResult, ...] = ()

    @property
    def graded(self) -> Graded:
        return Graded(self.exercise.id, self.function)

    @property
    def first_failure(self) -> TestResult | None:
        visible = [f for f in self.failures if not f.hidden]
        shown = visible or list(self.failures)
        return shown[0] if shown else None


@dataclass
class Scores:
    functions: list[FunctionScore] = field(default_factory=list)

    @property
    def earned(self) -> float:
        return round(sum(f.earned for f in self.functions), 2)

    @property
    def points(self) -> float:
        return float(sum(f.points for f in self.functions))

    def for_exercise(self, exercise: Exercise) -> list[FunctionScore]:
        return [f for f in self.functions if f.exercise == exercise]

    def next_step(self) -> FunctionScore | None:
        """The first function, in the kata's order, that does not pass yet."""
        return next((f for f in self.functions if f.state != State.PASSING), None)


def earned_points(points: float, passed: int, total: int) -> float:
    """A function's points in proportion to its tests passed (two decimals)."""
    return round(points * passed / total, 2) if total else 0.0


def score(results: Iterable[TestResult], exercises: Iterable[Exercise]) -> Scores:
    """Points and state for every function of `exercises` (the end-to-end test counts as one)."""
    by_graded: dict[Graded, list[TestResult]] = {}
    for result in results:
        by_graded.setdefault(result.graded, []).append(result)
    scores = Scores()
    for exercise in exercises:
        for function in exercise.graded_functions:
            # Every function counts, run or not (an exercise without a file among them): the
            # maximum is the same for every submission and on every platform.
            mine = by_graded.get(Graded(exercise.id, function.name), [])
            failed = tuple(r for r in mine if not r.passed)
            if not mine or (
                len(failed) == len(mine)
                and all(r.failure == Failure.NOT_IMPLEMENTED for r in failed)
            ):
                state = State.NOT_STARTED
            elif failed:
                state = State.FAILING
            else:
                state = State.PASSING
            passed = len(mine) - len(failed)
            scores.functions.append(
                FunctionScore(
                    exercise=exercise,
                    function=function.name,
                    points=float(function.points),
                    earned=earned_points(function.points, passed, len(mine)),
                    passed=passed,
                    total=len(mine),
                    state=state,
                    failures=failed,
                )
            )
    return scores
