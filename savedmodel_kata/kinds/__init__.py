"""The kinds of exercise: how each trains, copies, exports, reloads and scores its model.

`for_exercise(exercise)` gives the `Kind` (see base.py) named in the
catalogue. Kinds import TensorFlow; this module does not, so the runner's
quick commands (`kata hint`) stay quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from savedmodel_kata.catalogue import Exercise

# kind name -> "module:class", imported on first use.
KINDS = {
    "graph": "savedmodel_kata.kinds.graph:GraphKind",
    "bridge": "savedmodel_kata.kinds.graph:BridgeKind",
    "module": "savedmodel_kata.kinds.module:ModuleKind",
    "keras": "savedmodel_kata.kinds.keras:KerasKind",
    "serving": "savedmodel_kata.kinds.serving:ServingKind",
}

_instances: dict = {}


def named(name: str):
    """The kind called `name` (one of KINDS)."""
    if name not in _instances:
        module, _, cls = KINDS[name].partition(":")
        _instances[name] = getattr(importlib.import_module(module), cls)()
    return _instances[name]


def for_exercise(exercise: Exercise):
    return named(exercise.kind)
