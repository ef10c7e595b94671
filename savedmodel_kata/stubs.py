"""Make an exercise's stub from its reference solution, so the two never drift.

The stub keeps the solution's lesson, imports and constants (everything above
the first `# --- ` section rule) and, for each of the four exercise
functions, its signature and docstring, with a body that raises
NotImplementedError pointing to the function's hint. Helpers and classes of
the solution are left out: writing them is the exercise. `kata dev update`
writes them; `kata dev check` says which differ.
"""

from __future__ import annotations

import ast

from savedmodel_kata import catalogue

SECTION_RULE = "# --- "
RULE_WIDTH = 79


def section_rule(name: str) -> str:
    return f"{SECTION_RULE}{name} ".ljust(RULE_WIDTH, "-")


def make_stub(solution_source: str, exercise: catalogue.Exercise) -> str:
    lines = solution_source.splitlines()
    header_end = next(i for i, line in enumerate(lines) if line.startswith(SECTION_RULE))
    parts = ["\n".join(lines[:header_end]).rstrip() + "\n"]
    functions = {
        node.name: node
        for node in ast.parse(solution_source).body
        if isinstance(node, ast.FunctionDef)
    }
    for name in catalogue.EXERCISE_FUNCTIONS:
        node = functions[name]
        docstring = node.body[0]
        signature_and_docstring = "\n".join(lines[node.lineno - 1 : docstring.end_lineno])
        pointer = (
            f"exercise {exercise.number}, {name}: read its docstring, "
            f"then run `kata hint {exercise.number} {name}`"
        )
        parts.append(
            f"\n\n{section_rule(name)}\n\n\n{signature_and_docstring}\n"
            f'    raise NotImplementedError("{pointer}")\n'
        )
    return "".join(parts)
