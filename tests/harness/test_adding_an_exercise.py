"""docs/maintainers.md's recipe for adding an exercise of an existing kind, in a scratch copy.

One more exercise (kind `module`, a copy of exercise 2 under a new name) is
added by touching exactly what the recipe lists: a catalogue entry, its
solution and its test file; `kata dev update`'s generator writes the stub
and the platform files. The reference must then pass every test and the
stub fail every test with its pointer, with no harness code changed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.maintainer import generated
from savedmodel_kata.plugin.in_process import run_tests
from savedmodel_kata.results import Failure

ROOT = Path(__file__).resolve().parents[2]
# The exercise the recipe adds: the one after the catalogue's last.
NEW_NUMBER = len(catalogue.exercises()) + 1
NEW_ID = f"ex{NEW_NUMBER:02d}"
NEW_MODULE = f"{NEW_ID}_module_copy"


@pytest.fixture
def kata_with_one_more_exercise(tmp_path, monkeypatch):
    original = catalogue.by_number(2)
    entry = (ROOT / "savedmodel_kata" / "catalogue.toml").read_text()
    two = entry[entry.index("number = 2") : entry.index("[[exercise]]", entry.index("number = 2"))]
    added = two.replace("number = 2", f"number = {NEW_NUMBER}")
    added = added.replace('id = "ex02"', f'id = "{NEW_ID}"')
    added = added.replace(f'module = "{original.module}"', f'module = "{NEW_MODULE}"')
    catalogue_file = tmp_path / "catalogue.toml"
    catalogue_file.write_text(entry + "\n[[exercise]]\n" + added)  # 1. the catalogue entry
    monkeypatch.setattr(catalogue, "CATALOGUE_FILE", catalogue_file)
    catalogue.exercises.cache_clear()

    for folder in ("solutions", "tests"):
        (tmp_path / folder).mkdir()
        for path in (ROOT / folder).glob("*.py"):
            (tmp_path / folder / path.name).symlink_to(path)
    (tmp_path / "exercises").mkdir()
    (tmp_path / "conftest.py").symlink_to(ROOT / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    # 2. the solution, 3. its tests
    shutil.copy(
        ROOT / "solutions" / original.file_name, tmp_path / "solutions" / f"{NEW_MODULE}.py"
    )
    shutil.copy(
        ROOT / "tests" / original.test_file_name, tmp_path / "tests" / f"test_{NEW_MODULE}.py"
    )
    monkeypatch.setenv("KATA_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    catalogue.exercises.cache_clear()


def test_the_recipe_adds_a_working_exercise(kata_with_one_more_exercise):
    root = kata_with_one_more_exercise
    written = {str(path) for path in generated.update(root)}  # 4. kata dev update
    assert f"exercises/{NEW_MODULE}.py" in written
    new = catalogue.by_number(NEW_NUMBER)
    assert new.module == NEW_MODULE and new.kind == "module"

    reference = run_tests(root, [new], target="solutions")
    assert not reference.errors, "\n".join(reference.errors)
    assert reference.results and all(r.passed for r in reference.results), [
        r.message for r in reference.results if not r.passed
    ]
    stub = run_tests(root, [new])
    assert not stub.errors, "\n".join(stub.errors)
    assert len(stub.results) == len(reference.results)
    assert all(r.failure == Failure.NOT_IMPLEMENTED for r in stub.results)
    pointer = f"kata hint {NEW_NUMBER}"
    assert all(
        f"{pointer} {r.function}" in r.message for r in stub.results if r.function != "end_to_end"
    )
