"""Gradescope's autograder zip (`kata dev gradescope-zip`).

The zip's root is what Gradescope unpacks into /autograder/source: every
file git tracks in this repository, with `setup.sh` and `run_autograder`
(from gradescope_autograder/) beside them. The submission (the student's
repository, a folder holding it, or just their exercise files) only provides
exercises/*.py: the tests and the harness always come from /autograder/source,
so a student cannot change how they are graded.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from savedmodel_kata.code_under_test import find_root

SCRIPTS = Path(__file__).with_name("gradescope_autograder")
EXECUTABLE = 0o755 << 16


def build(out: Path, root: Path | None = None) -> Path:
    root = root or find_root()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = EXECUTABLE
            archive.writestr(info, (SCRIPTS / name).read_text())
        for path in tracked:
            if (root / path).is_file() and path not in ("setup.sh", "run_autograder"):
                info = zipfile.ZipInfo(path)
                mode = (root / path).stat().st_mode & 0o777
                info.external_attr = (mode | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (root / path).read_bytes())
    return out
