"""Custom objects (exercise 8): exercise 3's Keras network behind a layer of the student's own.

`create_model(train_images)` returns a Keras model whose first layer
standardizes pixels with statistics of the images it is given, kept as
non-trainable weights; the kind gives it the bundled training digits, so
every model it builds (reference, student, copies) starts from the same
statistics, and training is exercise 3's (`compile`, `train_on_batch`).
`save(model, keras_file)` writes a .keras file, `MODEL_FILE` inside the
export folder; `load_signature_tensors(path, allowed=(STANDARDIZE,))` checks
a file before loading it and returns {'model', 'format', 'checked'};
`evaluate(model, images, labels)` scores the Keras model it returned.
Snapshots hold the non-trainable weights too, and the cache key their
values: the statistics decide what the model computes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel_kata.errors import ModelError
from savedmodel_kata.kinds.base import CreateModel, ExerciseFunction, Export, Loaded
from savedmodel_kata.kinds.keras import KerasKind, _without_names
from savedmodel_kata.kinds.module import seeded
from savedmodel_kata.kinds.training import SEED, Snapshot
from savedmodel_kata.mnist import bundled_digits
from savedmodel_kata.tensorflow_setup import import_tensorflow

MODEL_FILE = "model.keras"  # what save writes, inside the export folder
# The registered name of the exercise's layer: the one custom object the kind's loads allow.
STANDARDIZE = "savedmodel_kata>Standardize"


def keras_file_in(directory: Path) -> Path:
    return Path(directory) / MODEL_FILE


def _without_own_modules(config: Any) -> Any:
    # A registered class's config names the module it was imported as: the same file under
    # another target (solutions, exercises, a mutant) computes the same.
    if isinstance(config, dict):
        own = config.get("registered_name") and not str(config.get("module")).startswith("keras")
        return {
            key: _without_own_modules(value)
            for key, value in config.items()
            if not (own and key == "module")
        }
    if isinstance(config, list):
        return [_without_own_modules(value) for value in config]
    return config


class CustomKind(KerasKind):
    name = "custom"
    serving_key = evaluate_key = "keras"  # a .keras file has no signatures: unused
    export_name = MODEL_FILE
    loaded_contract = (
        "a dict with 'model' (the Keras model loaded), 'format' ('keras' or 'savedmodel') and "
        "'checked' (what the check read)"
    )

    def new_model(
        self, create_model: CreateModel, *, seed: int = SEED, for_training: bool = True
    ) -> Any:
        images = bundled_digits().train_images
        return seeded(lambda: create_model(images), seed)

    def snapshot(self, model: Any) -> Snapshot:
        state = super().snapshot(model)
        state.update(
            {f"fixed/{i}": np.array(v) for i, v in enumerate(model.non_trainable_variables)}
        )
        return state

    def restore(self, model: Any, snapshot: Snapshot) -> None:
        fixed = list(model.non_trainable_variables)
        if len(fixed) != sum(name.startswith("fixed/") for name in snapshot):
            raise KeyError("the stored non-trainable weights do not fit this model")
        for i, variable in enumerate(fixed):
            variable.assign(snapshot[f"fixed/{i}"])
        super().restore(model, snapshot)

    def _identity(self, model: Any) -> bytes:
        """The config without layer names, the non-trainable weights (the statistics), and what
        the model computes on a fixed batch: its logits, and in training mode (a layer may behave
        otherwise there) its logits and the gradients of the tutorial's loss.
        Not the source of the custom layer (exercise 3's way): that is the whole exercise file,
        and every edit of save or evaluate would retrain; two layers that compute and train
        alike train to the same weights."""
        tf = import_tensorflow()
        config = json.loads(model.to_json())
        config = json.dumps(_without_names(_without_own_modules(config)), sort_keys=True)
        fixed = [np.array(v).tobytes() for v in model.non_trainable_variables]
        images = np.random.default_rng(SEED).random((8, 28, 28, 1), dtype=np.float32)
        labels = tf.constant(np.arange(8) % 10, tf.int64)
        logits = model(tf.constant(images), training=False)
        with tf.GradientTape() as tape:  # as train_on_batch calls it: a layer may tell apart
            trained = model(tf.constant(images), training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=trained)
            )
        gradients = tape.gradient(loss, model.trainable_variables)
        computed = [np.asarray(logits).tobytes(), np.asarray(trained).tobytes()] + [
            np.asarray(g).tobytes() if g is not None else b"none" for g in gradients
        ]
        return b"\n".join([config.encode(), *fixed, *computed])

    def export(self, save: ExerciseFunction, model: Any, directory: Path) -> Export:
        Path(directory).mkdir(parents=True)
        save(model, str(keras_file_in(directory)))
        return Export(Path(directory))

    def holds_export(self, directory: Path) -> bool:
        return keras_file_in(directory).is_file()

    def foreign_entries(self, directory: Path) -> set[str]:
        """Anything but the .keras file and the runner's record."""
        return {path.name for path in Path(directory).iterdir()} - {MODEL_FILE, "assets.extra"}

    def load(
        self, load_signature_tensors: ExerciseFunction, directory: Path, key: str = "keras"
    ) -> Loaded:
        """`key` is unused: the export is one .keras file."""
        return Loaded(load_signature_tensors(str(keras_file_in(directory)), allowed=(STANDARDIZE,)))

    def loaded_model(self, loaded: Loaded) -> Any:
        value = loaded.value
        if not (isinstance(value, dict) and "model" in value):
            raise ModelError(
                f"load_signature_tensors returned {type(value).__name__}; expected "
                f"{self.loaded_contract}"
            )
        return value["model"]

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        tf = import_tensorflow()
        return tf.nn.softmax(self.loaded_model(loaded)(tf.constant(images))).numpy()

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        return evaluate(self.loaded_model(loaded), images, labels)
