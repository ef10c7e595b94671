"""Graph mode: the tutorial's `tf.compat.v1` session (exercise 1), and the bridge (exercise 4).

`build(create_model)` makes the tutorial's graph around any `create_model`
(the student's or the reference): placeholders `x` and `y` (one-hot labels),
the logits, `prediction` (softmax) and `accuracy`, in a `tf.Graph` of its
own with a live session: never by switching eager execution off for the
whole process, so TensorFlow 2 code in the same process keeps working.
Training adds the tutorial's loss and Adam optimizer to that graph.

Both kinds train and export the same way, `save(sess, export_dir, x, y,
y_pred, acc)`. They differ in how they reload: `graph` loads into a session
(`load_signature_tensors(sess, export_dir)` returns tensors, `evaluate(sess,
tensors, images, labels)`), `bridge` loads the TF2 way
(`load_signature_tensors(export_dir, key)` returns a signature description,
`evaluate(signature, images, labels)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel_kata.errors import ModelError
from savedmodel_kata.kinds.base import (
    CreateModel,
    ExerciseFunction,
    Export,
    Kind,
    Loaded,
    check_weight_shapes,
)
from savedmodel_kata.kinds.score import INPUT_SHAPE, NUM_CLASSES
from savedmodel_kata.kinds.training import SEED, Snapshot, Step, Weights
from savedmodel_kata.tensorflow_setup import import_tensorflow

# The tutorial's tensor names. Tests also export under other names, to catch
# loaders that look tensors up by these names instead of through the signature.
TUTORIAL_TENSOR_NAMES = {
    "input": "myInput",
    "output": "myOutput",
    "prediction": "myPrediction",
    "accuracy": "myAccuracy",
}


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]


@dataclass(repr=False)
class GraphModel:
    """The tutorial's graph in a live session: x, y, logits, prediction and accuracy."""

    # TensorFlow's objects: a tf.Graph, a tf.compat.v1.Session, then tensors of the graph.
    graph: Any
    session: Any
    x: Any
    y: Any
    logits: Any
    prediction: Any
    accuracy: Any

    def __repr__(self) -> str:  # short: Hypothesis prints it with every falsifying example
        return f"<GraphModel {self.x.name} -> {self.prediction.name}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis' printer asks
        printer.text(repr(self))

    def variables(self, trainable_only: bool = False) -> list[Any]:
        v1 = import_tensorflow().compat.v1
        with self.graph.as_default():
            return v1.trainable_variables() if trainable_only else v1.global_variables()

    def values(self, trainable_only: bool = False) -> dict[str, np.ndarray]:
        """Variable values by name (every global variable: weights and optimizer slots)."""
        variables = self.variables(trainable_only)
        return dict(zip((v.name for v in variables), self.session.run(variables), strict=True))

    def assign(self, variables: list[Any], values: list[np.ndarray]) -> None:
        """Set `variables` without adding ops to the graph (feeding each initializer its value),
        so a graph restored from the cache is op for op the graph training builds."""
        with self.graph.as_default():
            feed = {v.initial_value: value for v, value in zip(variables, values, strict=True)}
            self.session.run([v.initializer for v in variables], feed_dict=feed)


def build(
    create_model: CreateModel, *, seed: int = SEED, names: dict[str, str] = TUTORIAL_TENSOR_NAMES
) -> GraphModel:
    """The tutorial's graph around `create_model`, variables initialised from `seed`."""
    tf = import_tensorflow()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        x = v1.placeholder(tf.float32, shape=INPUT_SHAPE, name=names["input"])
        y = v1.placeholder(tf.float32, shape=(None, NUM_CLASSES), name=names["output"])
        logits = create_model(x)
        check_logits(logits, graph, x)
        prediction = tf.nn.softmax(logits, name=names["prediction"])
        correct = tf.equal(tf.argmax(y, 1), tf.argmax(prediction, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32), name=names["accuracy"])
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    if not tf.executing_eagerly():
        raise ModelError(
            "create_model switched eager execution off for the whole process: build the layers "
            "in the graph the harness made for x (it is the default graph while create_model "
            "runs); never call tf.compat.v1.disable_eager_execution()"
        )
    return GraphModel(graph, session, x, y, logits, prediction, accuracy)


def check_logits(logits: Any, graph: Any, x: Any) -> None:
    """ModelError, saying what is wrong, unless `logits` is a float32 [?, 10] tensor of `graph`
    computed from the placeholder `x`."""
    tf = import_tensorflow()
    if not isinstance(logits, tf.Tensor):
        raise ModelError(
            f"create_model returned {type(logits).__name__}, expected the logits: a tf.Tensor "
            "shaped [None, 10]"
        )
    if logits.graph is not graph:
        raise ModelError(
            "create_model returned a tensor of another graph: build every op from the input x, "
            "in the graph it belongs to (no tf.Graph() of your own)"
        )
    if logits.shape.rank != 2 or logits.shape[-1] != NUM_CLASSES:
        raise ModelError(
            f"create_model returned a tensor shaped {logits.shape}, expected [None, {NUM_CLASSES}]"
        )
    if logits.dtype != tf.float32:
        raise ModelError(f"create_model returned {logits.dtype.name} logits, expected float32")
    if x.op not in ops_computing(logits):
        raise ModelError(
            "create_model's logits do not depend on its input x: build every op from the input x "
            "you were given (a placeholder of your own is never fed)"
        )


