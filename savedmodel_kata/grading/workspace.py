"""The pristine harness a submission is graded with.

Only the student's exercise files are taken from a submission. Everything
else the grading runs with (tests, conftest, the harness package, the
reference) comes from a pristine source: a folder (`--pristine`, the
Gradescope autograder's own copy), or else the git objects listed in
`grading-manifest.json` (each harness file's git blob id), so a student who
edits the tests or the harness changes nothing but the tampering report.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.errors import GradingError

MANIFEST_FILE = "grading-manifest.json"
HIDDEN_TESTS_FOLDER = Path("tests") / "hidden"
HARNESS_PATTERNS = (
    "conftest.py",
    "pyproject.toml",
    "savedmodel_kata/**/*.py",
    "savedmodel_kata/catalogue.toml",
    "savedmodel_kata/data/*",
    "solutions/*.py",
    "tests/*.py",
    "tests/harness/*.py",
)


def harness_files(root: Path) -> list[str]:
    return sorted(
        {
            str(p.relative_to(root))
            for pattern in HARNESS_PATTERNS
            for p in root.glob(pattern)
            if p.is_file() and "__pycache__" not in p.parts
        }
    )


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def manifest(root: Path) -> str:
    """The manifest's text for the harness as it is in `root`."""
    entries = {path: git_blob_id((root / path).read_bytes()) for path in harness_files(root)}
    return json.dumps(entries, indent=1, sort_keys=True) + "\n"


def manifest_digest(root: Path) -> str:
    return hashlib.sha256((root / MANIFEST_FILE).read_bytes()).hexdigest()


def _pristine_from_git(root: Path, workspace: Path, manifest_sha256: str | None) -> list[str]:
    """Rebuild the harness in `workspace` from git objects; return the paths the
    working tree changed."""
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise GradingError(
            f"no {MANIFEST_FILE} in {root}: pass --pristine DIR, or write one (`kata dev update`)"
        )
    if manifest_sha256 and manifest_digest(root) != manifest_sha256:
        raise GradingError(
            f"{MANIFEST_FILE} was changed: its sha256 is not the one the grading command pins"
        )
    entries = json.loads(manifest_path.read_text())
    tampered = []
    for path, blob in entries.items():
        try:
            data = subprocess.run(
                ["git", "cat-file", "blob", blob], cwd=root, capture_output=True, check=True
            ).stdout
        except (subprocess.CalledProcessError, FileNotFoundError) as error:
            raise GradingError(
                f"the pristine {path} (git blob {blob}) is not in {root}'s history"
            ) from error
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).write_bytes(data)
        current = root / path
        if not current.is_file() or git_blob_id(current.read_bytes()) != blob:
            tampered.append(path)
    tampered += [path for path in harness_files(root) if path not in entries]
    return sorted(tampered)


def tampered(pristine: Path, upload: Path) -> list[str]:
    """The harness files an upload holds that differ from the pristine copy's."""
    return [
        path
        for path in harness_files(pristine)
        if (upload / path).is_file()
        and (upload / path).read_bytes() != (pristine / path).read_bytes()
    ]


def _pristine_from_folder(pristine: Path, submission: Path, workspace: Path) -> list[str]:
    for path in harness_files(pristine):
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pristine / path, workspace / path)
    return tampered(pristine, submission)


def build(
    submission: Path,
    workspace: Path,
    *,
    pristine: Path | None = None,
    manifest_sha256: str | None = None,
    hidden_tests: Path | None = None,
    compare_with: Path | None = None,
) -> list[str]:
    """Pristine harness + the student's exercise files (and nothing else) in `workspace`.

    Returns the harness files the student's copy changed (tampering): those of
    `compare_with` (default: the submission) against the pristine folder, or
    of the repository's working tree against the manifest's git objects.
    """
    if pristine is not None:
        tampered = _pristine_from_folder(pristine, compare_with or submission, workspace)
    else:
        tampered = _pristine_from_git(submission, workspace, manifest_sha256)
    (workspace / "exercises").mkdir(exist_ok=True)
    for exercise in catalogue.exercises():
        mine = submission / "exercises" / exercise.file_name
        if mine.is_file():
            shutil.copyfile(mine, workspace / "exercises" / exercise.file_name)
    if hidden_tests is not None:
        (workspace / HIDDEN_TESTS_FOLDER).mkdir(parents=True, exist_ok=True)
        for test_file in sorted(Path(hidden_tests).glob("test_*.py")):
            shutil.copyfile(test_file, workspace / HIDDEN_TESTS_FOLDER / test_file.name)
    return tampered
