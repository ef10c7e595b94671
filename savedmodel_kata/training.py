"""The tutorial's training program, as a function the tests and the runner share.

`train(create_model, data)` builds the tutorial's graph around any
`create_model` (the student's or the reference), trains it in a
`tf.compat.v1.Session` exactly as the tutorial does (Adam 1e-3, batches of
32 in order, 5 epochs) and returns a `GraphModel`: the live session, the four
tensors the export is about, and a dict of per-epoch stats. Data is an
argument, so tests can feed small inputs; results are cached (see cache.py).

The graph is built inside its own `tf.Graph()`, never by switching eager
execution off for the whole process: TensorFlow 2 code in the same process
keeps working, and every model has a graph of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from savedmodel_kata import cache
from savedmodel_kata.data import NUM_CLASSES
from savedmodel_kata.tf_setup import import_tensorflow

EPOCHS = 5
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
# Graph-level seed. Test accuracy after 5 epochs depends on the initial
# weights: over seeds 0..3 and two splits it ranged 84.2 to 93.8 % (seed 0 is
# the unlucky 84.2). Seed 2 gives 92.0 %, the typical result. Tests compare a
# student's model with the reference from the same initial weights, so this
# luck never decides a grade.
SEED = 2
INPUT_SHAPE = (None, 28, 28, 1)

# The tutorial's tensor names. Tests also export under other names, to catch
# loaders that look tensors up by these names instead of through the signature.
TUTORIAL_TENSOR_NAMES = {
    "input": "myInput",
    "output": "myOutput",
    "prediction": "myPrediction",
    "accuracy": "myAccuracy",
}

EPOCH_LINE = "  Epoch: {epoch:2d}, Loss: {loss:5.3f}, Accuracy (train): {train:4.1f}, Accuracy (test): {test:4.1f}"


class ModelError(TypeError):
    """create_model returned something the tutorial's graph cannot be built on."""


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]


