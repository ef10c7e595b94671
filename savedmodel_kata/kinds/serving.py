"""Serving (exercise 5): exercise 2's trained classifier wrapped for clients, in version folders.

`create_model(classifier, labels_file)` wraps a trained classifier in a
module whose signatures take what clients send (uint8 pixels, PNG bytes) and
answer with a digit, probabilities and a label read from an asset. The
classifier is exercise 2's reference (the catalogue's `builds_on`): whoever
reads the repository's solutions hands its create_model in
(`kind.built_on(create_classifier)`; this kind never looks for a repository).
It is trained by the module kind: the same loop and the same cache entry as
exercise 2's, so this kind never trains anything of its own. The labels are
the digits' English names, written once per process into a file of its own.

`save(model, base_dir)` writes `base_dir/N` and returns it: an `Export`'s
directory is that version folder. `load_signature_tensors(base_dir, key)`
takes the base folder, so `load` gives it one that serves the version
folder it is handed (its parent when that folder is the highest integer
version there, else a private base holding a link named '1'). The loaded
signatures take uint8 [N, 28, 28] pixels: the kind turns the harness's
float images (exactly k/255) into those before predicting or evaluating.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from savedmodel_kata.errors import KataError
from savedmodel_kata.kinds import cache
from savedmodel_kata.kinds.base import (
    CreateModel,
    ExerciseFunction,
    Export,
    Kind,
    Loaded,
    Trained,
)
from savedmodel_kata.kinds.module import ModuleKind
from savedmodel_kata.kinds.training import SEED, Snapshot, Weights
from savedmodel_kata.tensorflow_setup import import_tensorflow

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def client_pixels(images: Any) -> np.ndarray:
    """What a client sends: uint8 [N, 28, 28], 0 to 255. Float [N, 28, 28, 1] images in [0, 1]
    (the harness's digits, exactly k/255) are converted; uint8 pixels are kept as they are."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if images.ndim == 4:
        images = images[..., 0]
    return np.round(images * 255).astype(np.uint8)


@functools.cache
def _scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="kata-serving-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def write_labels(
    folder: Path | str, labels: Iterable[str] = DIGIT_NAMES, name: str = "labels.txt"
) -> Path:
    """A labels file as create_model takes it: one label a line, line d naming digit d."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return path


_bases = itertools.count()


def serving_base(directory: Path) -> Path:
    """A model base folder whose highest version is `directory` (a version folder)."""
    directory = Path(directory)
    parent = directory.parent
    if directory.name.isdigit() and directory.is_dir():
        versions = [int(p.name) for p in parent.iterdir() if p.name.isdigit() and p.is_dir()]
        if max(versions, default=0) == int(directory.name):
            return parent
    base = _scratch() / f"base-{next(_bases)}"
    base.mkdir()
    (base / "1").symlink_to(directory.resolve(), target_is_directory=True)
    return base


class ServingKind(Kind):
    name = "serving"
    serving_key = "serving_default"
    evaluate_key = "serving_default"  # evaluate counts the 'digit' answers of serving_default
    loaded_contract = (
        "a dict with 'inputs' and 'outputs' (names to tf.TensorSpec), the signature's "
        "'function', the 'loaded' object and the 'version' (an int)"
    )

    def __init__(self, create_classifier: CreateModel | None = None) -> None:
        from savedmodel_kata import kinds

        self.classifiers = cast(ModuleKind, kinds.named("module"))
        self._create_classifier = create_classifier

    # --- the classifier: exercise 2's reference, trained and copied by the module kind

    def built_on(self, create_classifier: CreateModel) -> ServingKind:
        """This kind around the classifiers `create_classifier` makes (the reference's of the
        exercise the catalogue's `builds_on` names)."""
        return ServingKind(create_classifier)

    @property
    def create_classifier(self) -> CreateModel:
        if self._create_classifier is None:
            raise KataError(
                "the serving kind wraps a classifier it is given: use "
                "kind.built_on(create_model of the reference the catalogue's builds_on names)"
            )
        return self._create_classifier

    def labels_file(self) -> Path:
        path = _scratch() / "digit-names" / "labels.txt"
        return path if path.is_file() else write_labels(path.parent)

    def classifier(self, snapshot: Snapshot | None = None, *, seed: int = SEED) -> Any:
        """A new classifier: seeded, or holding `snapshot` (the trained one's values)."""
        model = self.classifiers.new_model(self.create_classifier, seed=seed)
        if snapshot is not None:
            self.classifiers.restore(model, snapshot)
        return model

    def wrap(
        self,
        create_model: CreateModel,
        snapshot: Snapshot | None = None,
        labels_file: Path | None = None,
    ) -> Any:
        """`create_model(classifier, labels_file)`, around a copy of the classifier in
        `snapshot` (or a seeded, untrained one)."""
        return create_model(self.classifier(snapshot), str(labels_file or self.labels_file()))

    # --- the Kind protocol -------------------------------------------------------------

    def new_model(
        self, create_model: CreateModel, *, seed: int = SEED, for_training: bool = True
    ) -> Any:
        return create_model(self.classifier(seed=seed), str(self.labels_file()))

    def copy(self, create_model: CreateModel, snapshot: Snapshot) -> Any:
        return self.wrap(create_model, snapshot)

    def train(
        self,
        create_model: CreateModel,
        data: Sequence[np.ndarray],
        *,
        start_from: Weights | None = None,
        **options: Any,
    ) -> Trained:
        """Exercise 2's classifier trained as the module kind trains it (and cached with it),
        then wrapped by `create_model`."""
        # Only exercise 2's reference code trains here, whoever asks: the reference's scope.
        options["cache_scope"] = cache.REFERENCE
        trained = self.classifiers.train(
            self.create_classifier, data, start_from=start_from, **options
        )
        return Trained(create_model(trained.model, str(self.labels_file())), trained.stats)

    def weights(self, model: Any) -> Weights:
        return self.classifiers.weights(model)

    def assign(self, model: Any, weights: Weights) -> None:
        self.classifiers.assign(model, weights)

    def snapshot(self, model: Any) -> Snapshot:
        return self.classifiers.snapshot(model)

    def restore(self, model: Any, snapshot: Snapshot) -> None:
        self.classifiers.restore(model, snapshot)

    def _predict_batch(self, model: Any, images: np.ndarray) -> np.ndarray:
        tf = import_tensorflow()
        return model.classify_pixels(tf.constant(client_pixels(images)))["probabilities"].numpy()

    # --- the exercise's functions ------------------------------------------------------

    def export(self, save: ExerciseFunction, model: Any, directory: Path) -> Export:
        written = save(model, str(directory))
        return Export(Path(written) if isinstance(written, (str, os.PathLike)) else directory)

    def load(self, load_signature_tensors: ExerciseFunction, directory: Path, key: str) -> Loaded:
        return Loaded(load_signature_tensors(str(serving_base(directory)), key))

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        tf = import_tensorflow()
        (name,) = loaded.value["inputs"]
        outputs = loaded.value["function"](**{name: tf.constant(client_pixels(images))})
        return outputs["probabilities"].numpy()

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        return evaluate(loaded.value, client_pixels(images), labels)
