"""Fixtures for the harness tests."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pristine_exercises():
    """Skip when exercises/ has local changes: these checks are about the committed stubs."""
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "exercises"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    if changed.strip():
        pytest.skip(
            f"exercises/ has local changes; this check is about the committed stubs:\n{changed}"
        )


@pytest.fixture
def kata_copy(tmp_path, monkeypatch):
    """A kata root of its own: exercises/ copied (here, stubs), solutions/ and tests/ linked;
    KATA_ROOT set."""
    import shutil

    for name in ("solutions", "tests", "conftest.py"):
        (tmp_path / name).symlink_to(ROOT / name)
    shutil.copytree(
        ROOT / "exercises",
        tmp_path / "exercises",
        ignore=shutil.ignore_patterns(".backups", "__pycache__"),
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    monkeypatch.setenv("KATA_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path
