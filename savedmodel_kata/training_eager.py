"""The tutorial's training, in TensorFlow 2: for a `tf.Module` or a Keras 3 model.

Same data, same hyper-parameters as the graph-mode loop (Adam 1e-3, batches
of 32 in order, 5 epochs), written with `tf.GradientTape` for a `tf.Module`
(exercise 2) and with `compile` / `fit` for a Keras model (exercise 3).
Results are cached like the graph-mode ones: keyed on the model code, this
file, the data and the hyper-parameters.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from savedmodel_kata import cache
from savedmodel_kata.training import BATCH_SIZE, EPOCHS, LEARNING_RATE, SEED, ModelError, data_digest
from savedmodel_kata.tf_setup import import_tensorflow


def probabilities(model, images: np.ndarray) -> np.ndarray:
    tf = import_tensorflow()
    return tf.nn.softmax(model(tf.constant(images))).numpy()


def accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """As a signature computes it: the float32 mean of correct predictions."""
    tf = import_tensorflow()
    correct = tf.equal(tf.argmax(model(tf.constant(images)), 1), tf.constant(labels, tf.int64))
    return float(tf.reduce_mean(tf.cast(correct, tf.float32)))


def weights_by_shape(model) -> dict[tuple, np.ndarray]:
    return {tuple(v.shape): np.array(v) for v in model.trainable_variables}


def assign_by_shape(model, weights: dict[tuple, np.ndarray]) -> None:
    """Set each trainable variable to the array of its shape (the tutorial's shapes are all different)."""
    variables = list(model.trainable_variables)
    shapes = [tuple(v.shape) for v in variables]
    if sorted(shapes) != sorted(weights) or len(set(shapes)) != len(shapes):
        raise ModelError(
            f"the model's trainable variables have shapes {sorted(shapes)}; expected one each of "
            f"{sorted(weights)}, the tutorial's layers"
        )
    for variable, shape in zip(variables, shapes):
        variable.assign(weights[shape])


def make_model(create_model: Callable, seed: int = SEED):
    """Call `create_model()` with TensorFlow's and Keras' global seeds set, so its initial weights are reproducible."""
    tf = import_tensorflow()
    tf.random.set_seed(seed)
    try:
        import keras

        keras.utils.set_random_seed(seed)
    except ImportError:
        pass
    return create_model()


def train(
    model,
    data,
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    seed: int = SEED,
    start_from: dict[tuple, np.ndarray] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    use_cache: bool = True,
) -> dict:
    """Train `model` in place (a tf.Module or a Keras model); return stats like training.train's."""
    tf = import_tensorflow()
    train_images, train_labels, test_images, test_labels = data
    if start_from is not None:
        assign_by_shape(model, start_from)
    keras_model = _is_keras(model)
    # Keyed on what the model computes and its starting weights, not on source
    # text: editing save() must not force retraining.
    key = cache.make_key(
        _forward_identity(model, keras_model),
        *(np.array(v).tobytes() for v in model.trainable_variables),
        Path(__file__).read_bytes(),
        data_digest(data),
        epochs,
        batch_size,
        learning_rate,
        seed,
        tf.__version__,
    )
    hit = cache.load(key) if use_cache else None
    if hit is not None:
        values, stats = hit
        try:
            _restore(model, values, keras_model, learning_rate)
        except (KeyError, ValueError):
            hit = None
    if hit is not None:
        for record in stats["epochs"]:
            if on_epoch:
                on_epoch(record)
        return dict(stats, cached=True)

    step = _keras_step(model, learning_rate) if keras_model else _module_step(model, learning_rate)
    history = []
    batches = len(train_labels) // batch_size
    for epoch in range(epochs):
        started = time.perf_counter()
        loss = float("nan")
        for batch in range(batches):
            rows = slice(batch * batch_size, (batch + 1) * batch_size)
            loss = step(tf.constant(train_images[rows]), tf.constant(train_labels[rows], tf.int64))
        record = {
            "epoch": epoch,
            "loss": float(loss),
            "train_accuracy": accuracy(model, train_images, train_labels),
            "test_accuracy": accuracy(model, test_images, test_labels),
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        if on_epoch:
            on_epoch(record)
    stats = {
        "epochs": history,
        "parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        "train_accuracy": history[-1]["train_accuracy"] if history else accuracy(model, train_images, train_labels),
        "test_accuracy": history[-1]["test_accuracy"] if history else accuracy(model, test_images, test_labels),
        "cached": False,
    }
    if use_cache:
        cache.store(key, _state(model, keras_model), stats)
    return stats


def _forward_identity(model, keras_model: bool) -> bytes:
    """The forward pass, as a Keras config or as the traced graph of __call__."""
    tf = import_tensorflow()
    if keras_model:
        # Layer names count up within a process (conv2d, conv2d_1, ...): leave them out.
        return json.dumps(_without_names(json.loads(model.to_json())), sort_keys=True).encode()
    traced = tf.function(model.__call__).get_concrete_function(tf.TensorSpec([None, 28, 28, 1], tf.float32))
    return traced.graph.as_graph_def().SerializeToString(deterministic=True)


def _without_names(config):
    if isinstance(config, dict):
        return {key: _without_names(value) for key, value in config.items() if key != "name"}
    if isinstance(config, list):
        return [_without_names(value) for value in config]
    return config


def _is_keras(model) -> bool:
    try:
        import keras
    except ImportError:
        return False
    return isinstance(model, keras.Model)


def _module_step(model, learning_rate):
    tf = import_tensorflow()
    optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate)
    variables = list(model.trainable_variables)
    if not variables:
        raise ModelError("the model has no trainable variables: create them as tf.Variable attributes of the tf.Module")

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step  # the optimizer lives as long as `step`: never an attribute of the model, or its slots would be exported


def _keras_step(model, learning_rate):
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return lambda images, labels: model.train_on_batch(images, labels, return_dict=True)["loss"]


def _state(model, keras_model: bool) -> dict[str, np.ndarray]:
    """Trainable weights, and for Keras the optimizer's state (so a cached model resumes like a trained one)."""
    state = {f"weight/{i}": np.array(v) for i, v in enumerate(model.trainable_variables)}
    if keras_model:
        state.update({f"optimizer/{i}": np.array(v) for i, v in enumerate(model.optimizer.variables)})
    return state


def _restore(model, state: dict[str, np.ndarray], keras_model: bool, learning_rate: float) -> None:
    variables = list(model.trainable_variables)
    if len(variables) != sum(name.startswith("weight/") for name in state):
        raise KeyError("cached weights do not fit this model")
    for i, variable in enumerate(variables):
        variable.assign(state[f"weight/{i}"])
    if keras_model:
        _keras_step(model, learning_rate)
        model.optimizer.build(model.trainable_variables)
        optimizer_variables = list(model.optimizer.variables)
        if len(optimizer_variables) != sum(name.startswith("optimizer/") for name in state):
            raise KeyError("cached optimizer state does not fit this model")
        for i, variable in enumerate(optimizer_variables):
            variable.assign(state[f"optimizer/{i}"])