def ops_computing(tensor: Any) -> list[Any]:
    """Every operation `tensor` depends on."""
    seen: dict[str, Any] = {}
    stack = [tensor.op]
    while stack:
        op = stack.pop()
        if op.name not in seen:
            seen[op.name] = op
            stack.extend(inp.op for inp in op.inputs)
    return list(seen.values())


class GraphKind(Kind):
    """Exercise 1: train in a session, export with save(sess, ...), reload into a session."""

    name = "graph"
    # The tutorial's single signature serves both predictions and the accuracy.
    evaluate_key = "serving_default"
    loaded_contract = (
        "a dict from the signature keys ('input', 'output', 'prediction', 'accuracy') to "
        "tensors of the session's graph"
    )

    def new_model(
        self, create_model: CreateModel, *, seed: int = SEED, for_training: bool = True
    ) -> GraphModel:
        return build(create_model, seed=seed)

    def close(self, model: GraphModel) -> None:
        model.session.close()

    def weights(self, model: GraphModel) -> Weights:
        return {tuple(value.shape): value for value in model.values(trainable_only=True).values()}

    def assign(self, model: GraphModel, weights: Weights) -> None:
        variables = model.variables(trainable_only=True)
        shapes = [tuple(v.shape.as_list()) for v in variables]
        check_weight_shapes(shapes, weights)
        model.assign(variables, [weights[shape] for shape in shapes])

    def snapshot(self, model: GraphModel) -> Snapshot:
        return model.values()

    def restore(self, model: GraphModel, snapshot: Snapshot) -> None:
        """Every global variable from `snapshot`, which may hold more (optimizer slots)."""
        variables = model.variables()
        missing = sorted(v.name for v in variables if v.name not in snapshot)
        if missing:
            raise KeyError(f"no stored value for {missing}")
        model.assign(variables, [snapshot[v.name] for v in variables])

    def _predict_batch(self, model: GraphModel, images: np.ndarray) -> np.ndarray:
        return model.session.run(model.prediction, feed_dict={model.x: images})

    def _identity(self, model: GraphModel) -> bytes:
        return model.graph.as_graph_def().SerializeToString(deterministic=True)

    def _step(self, model: GraphModel, learning_rate: float) -> Step:
        """The tutorial's loss and Adam optimizer, added to the graph; only their variables
        initialised."""
        tf = import_tensorflow()
        v1 = tf.compat.v1
        with model.graph.as_default():
            before = set(v1.global_variables())
            loss = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=model.y, logits=model.logits)
            )
            train_op = v1.train.AdamOptimizer(learning_rate).minimize(loss)
            model.session.run(
                v1.variables_initializer([v for v in v1.global_variables() if v not in before])
            )

        def step(images: np.ndarray, labels: np.ndarray) -> float:
            _, value = model.session.run(
                [train_op, loss], feed_dict={model.x: images, model.y: one_hot(labels)}
            )
            return value

        return step

    # --- the exercise's functions ------------------------------------------------

    def export(self, save: ExerciseFunction, model: GraphModel, directory: Path) -> Export:
        with model.graph.as_default():
            save(model.session, str(directory), model.x, model.y, model.prediction, model.accuracy)
        return Export(Path(directory))

    def load(
        self,
        load_signature_tensors: ExerciseFunction,
        directory: Path,
        key: str = "serving_default",
    ) -> Loaded:
        """A fresh graph and session, as a server would have; the loader fills them."""
        tf = import_tensorflow()
        session = tf.compat.v1.Session(graph=tf.Graph())
        try:
            with session.graph.as_default():
                return Loaded(load_signature_tensors(session, str(directory)), session)
        except BaseException:
            session.close()
            raise

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        tensors = loaded.value
        return loaded.session.run(tensors["prediction"], feed_dict={tensors["input"]: images})

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        with loaded.session.graph.as_default():
            return evaluate(loaded.session, loaded.value, images, labels)


class SignatureLoading:
    """Reloading the TF2 way: load_signature_tensors(export_dir, key) returns
    {'inputs', 'outputs', 'function', 'loaded'}; evaluate(signature, images, labels)."""

    loaded_contract = (
        "a dict with 'inputs' and 'outputs' (names to tf.TensorSpec), the signature's "
        "'function' and the 'loaded' object"
    )

    def load(
        self,
        load_signature_tensors: ExerciseFunction,
        directory: Path,
        key: str = "serving_default",
    ) -> Loaded:
        return Loaded(load_signature_tensors(str(directory), key))

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        tf = import_tensorflow()
        return loaded.value["function"](input=tf.constant(images))["prediction"].numpy()

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        return evaluate(loaded.value, images, labels)


class BridgeKind(SignatureLoading, GraphKind):
    """Exercise 4: trained and exported like exercise 1, reloaded like exercise 2."""

    name = "bridge"
    evaluate_key = "evaluate"
