"""`kata reset N | --all`: the stub again; the student's version is kept, never deleted."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import find_root
from savedmodel_kata.runner.console import console
from savedmodel_kata.stubs import make_stub

HELP = "restore an exercise's stub, keeping your version as a backup"
BACKUP_FOLDER = ".backups"  # under exercises/: pytest skips dot-folders, git status shows them


def add_parser(commands) -> None:
    parser = commands.add_parser("reset", help=HELP, description=HELP)
    parser.add_argument("number", type=int, nargs="?", help="exercise number")
    parser.add_argument("--all", action="store_true", help="every exercise")


def backup(root: Path, exercise: catalogue.Exercise) -> Path | None:
    """Copy the student's file to exercises/.backups/<module>.<timestamp>.py; return the copy."""
    current = root / "exercises" / exercise.file_name
    if not current.exists():
        return None
    folder = root / "exercises" / BACKUP_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S-%f")
    copy = folder / f"{exercise.module}.{stamp}.py"
    copy.write_bytes(current.read_bytes())
    return copy


def run(args) -> int:
    if not args.all and not args.number:
        console.print("Say which exercise to reset (`kata reset 1`), or `kata reset --all`.")
        return 2
    root = find_root()
    chosen = catalogue.exercises() if args.all else [catalogue.by_number(args.number)]
    for exercise in chosen:
        stub = make_stub((root / "solutions" / exercise.file_name).read_text(), exercise)
        current = root / "exercises" / exercise.file_name
        if current.exists() and current.read_text() == stub:
            console.print(f"exercises/{exercise.file_name} is already the stub")
            continue
        copy = backup(root, exercise)
        current.write_text(stub)
        kept = f"; your version is kept in {copy.relative_to(root)}" if copy else ""
        console.print(f"exercises/{exercise.file_name} is the stub again{kept}")
    return 0
