"""Finding a student's exercise files, wherever an upload put them.

A submission is graded from its `exercises/exNN_*.py` files only. Students
upload their repository (files under `exercises/`), GitHub's "Download ZIP"
(everything under one top folder), a deeper folder, or the bare files; some
archives carry `__MACOSX/` copies. `find` looks at any depth for the exact
file names of the catalogue, skips hidden and `__MACOSX` folders, prefers a
file inside a folder named `exercises`, then the shallowest, and says what
it chose and what it could not find.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel_kata import catalogue

SKIPPED_FOLDERS = ("__MACOSX", "__pycache__", "node_modules")


@dataclass
class Found:
    files: dict[str, Path] = field(default_factory=dict)  # exercise id -> the file to grade
    notes: list[str] = field(default_factory=list)  # what a person should know about the choice

    def missing(self) -> list[catalogue.Exercise]:
        return [e for e in catalogue.exercises() if e.id not in self.files]

    def repository(self, upload: Path) -> Path:
        """The folder of the upload that stands for the repository (for the tampering check)."""
        return next(
            (p.parent.parent for p in self.files.values() if p.parent.name == "exercises"), upload
        )


def _candidates(root: Path, name: str) -> list[Path]:
    found = []
    for path in root.rglob(name):
        parts = path.relative_to(root).parts[:-1]
        if any(part.startswith(".") or part in SKIPPED_FOLDERS for part in parts):
            continue
        if path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: (p.parent.name != "exercises", len(p.parts), str(p)))


def find(root: Path) -> Found:
    """The exercise files of the submission in `root`."""
    result = Found()
    for exercise in catalogue.exercises():
        candidates = _candidates(root, exercise.file_name)
        if not candidates:
            result.notes.append(
                f"exercise {exercise.number}: no {exercise.file_name} in the submission; upload "
                f"the repository, or the file itself (its tests score 0)"
            )
            continue
        chosen = candidates[0]
        result.files[exercise.id] = chosen
        if len(candidates) > 1:
            others = ", ".join(str(p.relative_to(root)) for p in candidates[1:])
            graded = chosen.relative_to(root)
            result.notes.append(f"exercise {exercise.number}: graded {graded}; also found {others}")
    return result


def stage(found: Found, destination: Path) -> Path:
    """A submission folder holding exactly the files found, as exercises/<name>."""
    (destination / "exercises").mkdir(parents=True, exist_ok=True)
    for path in found.files.values():
        shutil.copyfile(path, destination / "exercises" / path.name)
    return destination
