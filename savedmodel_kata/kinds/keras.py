"""Keras 3 (exercise 3): `compile` and `train_on_batch`, a SavedModel and a .keras file.

`save(model, export_dir, keras_file)` writes both; reloading gives a
`keras.layers.TFSMLayer` per endpoint (`load_signature_tensors(export_dir,
endpoint)` returns {'layer', 'inputs', 'outputs'}), and the runner predicts
with the 'serve' endpoint. A snapshot keeps the optimizer's state too, so a
copy resumes training like the trained model would.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel_kata.kinds.base import ExerciseFunction, Export, Loaded
from savedmodel_kata.kinds.module import ModuleKind
from savedmodel_kata.kinds.training import LEARNING_RATE, Snapshot, Step
from savedmodel_kata.tensorflow_setup import import_tensorflow


def keras_file_for(directory: Path) -> Path:
    """Where exercise 3's .keras file goes: beside the SavedModel folder
    (backup -> backup.keras)."""
    directory = Path(directory)
    return directory.with_name(directory.name + ".keras")


def _without_names(config: Any) -> Any:
    # Layer names count up within a process (conv2d, conv2d_1, ...): leave them out.
    if isinstance(config, dict):
        return {key: _without_names(value) for key, value in config.items() if key != "name"}
    if isinstance(config, list):
        return [_without_names(value) for value in config]
    return config


def _source_of(cls: type) -> str:
    """The code of a class written outside Keras: the files its methods are defined in (its
    `call` may use their other functions); "" for Keras' own classes, which the config
    describes."""
    if cls.__module__.split(".")[0] == "keras":
        return ""
    files = {
        function.__code__.co_filename
        for klass in cls.__mro__
        if klass.__module__.split(".")[0] not in ("keras", "builtins")
        for function in vars(klass).values()
        if inspect.isfunction(function)
    }
    texts = []
    for name in sorted(files):
        try:
            texts.append(Path(name).read_text())
        except OSError:
            texts.append(f"{name}: unreadable")
    return "\n".join(texts) or f"{cls.__module__}.{cls.__qualname__}"


class KerasKind(ModuleKind):
    name = "keras"
    serving_key = "serve"
    loaded_contract = (
        "a dict with 'layer' (a keras.layers.TFSMLayer) and 'inputs' and 'outputs' "
        "(names to tf.TensorSpec)"
    )

    def _compile(self, model: Any, learning_rate: float) -> None:
        import keras

        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )

    def snapshot(self, model: Any) -> Snapshot:
        state = super().snapshot(model)
        if getattr(model, "optimizer", None) is not None:  # an uncompiled model has none
            optimizer = enumerate(model.optimizer.variables)
            state.update({f"optimizer/{i}": np.array(v) for i, v in optimizer})
        return state

    def restore(self, model: Any, snapshot: Snapshot) -> None:
        """Weights, then (compiling the model) the optimizer's state, when the snapshot has it."""
        super().restore(model, snapshot)
        stored = sum(name.startswith("optimizer/") for name in snapshot)
        if not stored:
            return
        self._compile(model, LEARNING_RATE)
        model.optimizer.build(model.trainable_variables)
        variables = list(model.optimizer.variables)
        if len(variables) != stored:
            raise KeyError("the stored optimizer state does not fit this model")
        for i, variable in enumerate(variables):
            variable.assign(snapshot[f"optimizer/{i}"])

    def _identity(self, model: Any) -> bytes:
        """The config without layer names, and the source of every class that is not Keras'
        own: a subclassed model's or custom layer's config says nothing of what `call` does."""
        config = json.dumps(_without_names(json.loads(model.to_json())), sort_keys=True)
        layers = [model, *model._flatten_layers(include_self=False, recursive=True)]
        own_code = sorted({_source_of(type(layer)) for layer in layers} - {""})
        return "\n".join([config, *own_code]).encode()

    def _step(self, model: Any, learning_rate: float) -> Step:
        self._compile(model, learning_rate)
        return lambda images, labels: model.train_on_batch(
            images, labels.astype(np.int64), return_dict=True
        )["loss"]

    # --- the exercise's functions ------------------------------------------------

    def export(self, save: ExerciseFunction, model: Any, directory: Path) -> Export:
        keras_file = keras_file_for(directory)
        save(model, str(directory), str(keras_file))
        return Export(Path(directory), keras_file)

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        tf = import_tensorflow()
        return np.asarray(loaded.value["layer"](tf.constant(images))["prediction"])

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        return evaluate(loaded.value, images, labels)
