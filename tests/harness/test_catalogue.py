"""The catalogue, the stubs and the reference agree with one another.

The catalogue is the one list of exercises; these tests fail when a file it
names is missing, when a stub and its solution drift apart (signatures,
docstrings, the lesson), when a stub no longer points to its hint, or when
a function has no test grading it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from savedmodel_kata import catalogue, code_under_test, settings
from savedmodel_kata.errors import CatalogueError, TargetError
from savedmodel_kata.settings import TARGETS
from savedmodel_kata.stubs import make_stub

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = catalogue.exercises()


def functions_of(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_catalogue_lists_exercises_in_order():
    assert [e.number for e in EXERCISES] == list(range(1, len(EXERCISES) + 1))
    for exercise in EXERCISES:
        assert exercise.id == f"ex{exercise.number:02d}" and exercise.module.startswith(exercise.id)
        assert all(f.points > 0 and len(f.hints) == 3 for f in exercise.functions)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_exercise_is_worth_ten_points(exercise):
    # What the instructors' guide promises: an exercise's weight in a grade is the same for all.
    points = sum(f.points for f in exercise.functions) + exercise.end_to_end_points
    assert points == 10, f"exercise {exercise.number} is worth {points} points, not 10"


def test_a_malformed_catalogue_is_refused():
    raw = {
        "exercise": [
            {
                "number": 1,
                "id": "ex01",
                "module": "m",
                "title": "t",
                "function": [{"name": "fit", "points": 1, "hints": []}],
            }
        ]
    }
    with pytest.raises(CatalogueError, match="expected"):
        catalogue._parse(raw)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_exercise_has_stub_reference_and_tests(exercise):
    for folder in (*TARGETS, "tests"):
        name = exercise.test_file_name if folder == "tests" else exercise.file_name
        assert (ROOT / folder / name).is_file(), (
            f"{folder}/{name} is missing for exercise {exercise.number}"
        )


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_stub_is_made_from_the_reference(exercise, pristine_exercises):
    solution = (ROOT / "solutions" / exercise.file_name).read_text()
    assert (ROOT / "exercises" / exercise.file_name).read_text() == make_stub(solution, exercise), (
        f"exercises/{exercise.file_name} differs from the stub made from "
        f"solutions/{exercise.file_name}: "
        "run `kata dev update` (after editing the solution's lesson or docstrings)"
    )


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_stub_and_reference_share_lesson_signatures_and_docstrings(exercise):
    stub_path, solution_path = (ROOT / t / exercise.file_name for t in TARGETS)
    assert ast.get_docstring(ast.parse(stub_path.read_text())) == ast.get_docstring(
        ast.parse(solution_path.read_text())
    ), "the lesson at the top of the stub and of the solution differ"
    stub, solution = functions_of(stub_path), functions_of(solution_path)
    for name in catalogue.EXERCISE_FUNCTIONS:
        assert name in stub and name in solution, f"{name} missing from stub or solution"
        assert ast.dump(stub[name].args) == ast.dump(solution[name].args), (
            f"{name}: signatures differ"
        )
        assert ast.get_docstring(stub[name]) == ast.get_docstring(solution[name]), (
            f"{name}: docstrings differ"
        )
        assert ast.get_docstring(stub[name]), f"{name} has no docstring to teach with"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_each_stub_raises_not_implemented_with_a_pointer_to_its_hint(exercise, pristine_exercises):
    for name, node in functions_of(ROOT / "exercises" / exercise.file_name).items():
        if name not in catalogue.EXERCISE_FUNCTIONS:
            continue
        source = ast.unparse(node.body[-1])
        assert source.startswith("raise NotImplementedError("), (
            f"{name}'s stub does not raise NotImplementedError"
        )
        assert f"kata hint {exercise.number} {name}" in source, (
            f"{name}'s stub does not point to its hint"
        )


SHARED_TESTS = ROOT / "savedmodel_kata" / "plugin" / "shared_tests.py"


def functions_collected_from(test_file: Path) -> list[ast.FunctionDef]:
    """The test functions a test module defines, and those it imports from shared_tests.py."""
    tree = ast.parse(test_file.read_text())
    shared = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "savedmodel_kata.plugin.shared_tests"
        for alias in node.names
    }
    defined = {
        n.name: n
        for n in ast.walk(ast.parse(SHARED_TESTS.read_text()))
        if isinstance(n, ast.FunctionDef)
    }
    own = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    imported = [defined[name] for name in shared.values() if name in defined]
    return [n for n in own + imported if isinstance(n, ast.FunctionDef)]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_function_is_graded_by_a_test_and_one_test_chains_all_four(exercise):
    graded, end_to_end = set(), 0
    for node in functions_collected_from(ROOT / "tests" / exercise.test_file_name):
        if node.name.startswith("test_"):
            for decorator in node.decorator_list:
                text = ast.unparse(decorator)
                if text.startswith("pytest.mark.function("):
                    graded.add(decorator.args[0].value)
                end_to_end += text == "pytest.mark.end_to_end"
    assert graded == set(catalogue.EXERCISE_FUNCTIONS)
    assert end_to_end == 1


def test_a_syntax_error_in_student_code_names_the_line(tmp_path):
    exercise = EXERCISES[0]
    for target in TARGETS:
        (tmp_path / target).mkdir()
    (tmp_path / "exercises" / exercise.file_name).write_text("def create_model(x)\n    return x\n")
    with pytest.raises(TargetError, match=r"line 1: Python cannot read this file"):
        code_under_test.import_exercise(tmp_path, "exercises", exercise)


def test_a_missing_student_file_says_how_to_restore_it(tmp_path):
    for target in TARGETS:
        (tmp_path / target).mkdir()
    with pytest.raises(TargetError, match="git checkout --"):
        code_under_test.import_exercise(tmp_path, "exercises", EXERCISES[0])


def test_the_root_is_found_from_a_subfolder(monkeypatch):
    monkeypatch.setattr(settings, "_current", settings.Settings())  # no KATA_ROOT
    assert code_under_test.find_root(ROOT / "tests" / "harness") == ROOT
