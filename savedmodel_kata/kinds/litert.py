"""LiteRT (exercise 7): exercise 3's Keras 3 network, converted to a flatbuffer and run on a device.

`create_model()` is exercise 3's model, trained as the Keras kind trains it
(same training, same cache). `export` first writes the harness's own
SavedModel of the trained model (`write_savedmodel`: 'serving_default' and
'evaluate', as the exercise's docstrings describe them) into the export
folder, then calls the exercise's `save(saved_model_dir, tflite_path,
quantize=False)`, which converts it to `model.tflite` beside it. Reloading
calls `load_signature_tensors(tflite_path, signature_key)`: a dict with the
LiteRT 'interpreter', the signature's 'runner', and its 'inputs' and
'outputs' ({name: (numpy dtype, shape)}); predictions and `evaluate` go
through the runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from savedmodel_kata.errors import ModelError
from savedmodel_kata.kinds.base import ExerciseFunction, Export, Loaded
from savedmodel_kata.kinds.keras import KerasKind
from savedmodel_kata.tensorflow_setup import import_tensorflow

SAVEDMODEL_NAME = "savedmodel"  # the harness's SavedModel, inside the export folder
TFLITE_NAME = "model.tflite"  # what the exercise's save writes beside it


def savedmodel_dir_of(directory: Path) -> Path:
    return Path(directory) / SAVEDMODEL_NAME


def tflite_file_of(directory: Path) -> Path:
    return Path(directory) / TFLITE_NAME


def write_savedmodel(model: Any, export_dir: Path) -> None:
    """The trained Keras model as the SavedModel the exercise converts: 'serving_default'
    (input 'input' float32 [None, 28, 28, 1] -> 'prediction', softmax [None, 10]) and
    'evaluate' (also 'label' int64 [None] -> 'accuracy', the batch's share right)."""
    tf = import_tensorflow()
    import keras

    images = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")
    labels = tf.TensorSpec([None], tf.int64, name="label")
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serving_default",
        lambda input: {"prediction": tf.nn.softmax(model(input))},
        input_signature=[images],
    )
    archive.add_endpoint(
        "evaluate",
        lambda input, label: {
            "accuracy": tf.reduce_mean(
                tf.cast(tf.equal(tf.argmax(model(input), axis=1), label), tf.float32)
            )
        },
        input_signature=[images, labels],
    )
    archive.write_out(str(export_dir), verbose=False)


class LiteRTKind(KerasKind):
    name = "litert"
    serving_key = "serving_default"
    # evaluate counts the digits through the serving signature's runner
    evaluate_key = "serving_default"
    export_name = "LiteRT flatbuffer (model.tflite)"
    loaded_contract = (
        "a dict with 'interpreter' (ai_edge_litert's Interpreter), 'runner' (its signature "
        "runner) and 'inputs' and 'outputs' (names to (numpy dtype, shape))"
    )

    def export(self, save: ExerciseFunction, model: Any, directory: Path) -> Export:
        return self.export_quantized(save, model, directory, quantize=False)

    def export_quantized(
        self, save: ExerciseFunction, model: Any, directory: Path, *, quantize: bool
    ) -> Export:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_savedmodel(model, savedmodel_dir_of(directory))
        save(str(savedmodel_dir_of(directory)), str(tflite_file_of(directory)), quantize=quantize)
        return Export(directory)

    def holds_export(self, directory: Path) -> bool:
        return tflite_file_of(directory).is_file()

    def foreign_entries(self, directory: Path) -> set[str]:
        """Anything but the harness's SavedModel, the flatbuffer and the runner's record."""
        written = {SAVEDMODEL_NAME, TFLITE_NAME, "assets.extra"}
        return {path.name for path in Path(directory).iterdir()} - written

    def load(
        self,
        load_signature_tensors: ExerciseFunction,
        directory: Path,
        key: str = "serving_default",
    ) -> Loaded:
        return Loaded(load_signature_tensors(str(tflite_file_of(directory)), key))

    def runner(self, loaded: Loaded) -> Any:
        value = loaded.value
        if not (isinstance(value, dict) and callable(value.get("runner"))):
            raise ModelError(
                f"load_signature_tensors returned {type(value).__name__}; expected "
                f"{self.loaded_contract}"
            )
        return value["runner"]

    def predict_loaded(self, loaded: Loaded, images: np.ndarray) -> np.ndarray:
        outputs = self.runner(loaded)(input=np.asarray(images, np.float32))
        return np.asarray(outputs["prediction"])

    def evaluate(
        self, evaluate: ExerciseFunction, loaded: Loaded, images: np.ndarray, labels: np.ndarray
    ) -> Any:
        return evaluate(loaded.value, images, labels)
