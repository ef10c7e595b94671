"""The `Kind` protocol: what every kind of exercise does, and what its steps return.

A *kind* (graph, module, keras, bridge, ...) knows how an exercise's model is
built, trained, copied, exported with the exercise's `save`, reloaded with
its `load_signature_tensors` and scored with its `evaluate`: the calling
conventions differ from exercise to exercise, the steps do not. The runner
(`kata train` / `kata load`), the benchmark and the tests' fixtures use only
this protocol, so adding an exercise of an existing kind needs no new
harness code. The training loop is in training.py, the scores in score.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from savedmodel_kata.errors import ModelError
from savedmodel_kata.kinds import cache
from savedmodel_kata.kinds.score import NUM_CLASSES, Epoch, Score, TrainingStats, batches
from savedmodel_kata.kinds.training import (
    BATCH_SIZE,
    EPOCHS,
    LEARNING_RATE,
    SEED,
    Snapshot,
    Step,
    Weights,
    fit,
)

# The exercise's own functions, as the kinds call them; each kind's conventions differ.
CreateModel = Callable[..., Any]
ExerciseFunction = Callable[..., Any]


class Trained(NamedTuple):
    model: Any
    stats: TrainingStats


def saved_model_file(export_dir: Path) -> Path | None:
    """The export's SavedModel proto: saved_model.pb, or saved_model.pbtxt (a text proto, which
    both loaders read too); None if the folder holds neither."""
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        path = Path(export_dir) / name
        if path.is_file():
            return path
    return None


# What an export folder of a SavedModel holds. assets.extra: files it carries along, which
# TensorFlow never reads (the runner's training record goes there, in every kind's folder).
SAVEDMODEL_ENTRIES = frozenset(
    {"saved_model.pb", "saved_model.pbtxt", "variables", "assets", "assets.extra", "fingerprint.pb"}
)


class Export(NamedTuple):
    """What an exercise's save wrote: the SavedModel folder, and the .keras file for Keras."""

    directory: Path
    keras_file: Path | None = None


class Loaded(NamedTuple):
    """What an exercise's load_signature_tensors returned, and the session it lives in, if any."""

    value: Any
    session: Any = None

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class Kind:
    """The protocol. Subclasses implement the model half and the exercise half."""

    name: str
    # The signature the runner predicts with, and the one it evaluates with.
    serving_key = "serving_default"
    evaluate_key = "evaluate"
    # What load_signature_tensors must return, in a user's words (for the runner's errors).
    loaded_contract: str
    # What save writes, in a user's words (the runner checks a folder holds it before loading).
    export_name = "SavedModel"

    def __repr__(self) -> str:  # short: Hypothesis prints fixtures with a falsifying example
        return f"<kind {self.name}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    # --- the model: build, copy, predict, score ----------------------------------

    def new_model(
        self, create_model: CreateModel, *, seed: int = SEED, for_training: bool = True
    ) -> Any:
        """`create_model`'s model with seeded initial weights (ready to train unless not
        for_training)."""
        raise NotImplementedError

    def close(self, model: Any) -> None:
        """Release what `model` holds (a session); a no-op for eager models."""

    def weights(self, model: Any) -> Weights:
        raise NotImplementedError

    def assign(self, model: Any, weights: Weights) -> None:
        """Set each trainable variable to the array of its shape; ModelError if the shapes
        differ."""
        raise NotImplementedError

    def snapshot(self, model: Any) -> Snapshot:
        """Every value a copy needs (weights, and optimizer state where the kind keeps it)."""
        raise NotImplementedError

    def restore(self, model: Any, snapshot: Snapshot) -> None:
        raise NotImplementedError

    def copy(self, create_model: CreateModel, snapshot: Snapshot) -> Any:
        """A private live model holding `snapshot`: code under test can change it, not the
        original."""
        model = self.new_model(create_model, for_training=False)
        self.restore(model, snapshot)
        return model

    def predict(self, model: Any, images: np.ndarray) -> np.ndarray:
        """Softmax probabilities, [N, 10]."""
        return np.concatenate(
            [self._predict_batch(model, batch) for batch in batches(images)]
            or [np.zeros((0, NUM_CLASSES), np.float32)]
        )

    def score(self, model: Any, images: np.ndarray, labels: np.ndarray) -> Score:
        correct = sum(
            int(np.sum(np.argmax(self._predict_batch(model, batch), axis=1) == label_batch))
            for batch, label_batch in zip(batches(images), batches(labels), strict=False)
        )
        return Score(correct, len(labels))

    def initial_weights(self, create_model: CreateModel, *, seed: int = SEED) -> Weights:
        model = self.new_model(create_model, seed=seed, for_training=False)
        try:
            return self.weights(model)
        finally:
            self.close(model)

    def train(
        self,
        create_model: CreateModel,
        data: Sequence[np.ndarray],
        *,
        start_from: Weights | None = None,
        epochs: int = EPOCHS,
        batch_size: int = BATCH_SIZE,
        learning_rate: float = LEARNING_RATE,
        seed: int = SEED,
        on_epoch: Callable[[Epoch], None] | None = None,
        use_cache: bool = True,
        cache_scope: str = cache.REFERENCE,
    ) -> Trained:
        """Train as the tutorial does; `on_epoch` sees every epoch, also when replayed from
        the cache. `cache_scope` says who trains: cache.REFERENCE only for the harness training
        solutions/ code, cache.code_under_test(path) for anything else (see cache.py)."""
        model = self.new_model(create_model, seed=seed)
        try:
            if start_from is not None:
                self.assign(model, start_from)
            stats = fit(
                self,
                model,
                data,
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=learning_rate,
                seed=seed,
                on_epoch=on_epoch,
                use_cache=use_cache,
                cache_scope=cache_scope,
            )
        except BaseException:
            self.close(model)
            raise
        return Trained(model, stats)

    # --- the exercise's functions, called the way this kind's exercise defines them

    def export(self, save: ExerciseFunction, model: Any, directory: Path) -> Export:
        raise NotImplementedError

    def holds_export(self, directory: Path) -> bool:
        """Whether `directory` holds what this kind's save writes: a SavedModel proto."""
        return saved_model_file(directory) is not None

    def foreign_entries(self, directory: Path) -> set[str]:
        """The names in `directory` that this kind's export never writes: `kata train
        --overwrite` replaces a folder only when there are none (it holds somebody's files)."""
        return {path.name for path in Path(directory).iterdir()} - SAVEDMODEL_ENTRIES

    def load(self, load_signature_tensors: ExerciseFunction, directory: Path, key: str) -> Loaded:
        raise NotImplementedError

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        """What the exercise's evaluate returned (the checks judge it)."""
        raise NotImplementedError

    # --- what the training loop needs from each kind ------------------------------

    def _predict_batch(self, model: Any, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _identity(self, model: Any) -> bytes:
        """What the model computes (a graph, a config), for the cache key; not its variable
        names."""
        raise NotImplementedError

    def _step(self, model: Any, learning_rate: float) -> Step:
        """One training step on a batch of images and int64 labels; returns the loss."""
        raise NotImplementedError


def check_weight_shapes(shapes: list[tuple[int, ...]], weights: Weights) -> None:
    """ModelError unless `shapes` are one each of the shapes in `weights`."""
    if sorted(shapes) != sorted(weights) or len(set(shapes)) != len(shapes):
        raise ModelError(
            f"the model's trainable variables have shapes {sorted(shapes)}; expected one each "
            f"of {sorted(weights)}, the tutorial's layers"
        )
