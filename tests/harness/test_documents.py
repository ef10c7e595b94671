"""The documents agree with what runs: the README's test command is CI's, tox's environments
split the suite as the docs say, links between the documents resolve, and the benchmark
writes its results file section by section.
"""

from __future__ import annotations

import configparser
import functools
import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GATE = "tests/harness/test_mutation_gate.py"


def readme_test_command() -> str:
    """The Quick start's one shell block that runs tox: the test command a fresh clone needs."""
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick_start, re.S)
    commands = [b.strip() for b in blocks if b.startswith("tox ")]
    assert len(commands) == 1, f"the Quick start should show one tox command: {blocks}"
    return commands[0]


@functools.cache
def bench_module():
    """benchmarks/bench.py, imported (it measures nothing until main() runs)."""
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def tox_commands(env: str) -> str:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return config[f"testenv:{env}"]["commands"]


def test_ci_runs_exactly_the_readme_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    last_command = [line for line in lines if line and not line.startswith("#")][-1]
    assert last_command == readme_test_command()
    assert " ".join(bench_module().TEST_COMMAND) == readme_test_command()


def test_the_test_command_runs_the_solutions_and_the_gate_environments():
    words = shlex.split(readme_test_command())
    assert words[0] == "tox" and words[words.index("-e") + 1].split(",") == ["solutions", "gate"]
    assert GATE in tox_commands("gate")
    solutions = tox_commands("solutions")
    assert "tests/harness" in solutions and f"--ignore={GATE}" in solutions


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_to_a_file_and_heading(document):
    text = document.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, "a document that links nowhere: expected links to the others"
    for link in links:
        if re.match(r"[a-z]+://", link):
            continue
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        assert target.exists(), f"{document.name}: {link} points to no file"
        if anchor and target.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{document.name}: no #{anchor}"


def test_the_benchmark_replaces_only_the_sections_it_measured(tmp_path):
    bench = bench_module()
    results = tmp_path / "results.md"
    order = ["first", "second"]

    def table(name, value):
        measured = bench.Table(name, f"the {name} part", ("measurement", "value"))
        measured.rows.append(("a thing", value))
        return measured

    bench.write_results(results, [table("second", "2 s"), table("first", "1 s")], "Run 1.", order)
    bench.write_results(results, [table("second", "3 s")], "Run 2.", order)
    text = results.read_text()
    assert text.startswith(bench.RESULTS_PREAMBLE)
    first, second = text.index("## first: the first part"), text.index("## second:")
    assert first < second
    assert "Run 1.\n\n| measurement | value |\n| --- | --- |\n| a thing | 1 s |" in text[:second]
    assert "Run 2." in text[second:] and "| a thing | 3 s |" in text[second:]
    assert "2 s" not in text and text.count("## ") == 2


def test_the_benchmark_reads_each_environment_time_from_tox_report():
    report = (
        "  solutions: OK (330.43=setup[54.93]+cmd[2.10,273.40] seconds)\n"
        "  gate: FAIL code 1 (256.00=setup[40.00]+cmd[216.00] seconds)\n"
        "  evaluation failed :( (331.00 seconds)\n"
    )
    assert bench_module().tox_env_times(report) == {
        "solutions": ("OK", 330.43, 54.93, pytest.approx(275.5)),
        "gate": ("FAIL", 256.0, 40.0, 216.0),
    }
