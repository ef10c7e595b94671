"""What training and scoring report: counts of correct digits, and the epochs that led there.

Accuracies are counts of correct digits over a fixed set (`Score`), computed
in batches whose counts are summed, so memory does not grow with the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

# Images scored or predicted at once: the bundled test set in one batch, and
# bounded memory for the full 60,000.
SCORING_BATCH = 2000
# The digits: 28x28 grey images, batches of any size, ten classes.
INPUT_SHAPE = (None, 28, 28, 1)
NUM_CLASSES = 10
# How far accuracy * N may be from a whole number of digits: float32 rounding of a mean.
COUNT_TOLERANCE = 1e-3

EPOCH_LINE = (
    "  Epoch: {epoch:2d}, Loss: {loss:5.3f}, Accuracy (train): {train:4.1f}, "
    "Accuracy (test): {test:4.1f}"
)


class Score(NamedTuple):
    """How many digits of a fixed set a model gets right: an accuracy is this count."""

    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.correct}/{self.total} = {self.accuracy:.4f}"

    @classmethod
    def from_accuracy(cls, accuracy: object, total: int) -> Score | None:
        """The count an accuracy over `total` digits stands for; None if it stands for none.

        Any correct way of computing an accuracy gives the same count: a
        graph's float32 mean of 1841/2000 is 0.92049998, numpy's is 0.9205.
        """
        if isinstance(accuracy, bool) or not isinstance(accuracy, (float, int, np.floating)):
            return None
        count = float(accuracy) * total
        nearest = round(count)
        return cls(int(nearest), total) if abs(count - nearest) < COUNT_TOLERANCE else None


def batches(array: np.ndarray, size: int = SCORING_BATCH) -> Iterator[np.ndarray]:
    """`array` in consecutive slices of `size` rows, the last one shorter."""
    return (array[start : start + size] for start in range(0, len(array), size))


class Epoch(NamedTuple):
    epoch: int
    loss: float
    train: Score
    test: Score
    seconds: float

    def line(self) -> str:
        """The tutorial's per-epoch line."""
        return EPOCH_LINE.format(
            epoch=self.epoch,
            loss=self.loss,
            train=100 * self.train.accuracy,
            test=100 * self.test.accuracy,
        )


class TrainingStats(NamedTuple):
    epochs: tuple[Epoch, ...]
    parameters: int
    train: Score
    test: Score
    cached: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "epochs": [
                {**e._asdict(), "train": list(e.train), "test": list(e.test)} for e in self.epochs
            ],
            "parameters": self.parameters,
            "train": list(self.train),
            "test": list(self.test),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], cached: bool) -> TrainingStats:
        epochs = tuple(
            Epoch(**{**e, "train": Score(*e["train"]), "test": Score(*e["test"])})
            for e in data["epochs"]
        )
        return cls(epochs, data["parameters"], Score(*data["train"]), Score(*data["test"]), cached)
