"""The kinds of exercise: how each trains, copies, exports, reloads and scores its model.

`for_exercise(exercise)` gives the `Kind` (see base.py) named in the
catalogue. Kinds import TensorFlow; this module does not, so the runner's
quick commands (`kata hint`) stay quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from savedmodel_kata.catalogue import KINDS, Exercise

if TYPE_CHECKING:  # the kinds import numpy and TensorFlow: only their names are needed here
    from savedmodel_kata.kinds.base import Kind

_instances: dict[str, Kind] = {}


def named(name: str) -> Kind:
    """The kind called `name` (one of the catalogue's KINDS)."""
    if name not in _instances:
        module, _, cls = KINDS[name].partition(":")
        _instances[name] = getattr(importlib.import_module(module), cls)()
    return _instances[name]


def for_exercise(exercise: Exercise) -> Kind:
    return named(exercise.kind)
