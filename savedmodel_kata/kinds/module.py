"""TensorFlow 2: a `tf.Module` (exercise 2), trained with a `tf.GradientTape` loop.

`create_model()` returns a module whose `__call__(x)` gives logits; the
harness seeds TensorFlow before calling it. It is exported with
`save(model, export_dir)` and reloaded the TF2 way (see graph.SignatureLoading).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from savedmodel_kata.errors import ModelError
from savedmodel_kata.kinds.base import (
    CreateModel,
    ExerciseFunction,
    Export,
    Kind,
    check_weight_shapes,
)
from savedmodel_kata.kinds.graph import SignatureLoading
from savedmodel_kata.kinds.training import SEED, Snapshot, Step, Weights
from savedmodel_kata.tensorflow_setup import import_tensorflow


def seeded(create_model: CreateModel, seed: int = SEED) -> Any:
    """`create_model()` with TensorFlow's and Keras' global seeds set: reproducible initial
    weights."""
    tf = import_tensorflow()
    tf.random.set_seed(seed)
    import keras

    keras.utils.set_random_seed(seed)
    return create_model()


class ModuleKind(SignatureLoading, Kind):
    name = "module"

    def new_model(
        self, create_model: CreateModel, *, seed: int = SEED, for_training: bool = True
    ) -> Any:
        return seeded(create_model, seed)

    def weights(self, model: Any) -> Weights:
        return {tuple(v.shape): np.array(v) for v in model.trainable_variables}

    def assign(self, model: Any, weights: Weights) -> None:
        variables = list(model.trainable_variables)
        shapes = [tuple(v.shape) for v in variables]
        check_weight_shapes(shapes, weights)
        for variable, shape in zip(variables, shapes, strict=True):
            variable.assign(weights[shape])

    def snapshot(self, model: Any) -> Snapshot:
        return {f"weight/{i}": np.array(v) for i, v in enumerate(model.trainable_variables)}

    def restore(self, model: Any, snapshot: Snapshot) -> None:
        variables = list(model.trainable_variables)
        if len(variables) != sum(name.startswith("weight/") for name in snapshot):
            raise KeyError("the stored weights do not fit this model")
        for i, variable in enumerate(variables):
            variable.assign(snapshot[f"weight/{i}"])

    def _logits(self, model: Any, images: np.ndarray) -> Any:
        tf = import_tensorflow()
        return model(tf.constant(images))

    def _predict_batch(self, model: Any, images: np.ndarray) -> np.ndarray:
        tf = import_tensorflow()
        return tf.nn.softmax(self._logits(model, images)).numpy()

    def _identity(self, model: Any) -> bytes:
        """The traced graph of __call__: what the model computes."""
        tf = import_tensorflow()
        traced = tf.function(model.__call__).get_concrete_function(
            tf.TensorSpec([None, 28, 28, 1], tf.float32)
        )
        return traced.graph.as_graph_def().SerializeToString(deterministic=True)

    def _step(self, model: Any, learning_rate: float) -> Step:
        tf = import_tensorflow()
        # The optimizer lives as long as `step`: never an attribute of the model,
        # or its slots would be exported with it.
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate)
        return loss_step(
            model, optimizer, where="create them as tf.Variable attributes of the tf.Module"
        )

    def export(self, save: ExerciseFunction, model: Any, directory: Path) -> Export:
        save(model, str(directory))
        return Export(Path(directory))


def loss_step(model: Any, optimizer: Any, where: str) -> Step:
    """One step of the tutorial's loss on a batch: `optimizer` applies its gradients to the
    model's trainable variables (shared by every kind that trains a tf.Module). `where`: the
    exercise's words for where those variables belong, said when the model has none."""
    tf = import_tensorflow()
    variables = list(model.trainable_variables)
    if not variables:
        raise ModelError(f"the model has no trainable variables: {where}")

    @tf.function
    def step(images: Any, labels: Any) -> Any:  # tensors in, the loss tensor out
        with tf.GradientTape() as tape:
            logits = model(images)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return lambda images, labels: step(tf.constant(images), tf.constant(labels, tf.int64))
