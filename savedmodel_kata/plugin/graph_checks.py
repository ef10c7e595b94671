"""Checks of graph-mode code (exercises 1 and 4): a create_model graph, tensors in a session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from savedmodel_kata.kinds.base import Loaded, Score
from savedmodel_kata.kinds.graph import GraphModel, one_hot, ops_computing
from savedmodel_kata.plugin.checks import (
    initial_values_problem,
    parameter_report,
    same_count,
)
from savedmodel_kata.tensorflow_setup import import_tensorflow


def graph_causes(graph: Any) -> list[str]:
    """What in a student's graph makes a batch fail, as far as the graph shows it."""
    tf = import_tensorflow()
    causes = []
    for op in graph.get_operations():
        if op.type == "Reshape" and op.inputs[1].op.type == "Const":
            shape = tf.get_static_value(op.inputs[1])
            if shape is not None and len(shape) and shape[0] > 0:
                causes.append(
                    f"the reshape {op.name} fixes the batch to {shape[0]}: use -1 for the batch "
                    "dimension"
                )
        if op.type == "MaxPool" and op.get_attr("padding") == b"SAME":
            causes.append(
                f"the pool {op.name} pads 'SAME', which leaves 4x4 after three pools, not 3x3: "
                "the tutorial's pools are 'VALID'"
            )
        if op.type == "Conv2D" and op.get_attr("padding") == b"VALID":
            causes.append(
                f"the convolution {op.name} pads 'VALID', which shrinks each image: the "
                "tutorial's convolutions are 'SAME' ('VALID' convolution padding)"
            )
    return causes


def run_logits(model: GraphModel, images: np.ndarray) -> np.ndarray:
    """Run the student's graph; a batch it cannot take fails with what the graph shows."""
    tf = import_tensorflow()
    try:
        return model.session.run(model.logits, feed_dict={model.x: images})
    except tf.errors.InvalidArgumentError as error:
        causes = graph_causes(model.graph) or [
            "look at the shapes each layer gives (flatten must give 36 values a digit)"
        ]
        pytest.fail(
            f"create_model's graph fails on a batch of {len(images)} images: "
            f"{error.message.splitlines()[0]}\n" + "\n".join(causes),
            pytrace=False,
        )
        raise  # not reached: pytest.fail raises (mypy may not know it, without pytest's types)


def check_batch_dimension_open(model: GraphModel) -> None:
    logits = model.logits  # the harness has checked its type, graph, shape and dtype
    assert logits.shape.as_list()[0] is None, (
        f"create_model returned logits shaped {logits.shape}: the batch dimension is fixed to "
        f"{logits.shape[0]}. Keep it None (use -1 in tf.reshape) so any batch size can be served."
    )


def check_logits_for_batch(model: GraphModel, batch_size: int) -> None:
    images = np.random.default_rng(batch_size).random((batch_size, 28, 28, 1), dtype=np.float32)
    scores = run_logits(model, images)
    assert scores.shape == (batch_size, 10), (
        f"a batch of {batch_size} images gave logits shaped {scores.shape}; "
        f"expected ({batch_size}, 10)"
    )


def check_parameters(model: GraphModel) -> None:
    variables = model.variables(trainable_only=True)
    shapes = [tuple(v.shape.as_list()) for v in variables]
    problem = parameter_report(shapes, [v.name for v in variables])
    assert problem is None, f"create_model: {problem}"


def check_initial_values(model: GraphModel) -> None:
    variables = model.variables(trainable_only=True)
    values = model.session.run(variables)
    problem = initial_values_problem(list(zip((v.name for v in variables), values, strict=True)))
    assert problem is None, f"create_model: {problem}"


def check_logits_not_probabilities(model: GraphModel) -> None:
    softmax_ops = [
        op.name for op in ops_computing(model.logits) if op.type in ("Softmax", "LogSoftmax")
    ]
    assert not softmax_ops, (
        f"create_model applies a softmax ({', '.join(softmax_ops)}). Return raw logits: the "
        "harness adds the softmax for 'prediction', and the loss needs logits (softmax twice "
        "trains badly)."
    )
    scores = run_logits(model, np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32))
    probabilities = np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)
    assert not probabilities, (
        "create_model's outputs are non-negative and every row sums to 1: those are "
        "probabilities. Return the logits of the last dense layer, without an activation."
    )


