"""The tutorial's training loop, shared by every kind, and its cache key.

Training is the tutorial's: Adam 1e-3, batches of 32 in order, 5 epochs,
from seeded initial weights (or weights given, so that two implementations
start alike). Results are cached (see cache.py), keyed on who trains, what
the model computes, every value it starts from, the training code, the
data, the hyper-parameters and the platform: a hit gives exactly the
weights training would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, SupportsFloat

import numpy as np

from savedmodel_kata.kinds import cache
from savedmodel_kata.kinds.score import Epoch, Score, TrainingStats

EPOCHS = 5
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
# Initialisation seed. Test accuracy after 5 epochs depends on the initial
# weights: over seeds 0..3 and two splits it ranged 84.2 to 93.8 % (seed 0 is
# the unlucky 84.2). Seed 2 gives 92.0 %, the typical result. Tests compare a
# student's model with the reference from the same initial weights, so this
# luck never decides a grade.
SEED = 2

# Trainable weights keyed by shape (the tutorial's are all distinct).
Weights = dict[tuple[int, ...], np.ndarray]
# Every value a copy of a model needs, by variable name.
Snapshot = dict[str, np.ndarray]
# One training step on a batch of images and int64 labels; returns the loss (a float, a numpy
# scalar or a scalar tensor).
Step = Callable[[np.ndarray, np.ndarray], SupportsFloat]


class Trainable(Protocol):
    """What the loop needs from a kind (the `Kind` protocol has all of it)."""

    name: str

    def weights(self, model: Any) -> Weights: ...
    def assign(self, model: Any, weights: Weights) -> None: ...
    def snapshot(self, model: Any) -> Snapshot: ...
    def restore(self, model: Any, snapshot: Snapshot) -> None: ...
    def score(self, model: Any, images: np.ndarray, labels: np.ndarray) -> Score: ...
    def _identity(self, model: Any) -> bytes: ...
    def _step(self, model: Any, learning_rate: float) -> Step: ...


def count_parameters(weights: Weights) -> int:
    return int(sum(np.prod(shape) for shape in weights))


# id()s of read-only arrays that own their data -> (the arrays, kept alive so that no other
# array can take their ids, and their digest).
_digests: dict[tuple[int, ...], tuple[Sequence[np.ndarray], str]] = {}


def data_digest(data: Sequence[np.ndarray]) -> str:
    """A digest of the data arrays; remembered for read-only arrays that own their memory (the
    shared bundled digits): a view could change through a writable base."""
    frozen = all(not array.flags.writeable and array.base is None for array in data)
    ids = tuple(id(array) for array in data)
    if frozen and ids in _digests:
        return _digests[ids][1]
    digest = cache.make_key(*(np.ascontiguousarray(array).tobytes() for array in data))
    if frozen:
        _digests[ids] = (tuple(data), digest)
    return digest


def fit(
    kind: Trainable,
    model: Any,
    data: Sequence[np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    on_epoch: Callable[[Epoch], None] | None,
    use_cache: bool,
    cache_scope: str,
) -> TrainingStats:
    """The tutorial's loop around any kind's model, through the cache."""
    train_images, train_labels, test_images, test_labels = data
    start = kind.snapshot(model)
    start_weights = kind.weights(model)
    # Keyed on what the model computes and every value it starts from, not on the
    # exercise's source text: editing save() must not force retraining.
    parts = (
        kind.name,
        kind._identity(model),
        *((name, start[name].dtype.str, start[name].tobytes()) for name in sorted(start)),
        *cache.training_sources(),
        data_digest(data),
        epochs,
        batch_size,
        learning_rate,
        seed,
        *cache.platform_fingerprint(),
    )
    key = cache.make_key(cache_scope, *parts)
    # Any scope may read the reference's entries (only the reference writes them): code that
    # computes what the reference computes, from where it starts, trains to its weights.
    reads = (
        [cache.make_key(cache.REFERENCE, *parts), key] if cache_scope != cache.REFERENCE else [key]
    )
    hit = next(filter(None, map(cache.load, reads)), None) if use_cache else None
    if hit is not None:
        values, recorded = hit
        try:
            stats = TrainingStats.from_json(recorded, cached=True)
            kind.restore(model, values)
        except (KeyError, ValueError, TypeError):
            # An entry that does not fit this model: train again, from the start the key was
            # made of. A restore that failed half-way (the Keras kind sets the weights, then
            # the optimizer's state) has set trained weights already: training on from them
            # would store a model trained twice under the key of its initial weights.
            kind.assign(model, start_weights)
            hit = None
    if hit is not None:
        for epoch in stats.epochs:
            if on_epoch:
                on_epoch(epoch)
        return stats

    step = kind._step(model, learning_rate)
    batches = len(train_labels) // batch_size
    history: list[Epoch] = []
    for number in range(epochs):
        started = time.perf_counter()
        loss: SupportsFloat = float("nan")
        for batch in range(batches):
            rows = slice(batch * batch_size, (batch + 1) * batch_size)
            loss = step(train_images[rows], train_labels[rows])
        epoch = Epoch(
            epoch=number,
            loss=float(loss),
            train=kind.score(model, train_images, train_labels),
            test=kind.score(model, test_images, test_labels),
            seconds=time.perf_counter() - started,
        )
        history.append(epoch)
        if on_epoch:
            on_epoch(epoch)
    stats = TrainingStats(
        epochs=tuple(history),
        parameters=count_parameters(kind.weights(model)),
        train=history[-1].train if history else kind.score(model, train_images, train_labels),
        test=history[-1].test if history else kind.score(model, test_images, test_labels),
        cached=False,
    )
    if use_cache:
        cache.store(key, kind.snapshot(model), stats.to_json())
    return stats
