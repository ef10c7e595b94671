"""Fixtures for the harness tests."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pristine_exercises():
    """Skip when exercises/ has local changes: these checks are about the committed stubs."""
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "exercises"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    if changed.strip():
        pytest.skip(f"exercises/ has local changes; this check is about the committed stubs:\n{changed}")
