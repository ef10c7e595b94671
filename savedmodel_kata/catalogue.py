"""The exercise catalogue, read from catalogue.toml (the one source of truth)."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from savedmodel_kata.errors import CatalogueError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")

# The four functions every exercise module defines, in the order students write them.
EXERCISE_FUNCTIONS = ("create_model", "save", "load_signature_tensors", "evaluate")
# What the end-to-end test grades: all four of the student's functions, chained.
END_TO_END = "end_to_end"
# The kinds an exercise may be (its `kind`): name -> "module:class", imported by
# savedmodel_kata.kinds on first use. Named here, below the kinds, so the catalogue can check
# an exercise's kind without importing any of them.
KINDS = {
    "graph": "savedmodel_kata.kinds.graph:GraphKind",
    "bridge": "savedmodel_kata.kinds.graph:BridgeKind",
    "module": "savedmodel_kata.kinds.module:ModuleKind",
    "keras": "savedmodel_kata.kinds.keras:KerasKind",
    "serving": "savedmodel_kata.kinds.serving:ServingKind",
    "checkpoint": "savedmodel_kata.kinds.checkpoint:CheckpointKind",
    "litert": "savedmodel_kata.kinds.litert:LiteRTKind",
    "custom": "savedmodel_kata.kinds.custom:CustomKind",
}


@dataclass(frozen=True)
class Function:
    name: str
    points: int
    hints: tuple[str, ...]


@dataclass(frozen=True)
class Exercise:
    number: int
    id: str
    module: str
    kind: str
    title: str
    functions: tuple[Function, ...]
    end_to_end_points: int = 0
    # The earlier exercise whose reference model this one's create_model is given, if any:
    # whoever reads the repository's solutions hands it to the kind (never the kind itself).
    builds_on: int | None = None

    @property
    def file_name(self) -> str:
        return f"{self.module}.py"

    @property
    def test_file_name(self) -> str:
        return f"test_{self.module}.py"

    @property
    def graded_functions(self) -> tuple[Function, ...]:
        """The four functions, then the end-to-end test as a fifth thing that earns points."""
        return (*self.functions, Function(END_TO_END, self.end_to_end_points, ()))

    @property
    def points(self) -> int:
        return sum(function.points for function in self.graded_functions)

    def function(self, name: str) -> Function:
        for function in self.graded_functions:
            if function.name == name:
                return function
        known = ", ".join(f.name for f in self.functions)
        raise CatalogueError(f"exercise {self.number} has no function {name!r}; it has {known}")


def _parse(raw: dict[str, Any]) -> tuple[Exercise, ...]:
    exercises = []
    for entry in raw.get("exercise", []):
        functions = tuple(
            Function(name=f["name"], points=int(f["points"]), hints=tuple(f["hints"]))
            for f in entry["function"]
        )
        names = tuple(f.name for f in functions)
        if names != EXERCISE_FUNCTIONS:
            raise CatalogueError(
                f"exercise {entry['id']}: functions are {names}, expected {EXERCISE_FUNCTIONS}"
            )
        if entry.get("kind") not in KINDS:
            raise CatalogueError(
                f"exercise {entry['id']}: kind is {entry.get('kind')!r}, expected one of "
                f"{', '.join(KINDS)}"
            )
        exercises.append(
            Exercise(
                number=int(entry["number"]),
                id=entry["id"],
                module=entry["module"],
                kind=entry["kind"],
                title=entry["title"],
                functions=functions,
                end_to_end_points=int(entry.get("end_to_end_points", 0)),
                builds_on=int(entry["builds_on"]) if "builds_on" in entry else None,
            )
        )
    numbers = [exercise.number for exercise in exercises]
    if numbers != sorted(set(numbers)):
        raise CatalogueError(f"exercise numbers must be unique and ascending, got {numbers}")
    for exercise in exercises:
        if (
            exercise.builds_on is not None
            and exercise.builds_on not in numbers[: numbers.index(exercise.number)]
        ):
            raise CatalogueError(
                f"exercise {exercise.number} builds on exercise {exercise.builds_on}: "
                "it must be an earlier exercise of the catalogue"
            )
    return tuple(exercises)


@functools.cache
def exercises() -> tuple[Exercise, ...]:
    with CATALOGUE_FILE.open("rb") as handle:
        return _parse(tomllib.load(handle))


def by_number(number: int) -> Exercise:
    for exercise in exercises():
        if exercise.number == number:
            return exercise
    known = ", ".join(str(e.number) for e in exercises())
    raise CatalogueError(f"there is no exercise {number}; the kata has exercises {known}")


def by_id(exercise_id: str) -> Exercise:
    for exercise in exercises():
        if exercise.id == exercise_id:
            return exercise
    raise CatalogueError(f"no exercise has the id {exercise_id!r}")


def by_module(module: str) -> Exercise:
    for exercise in exercises():
        if exercise.module == module:
            return exercise
    raise CatalogueError(f"no exercise uses the module {module!r}")
