"""A cache of trained models, so repeated test runs do not retrain.

An entry is keyed on everything training depends on (the model code, the
training code, the data, the hyper-parameters and the TensorFlow version),
so a hit gives exactly the weights training would give: the cache can make
a run faster, never change its result. Entries live in a temporary folder
(the cache_dir setting, KATA_CACHE_DIR); a damaged entry is ignored and
rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from savedmodel_kata import settings


def cache_dir() -> Path:
    return settings.current().cache_dir


def enabled() -> bool:
    return not settings.current().no_cache


def make_key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


def load(key: str) -> tuple[dict[str, np.ndarray], dict] | None:
    """The variable values and stats stored under `key`, or None."""
    if not enabled():
        return None
    folder = cache_dir() / key
    try:
        with np.load(folder / "variables.npz") as archive:
            values = {_decode(name): archive[name] for name in archive.files}
        stats = json.loads((folder / "stats.json").read_text())
    except (OSError, ValueError, KeyError):
        return None
    return values, stats


def store(key: str, values: dict[str, np.ndarray], stats: dict) -> None:
    if not enabled():
        return
    folder = cache_dir() / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a run killed half-way never leaves a half entry.
        for name, write in (
            (
                "variables.npz",
                lambda handle: np.savez(handle, **{_encode(k): v for k, v in values.items()}),
            ),
            ("stats.json", lambda handle: handle.write(json.dumps(stats).encode())),
        ):
            with tempfile.NamedTemporaryFile(dir=folder, delete=False) as handle:
                write(handle)
            os.replace(handle.name, folder / name)
    except OSError:
        pass  # a read-only or full temp folder only costs speed


# Variable names contain '/' and ':', which npz member names must not.
def _encode(name: str) -> str:
    return name.replace("/", "|").replace(":", "!")


def _decode(name: str) -> str:
    return name.replace("|", "/").replace("!", ":")
