"""The MNIST loader: three sources, one format, and errors that name the file."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from savedmodel_kata import mnist as data
from savedmodel_kata import settings as kata_settings
from savedmodel_kata.errors import DataError
from savedmodel_kata.mnist import load_mnist_dataset, stratified_split


@pytest.fixture(autouse=True)
def no_source_from_environment(monkeypatch):
    for name in ("KATA_MNIST_SOURCE", "KATA_MNIST_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kata_settings, "_current", None)  # resolved again from the environment


def check_format(arrays, train_size, test_size):
    train_images, train_labels, test_images, test_labels = arrays
    assert train_images.shape == (train_size, 28, 28, 1) and test_images.shape == (
        test_size,
        28,
        28,
        1,
    )
    assert train_images.dtype == test_images.dtype == np.float32
    assert train_images.min() >= 0.0 and train_images.max() <= 1.0
    assert train_labels.shape == (train_size,) and test_labels.shape == (test_size,)
    assert train_labels.dtype == test_labels.dtype == np.int64


# --- bundled -----------------------------------------------------------------


def test_bundled_digits_split_8000_2000_in_the_kata_format():
    arrays = load_mnist_dataset()
    check_format(arrays, 8000, 2000)
    assert arrays[0].max() == 1.0  # scaled from 0..255, not left as bytes


def test_bundled_split_is_stratified_and_the_same_every_time():
    first, second = load_mnist_dataset("bundled"), load_mnist_dataset("bundled")
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)
    train_counts, test_counts = np.bincount(first[1]), np.bincount(first[3])
    # Every digit is split 80 / 20 (to the nearest image).
    assert np.all(np.abs(test_counts - 0.2 * (train_counts + test_counts)) <= 0.5)
    # Shuffled: the file is grouped by digit, training must not see all zeros first.
    assert len(set(first[1][:100])) == 10


@settings(max_examples=30)
@given(labels=st.lists(st.integers(0, 9), min_size=1, max_size=400), seed=st.integers(0, 2**32 - 1))
def test_stratified_split_partitions_every_class(labels, seed):
    labels = np.array(labels)
    train, test = stratified_split(labels, seed=seed)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    for digit in np.unique(labels):
        members = int(np.sum(labels == digit))
        assert int(np.sum(labels[test] == digit)) == round(members * data.TEST_FRACTION)


def test_a_damaged_bundled_file_is_named(tmp_path, monkeypatch):
    damaged = tmp_path / "mnist-digits-10k.npz"
    content = bytearray(data.BUNDLED_FILE.read_bytes())
    content[1000] ^= 0xFF
    damaged.write_bytes(bytes(content))
    monkeypatch.setattr(data, "BUNDLED_FILE", damaged)
    with pytest.raises(DataError, match=r"damaged.*sha256"):
        load_mnist_dataset("bundled")


# --- IDX files ---------------------------------------------------------------


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    return (
        struct.pack(">i", magic)
        + struct.pack(">" + "i" * array.ndim, *array.shape)
        + array.tobytes()
    )


def write_idx_folder(folder, arrays, gzipped=False, dotted=False):
    folder.mkdir(exist_ok=True)
    for key, stem in data.IDX_FILES.items():
        magic = data.IDX_LABELS_MAGIC if key.endswith("labels") else data.IDX_IMAGES_MAGIC
        content = idx_bytes(arrays[key], magic)
        name = stem.replace("-idx", ".idx") if dotted else stem
        if gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)


def random_arrays(rng, train=12, test=5):
    return {
        "train_images": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, test, dtype=np.uint8),
    }


@settings(max_examples=10)
@given(gzipped=st.booleans(), dotted=st.booleans(), seed=st.integers(0, 1000))
def test_idx_folder_round_trips(tmp_path_factory, gzipped, dotted, seed):
    folder = tmp_path_factory.mktemp("idx")
    arrays = random_arrays(np.random.default_rng(seed))
    write_idx_folder(folder, arrays, gzipped=gzipped, dotted=dotted)
    loaded = load_mnist_dataset("idx", folder)
    check_format(loaded, 12, 5)
    assert np.array_equal(loaded[0][..., 0], arrays["train_images"] / np.float32(255))
    assert np.array_equal(loaded[3], arrays["test_labels"])


def test_idx_folder_is_chosen_by_environment_variable(tmp_path, monkeypatch):
    write_idx_folder(tmp_path, random_arrays(np.random.default_rng(0)))
    monkeypatch.setenv("KATA_MNIST_DIR", str(tmp_path))
    monkeypatch.setattr(kata_settings, "_current", None)
    check_format(load_mnist_dataset(), 12, 5)


@pytest.fixture
def idx_folder(tmp_path):
    write_idx_folder(tmp_path, random_arrays(np.random.default_rng(1)))
    return tmp_path


def test_missing_idx_file_is_named(idx_folder):
    (idx_folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is missing"):
        load_mnist_dataset("idx", idx_folder)


def test_truncated_idx_file_is_named(idx_folder):
    path = idx_folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte is truncated"):
        load_mnist_dataset("idx", idx_folder)


def test_idx_file_with_the_wrong_magic_number_is_named(idx_folder):
    # Labels where images belong: the classic mix-up.
    shutil.copy(idx_folder / "train-labels-idx1-ubyte", idx_folder / "train-images-idx3-ubyte")
    with pytest.raises(
        DataError, match="train-images-idx3-ubyte has magic number 2049, expected 2051"
    ):
        load_mnist_dataset("idx", idx_folder)


def test_corrupt_gzip_file_is_named(idx_folder):
    (idx_folder / "train-labels-idx1-ubyte").unlink()
    (idx_folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(
        DataError, match=r"train-labels-idx1-ubyte.gz cannot be read as a gzip file"
    ):
        load_mnist_dataset("idx", idx_folder)


def test_idx_source_without_a_folder_says_how_to_give_one():
    with pytest.raises(DataError, match="needs a folder"):
        load_mnist_dataset("idx")


# --- Keras' cache ------------------------------------------------------------


def test_keras_cache_file_is_read_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    arrays = random_arrays(np.random.default_rng(2))
    (tmp_path / "datasets").mkdir()
    np.savez(
        tmp_path / "datasets" / "mnist.npz",
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
    )
    check_format(load_mnist_dataset("keras"), 12, 5)


def test_damaged_keras_cache_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").write_bytes(b"PK broken")
    with pytest.raises(DataError, match=r"mnist.npz is not a readable Keras mnist.npz"):
        load_mnist_dataset("keras")


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(DataError, match="bundled, keras, idx"):
        load_mnist_dataset("internet")
