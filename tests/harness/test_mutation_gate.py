"""The mutation gate: every planted mistake is caught, every valid alternative accepted.

The cases are data beside each exercise's tests (tests/planted/<module>.toml);
savedmodel_kata/maintainer/mutation_gate.py plants them and judges the
suite: a mistake must fail a test of its own function with a report that
names it and fits a screen, an alternative must pass every test. A case that
stops holding means a test lost its teeth, a lesson went missing, or a test
started rejecting right code. `kata dev mutations` prints the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.catalogue import EXERCISE_FUNCTIONS
from savedmodel_kata.maintainer import mutation_gate

ROOT = Path(__file__).resolve().parents[2]
MINIMUM_MISTAKES, MINIMUM_ALTERNATIVES = 20, 6


@pytest.mark.parametrize("exercise", catalogue.exercises(), ids=lambda e: e.id)
def test_every_exercise_lists_enough_cases_over_all_four_functions(exercise):
    cases = mutation_gate.cases_of(ROOT, exercise)
    mistakes = [c for c in cases if isinstance(c, mutation_gate.Mistake)]
    alternatives = [c for c in cases if isinstance(c, mutation_gate.Alternative)]
    assert len(mistakes) >= MINIMUM_MISTAKES and len(alternatives) >= MINIMUM_ALTERNATIVES
    assert {m.function for m in mistakes} == set(catalogue.EXERCISE_FUNCTIONS)
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "two cases share a name"


@pytest.mark.parametrize("exercise", catalogue.exercises(), ids=lambda e: e.id)
def test_the_suite_catches_every_mistake_and_accepts_every_alternative(exercise):
    verdicts = mutation_gate.run(ROOT, [exercise])
    failing = [v for v in verdicts if not v.holds]
    assert not failing, "\n\n".join(v.explain() for v in failing)


MODULE = '''"""A lesson."""
import numpy as np

SCALE = 255.0


def _helper(x):
    return x / SCALE


def create_model():
    return 1


def save(model, path):
    return _helper(model)


def load_signature_tensors(path):
    return np.zeros(1)


def evaluate(signature, images, labels):
    return 0.0
'''


@pytest.mark.parametrize(
    ("original", "planted", "reached"),
    [
        ("    return 1\n", "    return 2\n", {"create_model"}),
        ("return x / SCALE", "return x * (1 / SCALE)", {"save"}),  # through a helper
        ("SCALE = 255.0", "SCALE = 256.0", {"save"}),  # through a constant and a helper
        ("import numpy as np", "import numpy as np  # same", set()),  # a comment: no change
        ("import numpy as np", "import numpy.random as np", {"load_signature_tensors"}),
        ('"""A lesson."""', '"""A lesson."""\nprint("side effect")', set(EXERCISE_FUNCTIONS)),
    ],
)
def test_an_alternative_runs_the_tests_of_every_function_its_change_reaches(
    original, planted, reached
):
    assert mutation_gate.affected_functions(MODULE, MODULE.replace(original, planted)) == reached


def test_a_mutant_that_does_not_parse_or_changes_a_compound_statement_reaches_all_four():
    broken = MODULE.replace("    return 1\n", "    return (\n")
    assert mutation_gate.affected_functions(MODULE, broken) == set(EXERCISE_FUNCTIONS)
    guarded = MODULE + "\ntry:\n    FAST = 1\nexcept ImportError:\n    FAST = 0\n"
    changed = guarded.replace("FAST = 0", "FAST = 2")
    assert mutation_gate.affected_functions(guarded, changed) == set(EXERCISE_FUNCTIONS)


def test_every_planted_original_occurs_exactly_once_in_its_solution():
    assert mutation_gate.misplaced_originals(ROOT) == []


def test_a_case_whose_original_a_solution_lost_is_named(tmp_path):
    for folder in ("solutions", "tests/planted"):
        (tmp_path / folder).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / folder).symlink_to(ROOT / folder)
    (tmp_path / "solutions").unlink()
    (tmp_path / "solutions").mkdir()
    for path in (ROOT / "solutions").glob("*.py"):
        (tmp_path / "solutions" / path.name).write_text(path.read_text())
    exercise = catalogue.by_number(1)
    case = mutation_gate.cases_of(ROOT, exercise)[0]
    solution = tmp_path / "solutions" / exercise.file_name
    solution.write_text(solution.read_text().replace(case.original, "# reformatted"))
    problems = mutation_gate.misplaced_originals(tmp_path)
    assert any(repr(case.name) in p and "occurs 0 times" in p for p in problems), problems
