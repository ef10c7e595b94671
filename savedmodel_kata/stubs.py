"""Make an exercise's stub from its reference solution, so the two never drift.

The stub keeps the solution's lesson, imports and constants (everything above
the first `# --- ` section rule) and, for each of the four exercise
functions, its signature and docstring, with a body that raises
NotImplementedError pointing to the function's hint. Helpers and classes of
the solution are left out: writing them is the exercise.

    python -m savedmodel_kata.stubs          # rewrite every stub in exercises/
    python -m savedmodel_kata.stubs --check  # exit 1 if a stub differs
"""

from __future__ import annotations

import argparse
import ast
import sys

from savedmodel_kata import catalogue, targets

SECTION_RULE = "# --- "
RULE_WIDTH = 79


def section_rule(name: str) -> str:
    return f"{SECTION_RULE}{name} ".ljust(RULE_WIDTH, "-")


def make_stub(solution_source: str, exercise: catalogue.Exercise) -> str:
    lines = solution_source.splitlines()
    header_end = next(i for i, line in enumerate(lines) if line.startswith(SECTION_RULE))
    parts = ["\n".join(lines[:header_end]).rstrip() + "\n"]
    functions = {
        node.name: node for node in ast.parse(solution_source).body if isinstance(node, ast.FunctionDef)
    }
    for name in catalogue.EXERCISE_FUNCTIONS:
        node = functions[name]
        docstring = node.body[0]
        signature_and_docstring = "\n".join(lines[node.lineno - 1 : docstring.end_lineno])
        pointer = f"exercise {exercise.number}, {name}: read its docstring, then run `kata hint {exercise.number} {name}`"
        parts.append(
            f"\n\n{section_rule(name)}\n\n\n{signature_and_docstring}\n"
            f"    raise NotImplementedError(\"{pointer}\")\n"
        )
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make exercises/ stubs from solutions/.")
    parser.add_argument("--check", action="store_true", help="only report stubs that differ; exit 1 if any")
    args = parser.parse_args(argv)
    root = targets.find_root()
    differing = []
    for exercise in catalogue.exercises():
        solution = (root / "solutions" / exercise.file_name).read_text()
        stub_path = root / "exercises" / exercise.file_name
        stub = make_stub(solution, exercise)
        if not stub_path.exists() or stub_path.read_text() != stub:
            differing.append(stub_path)
            if not args.check:
                stub_path.write_text(stub)
    for path in differing:
        print(f"{'differs' if args.check else 'wrote'}: {path.relative_to(root)}")
    return 1 if (args.check and differing) else 0


if __name__ == "__main__":
    sys.exit(main())