@dataclass(repr=False)
class GraphModel:
    """The tutorial's graph in a live session: x, y, y_pred and acc."""

    graph: object
    session: object
    x: object
    y: object
    logits: object
    prediction: object
    accuracy: object
    loss: object
    train_op: object
    stats: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # short: Hypothesis prints it with every falsifying example
        return f"<GraphModel {self.x.name} -> {self.prediction.name}>"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis' printer asks for this one
        printer.text(repr(self))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(self.prediction, feed_dict={self.x: images})

    def accuracy_on(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float(self.session.run(self.accuracy, feed_dict={self.x: images, self.y: one_hot(labels)}))

    def variable_values(self) -> dict[str, np.ndarray]:
        """Every global variable (weights and optimizer slots) by name."""
        with self.graph.as_default():
            variables = self._tf().compat.v1.global_variables()
        return dict(zip((v.name for v in variables), self.session.run(variables)))

    def trainable_values(self) -> dict[str, np.ndarray]:
        with self.graph.as_default():
            variables = self._tf().compat.v1.trainable_variables()
        return dict(zip((v.name for v in variables), self.session.run(variables)))

    def restore(self, values: dict[str, np.ndarray]) -> None:
        """Set every global variable of this graph from `values`, without adding ops to the graph.

        Feeding a variable's initial value to its initializer assigns it, so a
        graph restored from the cache is op for op the graph training builds.
        `values` may hold more (optimizer slots, for a graph built without them).
        """
        with self.graph.as_default():
            variables = self._tf().compat.v1.global_variables()
            missing = sorted(v.name for v in variables if v.name not in values)
            if missing:
                raise KeyError(f"no stored value for {missing}")
            self.session.run(
                [v.initializer for v in variables],
                feed_dict={v.initial_value: values[v.name] for v in variables},
            )

    def assign_by_shape(self, weights: dict[tuple, np.ndarray]) -> None:
        """Set each trainable variable to the array of its shape in `weights`.

        The tutorial's ten variables all have different shapes, so shapes
        match a student's variables to the reference's whatever their names.
        """
        with self.graph.as_default():
            variables = self._tf().compat.v1.trainable_variables()
            shapes = [tuple(v.shape.as_list()) for v in variables]
            if sorted(shapes) != sorted(weights) or len(set(shapes)) != len(shapes):
                raise ModelError(
                    f"the model's trainable variables have shapes {sorted(shapes)}; expected one each of "
                    f"{sorted(weights)}, the tutorial's layers"
                )
            self.session.run(
                [v.initializer for v in variables],
                feed_dict={v.initial_value: weights[shape] for v, shape in zip(variables, shapes)},
            )

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def _tf():
        return import_tensorflow()


def build(
    create_model: Callable,
    *,
    seed: int = SEED,
    names: dict[str, str] = TUTORIAL_TENSOR_NAMES,
    learning_rate: float = LEARNING_RATE,
    for_training: bool = True,
) -> GraphModel:
    """The tutorial's graph around `create_model`, variables initialised.

    Without `for_training`, no loss and no optimizer: a third of the ops,
    for the many copies tests make of a trained model.
    """
    tf = import_tensorflow()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        x = v1.placeholder(tf.float32, shape=INPUT_SHAPE, name=names["input"])
        y = v1.placeholder(tf.float32, shape=(None, NUM_CLASSES), name=names["output"])
        logits = create_model(x)
        check_logits(logits, graph)
        prediction = tf.nn.softmax(logits, name=names["prediction"])
        correct = tf.equal(tf.argmax(y, 1), tf.argmax(prediction, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32), name=names["accuracy"])
        loss = train_op = None
        if for_training:
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
            train_op = v1.train.AdamOptimizer(learning_rate).minimize(loss)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    return GraphModel(graph, session, x, y, logits, prediction, accuracy, loss, train_op)


def initial_weights(create_model: Callable, seed: int = SEED) -> dict[tuple, np.ndarray]:
    """The freshly initialised trainable weights of `create_model`'s graph, keyed by shape."""
    model = build(create_model, seed=seed, for_training=False)
    try:
        return {tuple(value.shape): value for value in model.trainable_values().values()}
    finally:
        model.close()


def check_logits(logits: object, graph: object) -> None:
    """Raise ModelError, saying what was wrong, unless `logits` is a float [?, 10] tensor of `graph`."""
    tf = import_tensorflow()
    if not isinstance(logits, tf.Tensor):
        raise ModelError(
            f"create_model returned {type(logits).__name__}, expected the logits: a tf.Tensor shaped [None, 10]"
        )
    if logits.graph is not graph:
        raise ModelError("create_model returned a tensor of another graph: build every op from the input x")
    if logits.shape.rank != 2 or logits.shape[-1] != NUM_CLASSES:
        raise ModelError(f"create_model returned a tensor shaped {logits.shape}, expected [None, {NUM_CLASSES}]")
    if logits.dtype != tf.float32:
        raise ModelError(f"create_model returned {logits.dtype.name} logits, expected float32")


def train(
    create_model: Callable,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    seed: int = SEED,
    names: dict[str, str] = TUTORIAL_TENSOR_NAMES,
    on_epoch: Callable[[dict], None] | None = None,
    use_cache: bool = True,
    start_from: dict[tuple, np.ndarray] | None = None,
) -> GraphModel:
    """Train as the tutorial does; return the live model with `stats`.

    `stats` holds `epochs` (a list of {epoch, loss, train_accuracy,
    test_accuracy, seconds}), `parameters`, `cached` and the final accuracies.
    `on_epoch` is called with each epoch's dict (also when replayed from the cache).
    `start_from` (weights keyed by shape, see `initial_weights`) replaces the
    model's own initial weights, so two implementations train from one start.
    """
    train_images, train_labels, test_images, test_labels = data
    model = build(create_model, seed=seed, names=names, learning_rate=learning_rate)
    if start_from is not None:
        try:
            model.assign_by_shape(start_from)
        except ModelError:
            model.close()
            raise
    # Keyed on the graph itself (ops, shapes, initialiser seeds) and the starting
    # weights, not on source text: editing save() must not force retraining.
    key = cache.make_key(
        model.graph.as_graph_def().SerializeToString(deterministic=True),
        *(value.tobytes() for value in model.trainable_values().values()),
        Path(__file__).read_bytes(),
        data_digest(data),
        epochs,
        batch_size,
        learning_rate,
        seed,
        import_tensorflow().__version__,
    )
    hit = cache.load(key) if use_cache else None
    if hit is not None:
        try:
            model.restore(hit[0])
        except (KeyError, ValueError):
            hit = None  # an entry from a differently built graph: retrain
    if hit is not None:
        model.stats = dict(hit[1], cached=True)
        for epoch in model.stats["epochs"]:
            if on_epoch:
                on_epoch(epoch)
        return model

    train_labels_one_hot = one_hot(train_labels)
    batches = len(train_labels) // batch_size
    history = []
    for epoch in range(epochs):
        started = time.perf_counter()
        loss_value = float("nan")
        for batch in range(batches):
            rows = slice(batch * batch_size, (batch + 1) * batch_size)
            _, loss_value = model.session.run(
                [model.train_op, model.loss],
                feed_dict={model.x: train_images[rows], model.y: train_labels_one_hot[rows]},
            )
        record = {
            "epoch": epoch,
            "loss": float(loss_value),
            "train_accuracy": model.accuracy_on(train_images, train_labels),
            "test_accuracy": model.accuracy_on(test_images, test_labels),
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        if on_epoch:
            on_epoch(record)
    model.stats = {
        "epochs": history,
        "parameters": count_parameters(model),
        "train_accuracy": history[-1]["train_accuracy"] if history else model.accuracy_on(train_images, train_labels),
        "test_accuracy": history[-1]["test_accuracy"] if history else model.accuracy_on(test_images, test_labels),
        "cached": False,
    }
    if use_cache:
        cache.store(key, model.variable_values(), model.stats)
    return model


_digests: dict[tuple, str] = {}


def data_digest(data) -> str:
    """A digest of the data arrays; remembered for read-only arrays (the shared bundled digits)."""
    frozen = all(not array.flags.writeable for array in data)
    ids = tuple(id(array) for array in data)
    if frozen and ids in _digests:
        return _digests[ids]
    digest = cache.make_key(*(np.ascontiguousarray(array).tobytes() for array in data))
    if frozen:
        _digests[ids] = digest
    return digest


def count_parameters(model: GraphModel) -> int:
    return int(sum(np.prod(value.shape) for value in model.trainable_values().values()))


def format_epoch(record: dict) -> str:
    return EPOCH_LINE.format(
        epoch=record["epoch"],
        loss=record["loss"],
        train=100 * record["train_accuracy"],
        test=100 * record["test_accuracy"],
    )
