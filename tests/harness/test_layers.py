"""The package's imports run one way: down the layers, never round in a circle.

Each module of savedmodel_kata belongs to one *unit* (a module, or a whole
subpackage) and each unit to one layer. A module may import any module of
its own unit, or of a unit in a lower layer; never one beside it (the
student's runner and the instructor's grading know nothing of each other)
or above it. Every import counts, also those inside functions or under
TYPE_CHECKING: a lazy import is still a dependency. Shared code therefore
goes down to the lowest layer that all its users stand on.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "savedmodel_kata"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE

# Lowest first. A unit named "kinds" is savedmodel_kata.kinds and everything in it.
LAYERS = (
    ("errors",),  # what can go wrong, in a user's words
    ("settings",),  # the resolved settings
    ("lessons", "tensorflow_setup"),  # shared texts; TensorFlow imported one way
    ("catalogue",),  # catalogue.toml: the exercises, their functions, their kinds
    ("results", "mnist", "stubs"),  # one results model; the digits; stubs made from solutions
    ("code_under_test",),  # importing and calling a student's module
    ("kinds",),  # how each kind of exercise trains, exports, reloads and scores
    ("plugin",),  # the pytest plugin, and test runs in this process
    ("runner", "grading"),  # the student's `kata` commands; the instructor's `kata grade`
    ("maintainer",),  # `kata dev`: generated files, the mutation gate
    ("__main__",),  # `python -m savedmodel_kata`
)

# Imports waiting on files another change is rewriting, as (unit, module imported); remove
# each once it is made.
PENDING: set[tuple[str, str]] = set()  # none left


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported_modules(name: str) -> set[str]:
    """The package's modules that `name` imports (a package's __init__ for names in it)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            candidates = [f"{base}.{alias.name}" for alias in node.names]
            candidates = [c if c in MODULES else base for c in candidates]
        else:
            continue
        found.update(c for c in candidates if c in MODULES and c != name)
    return found


GRAPH = {name: imported_modules(name) for name in MODULES}


def unit_of(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


LAYER_OF_UNIT = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def test_every_module_has_a_layer():
    without = sorted(n for n in MODULES if n != PACKAGE and unit_of(n) not in LAYER_OF_UNIT)
    assert not without, f"add these modules' units to LAYERS: {without}"


def test_no_import_runs_up_or_sideways():
    wrong = []
    for name, imports in sorted(GRAPH.items()):
        for target in sorted(imports):
            if target == PACKAGE or unit_of(name) == unit_of(target):
                continue  # the package itself holds nothing; a unit's modules are one piece
            if (unit_of(name), target) in PENDING or name == PACKAGE:
                continue
            if LAYER_OF_UNIT[unit_of(target)] >= LAYER_OF_UNIT[unit_of(name)]:
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports up or across the layers:\n" + "\n".join(wrong)


# The modules that find the repository and import its exercise modules (exercises/, solutions/,
# the gate's copies). A kind is handed what it needs from there (the code it trains, the
# reference it builds on: the catalogue's builds_on) by the layers above, so it works on any
# repository's code, or none.
KNOWS_THE_REPOSITORY = {"savedmodel_kata.code_under_test"}


def test_kinds_do_not_look_for_the_repository():
    wrong = [
        f"{name} -> {target}"
        for name, imports in sorted(GRAPH.items())
        if unit_of(name) == "kinds"
        for target in sorted(imports & KNOWS_THE_REPOSITORY)
    ]
    assert not wrong, "kinds importing what finds the repository:\n" + "\n".join(wrong)


def test_pending_imports_are_still_there():
    """A pending entry whose import has gone is done: delete it from PENDING."""
    importing = {(unit_of(name), target) for name, imports in GRAPH.items() for target in imports}
    done = sorted(f"{unit} -> {target}" for unit, target in PENDING - importing)
    assert not done, f"remove from PENDING: {done}"


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the modules along it, or None."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (circle := visit(target)):
                return circle
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state and (circle := visit(name)):
            return circle
    return None


def test_no_circle_of_imports():
    circle = find_circle(GRAPH)
    assert circle is None, "a circle of imports: " + " -> ".join(circle or ())


def test_the_circle_finder_finds_circles():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_are_read_from_every_form():
    assert "savedmodel_kata.catalogue" in GRAPH["savedmodel_kata.kinds"]
    assert "savedmodel_kata.kinds.cache" in GRAPH["savedmodel_kata.kinds.base"]  # from pkg import
    assert "savedmodel_kata.kinds.base" in GRAPH["savedmodel_kata.kinds"]  # under TYPE_CHECKING
    assert "savedmodel_kata.kinds.serving" in GRAPH["savedmodel_kata.plugin.fixtures"]  # lazy