def check_tensors_of_the_session(loaded: Loaded, keys: set[str]) -> None:
    """The loader's result maps the signature's `keys` to tensors of the session's graph."""
    tensors = loaded.value
    assert isinstance(tensors, dict) and keys <= set(tensors), (
        f"with a session, load_signature_tensors returned {type(tensors).__name__} "
        f"{sorted(tensors) if isinstance(tensors, dict) else ''}; expected a dict from the "
        f"signature's keys {sorted(keys)} to tensors of the session's graph (load with "
        "loader.load into the session you were given)"
    )
    for key, value in tensors.items():
        assert getattr(value, "graph", None) is loaded.session.graph, (
            f"tensors[{key!r}] belongs to another graph: load into the session you were given "
            "and look tensors up in sess.graph, every call (never keep them from an earlier one)"
        )


def check_accuracy_of_each_run(
    run_accuracy: Callable[[np.ndarray, np.ndarray], Any],
    probabilities: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    where: str,
) -> None:
    """An export's accuracy, run on batches of other sizes one after the other on one load,
    gives each batch its own share: catches a running metric (its totals carry over from run to
    run) and a fixed divisor (the test set's size), which one run on every test digit cannot.

    `run_accuracy(images, one_hot_labels)` runs the exported accuracy; `probabilities` are the
    trained model's on `images`; `where` says how the export was loaded."""
    earlier = Score(0, 0)
    # Every 7th digit, then the first 100: two sizes, neither the test set's.
    for rows in (np.arange(0, len(labels), 7), np.arange(100)):
        expected = Score(int(np.sum(np.argmax(probabilities[rows], 1) == labels[rows])), len(rows))
        value = float(np.asarray(run_accuracy(images[rows], one_hot(labels[rows]))))
        running = Score(earlier.correct + expected.correct, earlier.total + expected.total)
        what = (
            f"{where}, 'accuracy' on {len(rows)} digits is {value!r}; the model gets {expected} "
            "of them right"
        )
        fix = (
            "Export the `acc` you were given: it computes the accuracy of the digits fed in each "
            "run, which a server feeds in batches of any size, again and again on one load."
        )
        if same_count(value, expected):  # right, whatever else it might also stand for
            earlier = running
            continue
        if earlier.total and same_count(value, running):
            pytest.fail(
                f"{what}. That is the running accuracy of this run and the earlier one "
                f"({running}): the exported accuracy keeps totals between runs, as a streaming "
                f"metric (tf.compat.v1.metrics.accuracy's local variables) does. {fix}",
                pytrace=False,
            )
        if same_count(value, Score(expected.correct, len(labels))):
            pytest.fail(
                f"{what}. It is {expected.correct}/{len(labels)}: divided by {len(labels)}, the "
                f"test set's size, not by the number of digits fed. {fix}",
                pytrace=False,
            )
        pytest.fail(f"{what}. {fix}", pytrace=False)


def check_not_a_running_accuracy(
    first: object, few: object, probabilities: np.ndarray, labels: np.ndarray
) -> None:
    """Fail, naming the cause, if `few` (evaluate on the first 100 digits, called after `first`
    on all of them, on one load) is the running accuracy of both calls."""
    total = Score(int(np.sum(np.argmax(probabilities, 1) == labels)), len(labels))
    own = Score(int(np.sum(np.argmax(probabilities[:100], 1) == labels[:100])), 100)
    running = Score(total.correct + own.correct, total.total + own.total)
    if same_count(first, total) and same_count(few, running) and not same_count(few, own):
        pytest.fail(
            f"evaluate gave {few!r} for the first 100 digits, called after all {len(labels)} on "
            f"the same loaded model: the running accuracy of this call and the one before "
            f"({running}), not this call's own ({own}). Something carries over between calls (a "
            "streaming metric such as tf.compat.v1.metrics.accuracy, counts kept from call to "
            "call): compute each call's accuracy from its own images and labels.",
            pytrace=False,
        )
