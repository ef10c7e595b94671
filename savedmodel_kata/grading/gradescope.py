"""Build Gradescope's autograder zip from this repository (`kata dev gradescope-zip`).

The zip holds `setup.sh` (installs the kata), `run_autograder` (grades the
submission) and `source/`, a pristine copy of every file git tracks. The
submission (the student's repository, or just their exercise files) only
provides exercises/*.py: the tests and the harness always come from
`source/`, so a student cannot change how they are graded.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from savedmodel_kata.code_under_test import find_root

SETUP_SH = (
    "#!/usr/bin/env bash\n"
    "# Gradescope runs this once, when the autograder image is built.\n"
    "set -euo pipefail\n"
    "if ! command -v python3 >/dev/null; then "
    "apt-get update && apt-get install -y python3 python3-pip; fi\n"
    "cd /autograder/source\n"
    "python3 -m pip install --quiet .\n"
)

RUN_AUTOGRADER = (
    "#!/usr/bin/env bash\n"
    "# Gradescope runs this for each submission; results go to results/results.json.\n"
    "# AUTOGRADER_ROOT and KATA_GRADE_ARGS exist for testing this script locally.\n"
    "set -uo pipefail\n"
    'root="${AUTOGRADER_ROOT:-/autograder}"\n'
    'submission="$root/submission"\n'
    'if [ ! -d "$submission/exercises" ]; then  # only the exercise files were uploaded\n'
    '    submission="$(mktemp -d)"\n'
    '    mkdir -p "$submission/exercises"\n'
    '    find "$root/submission" -maxdepth 2 '
    "-name 'ex[0-9][0-9]_*.py' "
    '-exec cp {} "$submission/exercises/" \\;\n'
    "fi\n"
    'mkdir -p "$root/results"\n'
    'cd "$root/source"\n'
    'python3 -m savedmodel_kata grade --submission "$submission" --pristine "$root/source" \\\n'
    '    --out "$root/results/kata" ${KATA_GRADE_ARGS:-}\n'
    'cp "$root/results/kata/results.json" "$root/results/results.json"\n'
)


def build(out: Path, root: Path | None = None) -> Path:
    root = root or find_root()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            archive.writestr(info, text)
        for path in tracked:
            if (root / path).is_file():
                archive.write(root / path, f"source/{path}")
    return out
