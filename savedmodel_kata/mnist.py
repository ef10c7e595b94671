"""MNIST for the kata, from one of three sources.

* ``bundled`` (the default, offline): 10,000 real MNIST digits shipped in
  ``savedmodel_kata/data/`` (see the README there for provenance and licence),
  split 8,000 / 2,000 into train and test, stratified by digit, with a fixed
  seed, so every run and every student sees the same split.
* ``keras``: the full 70,000 digits as Keras ships them: ``mnist.npz`` from
  Keras' cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``), or
  downloaded into it by ``keras.datasets.mnist.load_data()`` when online.
* ``idx``: a folder with the four official IDX files
  (``train-images-idx3-ubyte`` and so on, gzipped or not).

Whatever the source, `load_mnist_dataset` returns `Digits`: images as
float32 ``[N, 28, 28, 1]`` in [0, 1] and labels as int64 ``[N]``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from savedmodel_kata import settings
from savedmodel_kata.errors import DataError

SOURCES = ("bundled", "keras", "idx")

BUNDLED_FILE = Path(__file__).parent / "data" / "mnist-digits-10k.npz"
BUNDLED_SHA256 = "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef"
TEST_FRACTION = 0.2
SPLIT_SEED = 0

IMAGE_SIZE = 28
NUM_CLASSES = 10
IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class Digits(NamedTuple):
    """Images float32 [N, 28, 28, 1] in [0, 1], labels int64 [N]."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def __repr__(self) -> str:  # short: Hypothesis prints fixtures with a falsifying example
        return f"<MNIST: {len(self.train_labels)} train and {len(self.test_labels)} test digits>"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis' printer asks for this one
        printer.text(repr(self))


def load_mnist_dataset(
    source: str | None = None, idx_dir: str | os.PathLike | None = None
) -> Digits:
    """The digits of `source`, one of SOURCES.

    When `source` is None, the settings decide (KATA_MNIST_SOURCE), else
    ``idx`` if a folder is given (argument or KATA_MNIST_DIR), else ``bundled``.
    """
    chosen = settings.current()
    idx_dir = idx_dir or chosen.mnist_dir
    source = source or chosen.mnist_source or ("idx" if idx_dir else "bundled")
    if source == "bundled":
        raw = _load_bundled()
    elif source == "keras":
        raw = _load_keras()
    elif source == "idx":
        if not idx_dir:
            raise DataError(
                "source 'idx' needs a folder: pass idx_dir=... (or --idx-dir) or set KATA_MNIST_DIR"
            )
        raw = _load_idx_folder(Path(idx_dir))
    else:
        raise DataError(f"unknown MNIST source {source!r}: choose one of {', '.join(SOURCES)}")
    train_images, train_labels, test_images, test_labels = raw
    return Digits(
        _normalise_images(train_images),
        train_labels.astype(np.int64),
        _normalise_images(test_images),
        test_labels.astype(np.int64),
    )


@functools.cache
def bundled_digits() -> Digits:
    """Kept for the life of the process: `kata watch` and `kata status` run pytest many times."""
    # Arrays of their own memory (not views of a writable base), read-only: shared between
    # runs, no test may change them.
    digits = Digits(*(np.array(array) for array in load_mnist_dataset("bundled")))
    for array in digits:
        array.setflags(write=False)
    return digits


def _normalise_images(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


# --- bundled -----------------------------------------------------------------


def stratified_split(
    labels: np.ndarray, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED
):
    """Indices (train, test): each digit split in the same proportion, both shuffled.

    The bundled file is grouped by digit, so an unshuffled slice would train on
    zeros only; shuffling with a fixed seed keeps the split the same everywhere.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        cut = round(len(members) * test_fraction)
        test.append(members[:cut])
        train.append(members[cut:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _load_bundled():
    if not BUNDLED_FILE.is_file():
        raise DataError(
            f"{BUNDLED_FILE} is missing: restore it with `git checkout -- {BUNDLED_FILE.name}`"
        )
    digest = hashlib.sha256(BUNDLED_FILE.read_bytes()).hexdigest()
    if digest != BUNDLED_SHA256:
        raise DataError(
            f"{BUNDLED_FILE} is damaged: its sha256 is {digest}, expected {BUNDLED_SHA256}. "
            "Restore it from git."
        )
    with np.load(BUNDLED_FILE) as archive:
        images, labels = archive["images"], archive["labels"]
    train, test = stratified_split(labels)
    return images[train], labels[train], images[test], labels[test]


# --- Keras -------------------------------------------------------------------


def keras_cache_file() -> Path:
    """Where Keras keeps mnist.npz: $KERAS_HOME/datasets, default ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def _load_keras():
    cached = keras_cache_file()
    if not cached.is_file():
        try:
            import keras  # imports TensorFlow: only when a download is needed

            keras.datasets.mnist.load_data()
        except Exception as error:  # offline, proxy, disk full: all end the same way
            raise DataError(
                f"Keras could not download MNIST into {cached} ({type(error).__name__}: {error}). "
                "Offline? Use the bundled digits (the default) or a folder of IDX files "
                "(--idx-dir)."
            ) from error
    try:
        with np.load(cached) as archive:
            return archive["x_train"], archive["y_train"], archive["x_test"], archive["y_test"]
    except (OSError, ValueError, KeyError) as error:
        raise DataError(
            f"{cached} is not a readable Keras mnist.npz ({error}); "
            "delete it and Keras will download it again."
        ) from error


# --- IDX files ---------------------------------------------------------------


def _find_idx_file(folder: Path, stem: str) -> Path:
    # The official names use '-idx3-ubyte'; some mirrors write '.idx3-ubyte'.
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder / stem} is missing: expected {stem} or {stem}.gz in {folder}")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes; check magic and size."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(
            f"{path} cannot be read as a gzip file ({error}); download it again."
        ) from error
    dimensions = magic & 0xFF
    header_size = 4 + 4 * dimensions
    if len(data) < header_size:
        raise DataError(
            f"{path} is truncated: {len(data)} bytes, shorter than its {header_size}-byte header"
        )
    found_magic = struct.unpack(">i", data[:4])[0]
    if found_magic != magic:
        raise DataError(
            f"{path} has magic number {found_magic}, expected {magic} "
            f"({'images' if magic == IDX_IMAGES_MAGIC else 'labels'}): is it the right file?"
        )
    shape = struct.unpack(">" + "i" * dimensions, data[4:header_size])
    expected = header_size + int(np.prod(shape))
    if len(data) != expected:
        raise DataError(
            f"{path} is truncated or padded: {len(data)} bytes, "
            f"expected {expected} for shape {shape}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def _load_idx_folder(folder: Path):
    if not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder: give the folder that holds the four MNIST IDX files"
        )
    arrays = {
        key: read_idx(
            _find_idx_file(folder, stem),
            IDX_LABELS_MAGIC if key.endswith("labels") else IDX_IMAGES_MAGIC,
        )
        for key, stem in IDX_FILES.items()
    }
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) != len(labels):
            raise DataError(
                f"{folder}: {part} images have shape {images.shape} and labels {labels.shape}; "
                f"expected [N, {IMAGE_SIZE}, {IMAGE_SIZE}] images and N labels"
            )
    return (
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
    )
