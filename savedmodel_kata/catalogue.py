"""The exercise catalogue, read from catalogue.toml (the one source of truth)."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")

# How the runner trains, exports and reloads an exercise's model (see jobs.py).
KINDS = ("graph", "module", "keras", "bridge")
# The four functions every exercise module defines, in the order students write them.
EXERCISE_FUNCTIONS = ("create_model", "save", "load_signature_tensors", "evaluate")


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

    @property
    def file_name(self) -> str:
        return f"{self.module}.py"

    @property
    def test_file_name(self) -> str:
        return f"test_{self.module}.py"

    @property
    def points(self) -> int:
        return sum(function.points for function in self.functions)

    def function(self, name: str) -> Function:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(f"exercise {self.number} has no function {name!r}")


class CatalogueError(ValueError):
    """catalogue.toml is malformed; the message says which entry and why."""


def _parse(raw: dict) -> tuple[Exercise, ...]:
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
            raise CatalogueError(f"exercise {entry['id']}: kind is {entry.get('kind')!r}, expected one of {KINDS}")
        exercises.append(
            Exercise(
                number=int(entry["number"]),
                id=entry["id"],
                module=entry["module"],
                kind=entry["kind"],
                title=entry["title"],
                functions=functions,
            )
        )
    numbers = [exercise.number for exercise in exercises]
    if numbers != sorted(set(numbers)):
        raise CatalogueError(f"exercise numbers must be unique and ascending, got {numbers}")
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
    raise LookupError(f"there is no exercise {number}; the kata has exercises {known}")


def by_module(module: str) -> Exercise:
    for exercise in exercises():
        if exercise.module == module:
            return exercise
    raise LookupError(f"no exercise uses the module {module!r}")
