"""Checkpoints (exercise 6): exercise 2's `tf.Module` with its optimizer, saved to resume training.

`create_model()` returns a module whose `classifier` is exercise 2's network
and whose `optimizer` is the Keras Adam that trains it; the module kind's
code builds, copies and scores it, and this kind trains it with that
optimizer (its slots and iteration count are part of every snapshot, since
resuming needs them). `save(model, directory, step)` writes a checkpoint
through a `tf.train.CheckpointManager`, and `load_signature_tensors(directory)`
returns `(model, step)`: a new model with the newest checkpoint restored;
`evaluate(model, images, labels)` scores such a model. An `Export`'s
directory is the checkpoint folder.

`train_steps` is the one training loop of the exercise's tests: the global
step `s` trains on batch `s mod batches` of the training digits, as the
tutorial's epochs do, so training resumed at any step continues the same
data order. It runs the same in the fresh process that resumes a checkpoint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel_kata.errors import ModelError
from savedmodel_kata.kinds.base import ExerciseFunction, Export, Loaded
from savedmodel_kata.kinds.module import ModuleKind, loss_step
from savedmodel_kata.kinds.training import BATCH_SIZE, Snapshot, Step
from savedmodel_kata.tensorflow_setup import import_tensorflow


def optimizer_of(model: Any) -> Any:
    """The model's `optimizer`, built for its trainable variables (Adam makes its slots on
    the first step; built now, a snapshot or a restore sees them)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "apply_gradients"):
        raise ModelError(
            f"the model ({type(model).__name__}) has no `optimizer` attribute holding its "
            "optimizer: give the tf.Module `self.optimizer = keras.optimizers.Adam(1e-3)`, so a "
            "checkpoint of the model holds the optimizer's state too"
        )
    if not getattr(optimizer, "built", True):
        optimizer.build(list(model.trainable_variables))
    return optimizer


def step_function(model: Any) -> Step:
    """One step of the tutorial's loss on a batch, applied by the model's own optimizer."""
    return loss_step(
        model,
        optimizer_of(model),
        where="keep the network's tf.Variables as attributes of its `classifier` tf.Module",
    )


def train_steps(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    start: int,
    stop: int,
    after: Callable[[int], None] | None = None,
) -> list[float]:
    """Train global steps start..stop-1 (step s on batch s mod batches); the losses. `after(n)`
    is called when n steps of the run are done (start itself included): it may read the model,
    not change it."""
    step = step_function(model)
    batches = len(labels) // BATCH_SIZE
    losses = []
    for number in range(start, stop):
        if after:
            after(number)
        rows = slice((number % batches) * BATCH_SIZE, (number % batches + 1) * BATCH_SIZE)
        losses.append(float(step(images[rows], labels[rows])))
    if after:
        after(stop)
    return losses


def state(model: Any) -> list[np.ndarray]:
    """Every value training changes, in order: the trainable weights, then the optimizer's
    variables (iteration count, learning rate, slots)."""
    optimizer = optimizer_of(model)
    return [np.array(v) for v in model.trainable_variables] + [
        np.array(v) for v in optimizer.variables
    ]


# A checkpoint's values are in shards named <prefix>.data-00000-of-00001.
CHECKPOINT_DATA = re.compile(r"\.data-\d+-of-\d+")


class CheckpointKind(ModuleKind):
    name = "checkpoint"
    serving_key = evaluate_key = "checkpoint"  # a checkpoint has no signatures: unused
    export_name = "checkpoint"
    loaded_contract = (
        "a pair (model, step): a new model from create_model with the newest checkpoint "
        "restored into it, and the int step it was saved at"
    )

    def snapshot(self, model: Any) -> Snapshot:
        optimizer = optimizer_of(model)
        return {
            **super().snapshot(model),
            **{f"optimizer/{i}": np.array(v) for i, v in enumerate(optimizer.variables)},
        }

    def restore(self, model: Any, snapshot: Snapshot) -> None:
        super().restore(model, snapshot)
        variables = list(optimizer_of(model).variables)
        if len(variables) != sum(name.startswith("optimizer/") for name in snapshot):
            raise KeyError("the stored optimizer state does not fit this model's optimizer")
        for i, variable in enumerate(variables):
            variable.assign(snapshot[f"optimizer/{i}"])

    def _identity(self, model: Any) -> bytes:
        """The traced network and the optimizer's settings (its name aside): both decide what
        training gives."""
        config = {k: v for k, v in optimizer_of(model).get_config().items() if k != "name"}
        optimizer = f"{type(optimizer_of(model)).__qualname__}{json.dumps(config, default=str)}"
        return super()._identity(model) + optimizer.encode()

    def _step(self, model: Any, learning_rate: float) -> Step:
        # The model's own optimizer, whatever `learning_rate` says: it is part of the model
        # (create_model's contract gives it the tutorial's 1e-3), and checkpoints hold it.
        return step_function(model)

    def export(self, save: ExerciseFunction, model: Any, directory: Path) -> Export:
        save(model, str(directory), int(optimizer_of(model).iterations))
        return Export(Path(directory))

    def holds_export(self, directory: Path) -> bool:
        tf = import_tensorflow()
        return Path(directory).is_dir() and tf.train.latest_checkpoint(str(directory)) is not None

    def foreign_entries(self, directory: Path) -> set[str]:
        """Anything but the manager's `checkpoint` index, checkpoints' .index and .data-* files
        (whatever their prefix), and the runner's record."""
        return {
            path.name
            for path in Path(directory).iterdir()
            if not (
                path.name in ("checkpoint", "assets.extra")
                or path.suffix == ".index"
                or CHECKPOINT_DATA.fullmatch(path.suffix)
            )
        }

    def load(
        self, load_signature_tensors: ExerciseFunction, directory: Path, key: str = "checkpoint"
    ) -> Loaded:
        """`key` is unused: a checkpoint has no signatures."""
        return Loaded(load_signature_tensors(str(directory)))

    def restored_model(self, loaded: Loaded) -> Any:
        value = loaded.value
        if not (isinstance(value, tuple) and len(value) == 2):
            raise ModelError(
                f"load_signature_tensors returned {type(value).__name__}; expected "
                f"{self.loaded_contract}"
            )
        return value[0]

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        return self._predict_batch(self.restored_model(loaded), images)

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        return evaluate(self.restored_model(loaded), images, labels)
