"""A cache of trained models, so repeated test runs do not retrain.

A hit must give exactly the weights training would give, and three things
make it so:

* The key holds everything the result depends on: who trained (the scope,
  below), what the model computes and its starting values, the harness's
  training code (every module of this package and the TensorFlow set-up,
  not only the kind's own file: the Keras kind inherits the module kind's),
  the data, the hyper-parameters, and what it ran on (TensorFlow, Keras,
  numpy and Python versions, the processor's architecture and instruction
  sets, by which oneDNN picks its kernels, and the environment variables that
  choose kernels and threads).
* Training is deterministic for a key: op determinism, one thread order;
  tests/harness/test_determinism.py trains every kind in two processes, one
  of them beside a CPU hog, and compares the weights bit for bit.
* Only the harness training the reference writes what the reference reads.
  Code under test writes in a scope of its own (its file), so nothing it
  does, however stateful, reaches an entry the reference or another
  submission reads; it may read the reference's entries, whose key says it
  computes what the reference computes from where the reference starts.

An entry is one file, written whole (a temporary file, then a rename) with
a digest of its contents, checked on every read: a torn, damaged or edited
entry is a miss and is rewritten. The folder (the cache_dir setting,
KATA_CACHE_DIR) is the user's own (or root's, for a grading image): one
that another user owns or may write to is not used.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import platform
import stat
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel_kata import settings

# The scope of the harness training solutions/ code: the only writer whose entries the
# reference's fixtures read.
REFERENCE = "reference"
ENTRY_FILE = "entry.npz"
_STATS = "__stats__"
_DIGEST = "__digest__"


def code_under_test(path: Path | str) -> str:
    """The scope of code under test at `path`: its entries are read by that code only."""
    return f"code under test: {Path(path).resolve()}"


def cache_dir() -> Path:
    return settings.current().cache_dir


def enabled() -> bool:
    return not settings.current().no_cache and _usable(cache_dir())


def make_key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


@functools.cache
def platform_fingerprint() -> tuple[str, ...]:
    """The software and processor a training ran on: the same key on another machine (or
    after an upgrade) is another entry."""
    import keras

    from savedmodel_kata.tensorflow_setup import import_tensorflow

    return (
        sys.version,
        platform.machine(),
        _processor_flags(),
        *_settings_of_the_kernels(),
        import_tensorflow().__version__,
        keras.__version__,
        np.__version__,
    )


def _settings_of_the_kernels() -> list[str]:
    """Environment variables that choose kernels or threads (TF_ENABLE_ONEDNN_OPTS=0 trains to
    other weights); TensorFlow's log levels change nothing."""
    prefixes = ("TF_", "OMP_", "KMP_", "MKL_", "ONEDNN_", "DNNL_", "OPENBLAS_")
    return sorted(
        f"{name}={value}"
        for name, value in os.environ.items()
        if name.startswith(prefixes) and not name.startswith("TF_CPP_")
    )


def _processor_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return " ".join(sorted(line.partition(":")[2].split()))
    except OSError:
        pass
    return platform.processor()


def training_sources() -> tuple[bytes, ...]:
    """The harness code a training runs through: every module of kinds/, and the set-up."""
    package = Path(__file__).parent
    files = [*sorted(package.glob("*.py")), package.parent / "tensorflow_setup.py"]
    return tuple(path.read_bytes() for path in files)


def load(key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The variable values and stats stored under `key`, or None (no entry, or a damaged one)."""
    if not enabled():
        return None
    try:
        with np.load(cache_dir() / key / ENTRY_FILE) as archive:
            arrays = {name: archive[name] for name in archive.files}
        recorded = bytes(arrays.pop(_DIGEST)).decode()
        stats_bytes = bytes(arrays.pop(_STATS))
        values = {_decode(name): value for name, value in arrays.items()}
        if recorded != _digest(values, stats_bytes):
            return None
        return values, json.loads(stats_bytes)
    except (OSError, ValueError, KeyError, UnicodeDecodeError, EOFError, zipfile.BadZipFile):
        return None


def store(key: str, values: dict[str, np.ndarray], stats: dict[str, Any]) -> None:
    if not enabled():
        return
    stats_bytes = json.dumps(stats).encode()
    arrays = {_encode(name): np.asarray(value) for name, value in values.items()}
    arrays[_STATS] = np.frombuffer(stats_bytes, np.uint8)
    arrays[_DIGEST] = np.frombuffer(_digest(values, stats_bytes).encode(), np.uint8)
    folder = cache_dir() / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub: only allow_pickle
        # Write then rename: a run killed half-way never leaves half an entry.
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as handle:
            handle.write(buffer.getvalue())
        os.replace(handle.name, folder / ENTRY_FILE)
    except OSError:
        pass  # a read-only or full temp folder only costs speed


def _digest(values: dict[str, np.ndarray], stats_bytes: bytes) -> str:
    parts: list[object] = [stats_bytes]
    for name in sorted(values):
        value = np.ascontiguousarray(values[name])
        parts += [name, value.dtype.str, value.shape, value.tobytes()]
    return make_key(*parts)


def _usable(folder: Path) -> bool:
    """The folder is (or can be made) this user's own or root's, writable by nobody else."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
    except OSError:
        return False
    if not hasattr(os, "getuid"):
        return True  # Windows: a user's temporary folder is their own
    owner_trusted = info.st_uid in (os.getuid(), 0)
    return owner_trusted and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


# Variable names contain '/' and ':', which npz member names must not.
def _encode(name: str) -> str:
    return name.replace("/", "|").replace(":", "!")


def _decode(name: str) -> str:
    return name.replace("|", "/").replace("!", ":")
