"""Everything the repository holds that is generated, computed in the order it depends on.

    exercises/exNN_*.py                 the stubs, from solutions/ (stubs.py)
    grading-manifest.json               the pristine harness's git blob ids
    .github/workflows/per-function-checks.yml   the Actions checks, pinning the manifest's digest

`expected(root)` renders them all in memory, each from the ones before it
(the workflow pins the digest of the manifest as it should be, not as it
is), so one check sees every stale file at once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.grading import actions
from savedmodel_kata.grading.workspace import MANIFEST_FILE, manifest
from savedmodel_kata.stubs import make_stub


def expected(root: Path) -> dict[Path, str]:
    """Each generated file's path (relative to `root`) and the text it should hold."""
    files = {}
    for exercise in catalogue.exercises():
        solution = (root / "solutions" / exercise.file_name).read_text()
        files[Path("exercises") / exercise.file_name] = make_stub(solution, exercise)
    files[Path(MANIFEST_FILE)] = manifest_text = manifest(root)
    digest = hashlib.sha256(manifest_text.encode()).hexdigest()
    files[actions.WORKFLOW] = actions.render_workflow(digest)
    return files


def stale(root: Path) -> list[Path]:
    """The generated files that differ from what they should be (or are missing)."""
    return [
        path
        for path, text in expected(root).items()
        if not (root / path).is_file() or (root / path).read_text() != text
    ]


def update(root: Path) -> list[Path]:
    """Write every stale generated file; return their paths."""
    written = []
    for path, text in expected(root).items():
        target = root / path
        if not target.is_file() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(path)
    return written
