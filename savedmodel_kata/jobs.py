"""The tutorial's two programs, as functions: train and export, then reload and check.

Both take the implementation (a StudentCode for exercises/ or solutions/),
the data and a `log` function, and return a dict of stats, so the runner
prints them and tests can call them on small inputs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from savedmodel_kata import training
from savedmodel_kata.feedback import StudentCode
from savedmodel_kata.tf_setup import import_tensorflow

STATS_FILE = Path("assets.extra") / "training_stats.json"  # assets.extra: files a SavedModel carries, unread by TF
SAVEDMODEL_ENTRIES = {"saved_model.pb", "saved_model.pbtxt", "variables", "assets", "assets.extra", "fingerprint.pb"}
IMAGES_SHOWN = 10


class JobError(Exception):
    """A job cannot run as asked; the message says why and what to do."""


class Reloaded:
    """A reloaded export, as the runner uses it: predict and evaluate through the student's functions."""

    def __init__(self, predict: Callable, evaluate: Callable, close: Callable = lambda: None):
        self.predict, self.evaluate, self.close = predict, evaluate, close


# --- how each kind of exercise trains, exports and reloads -------------------


def _train_graph(code, data, export_dir, *, epochs, use_cache, on_epoch) -> dict:
    model = training.train(code.create_model, data, epochs=epochs, use_cache=use_cache, on_epoch=on_epoch)
    try:
        with model.graph.as_default():
            code.save(model.session, str(export_dir), model.x, model.y, model.prediction, model.accuracy)
        return dict(model.stats, parameters=training.count_parameters(model))
    finally:
        model.close()


def _train_eager(code, data, export_dir, *, epochs, use_cache, on_epoch) -> dict:
    from savedmodel_kata import training_eager

    model = training_eager.make_model(code.create_model)
    stats = training_eager.train(
        model, data, epochs=epochs, use_cache=use_cache, on_epoch=on_epoch
    )
    if code.exercise.kind == "keras":
        code.save(model, str(export_dir), str(keras_file_for(export_dir)))
    else:
        code.save(model, str(export_dir))
    return stats


def _reload_graph(code, export_dir) -> Reloaded:
    tf = import_tensorflow()
    session = tf.compat.v1.Session(graph=tf.Graph())
    with session.graph.as_default():
        tensors = code.load_signature_tensors(session, str(export_dir))
    if not isinstance(tensors, dict) or not {"input", "prediction"} <= set(tensors):
        raise JobError(
            f"load_signature_tensors returned {type(tensors).__name__}, expected a dict with the "
            "signature keys 'input', 'output', 'prediction', 'accuracy'"
        )

    def evaluate(images, labels):
        with session.graph.as_default():
            return code.evaluate(session, tensors, images, labels)

    return Reloaded(
        predict=lambda images: session.run(tensors["prediction"], feed_dict={tensors["input"]: images}),
        evaluate=evaluate,
        close=session.close,
    )


def _reload_signatures(code, export_dir) -> Reloaded:
    tf = import_tensorflow()
    serving_key = "serve" if code.exercise.kind == "keras" else "serving_default"
    serving = code.load_signature_tensors(str(export_dir), serving_key)

    def predict(images):
        if code.exercise.kind == "keras":  # a TFSMLayer
            return np.asarray(serving["layer"](tf.constant(images))["prediction"])
        return serving["function"](input=tf.constant(images))["prediction"].numpy()

    evaluation = code.load_signature_tensors(str(export_dir), "evaluate")
    return Reloaded(predict=predict, evaluate=lambda images, labels: code.evaluate(evaluation, images, labels))


WORKFLOWS = {
    "graph": (_train_graph, _reload_graph),
    "bridge": (_train_graph, _reload_signatures),
    "module": (_train_eager, _reload_signatures),
    "keras": (_train_eager, _reload_signatures),
}


def keras_file_for(export_dir: Path) -> Path:
    """Where exercise 3 writes its .keras file: beside the SavedModel folder, e.g. backup.keras."""
    export_dir = Path(export_dir)
    return export_dir.with_name(export_dir.name + ".keras")


# --- the two jobs ------------------------------------------------------------


def train_and_export(
    code: StudentCode,
    data,
    export_dir: Path,
    *,
    epochs: int = training.EPOCHS,
    overwrite: bool = False,
    use_cache: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Train `code.create_model` with the tutorial's loop, export it with `code.save`."""
    export_dir = Path(export_dir)
    _make_room(export_dir, overwrite)
    if code.exercise.kind == "keras" and keras_file_for(export_dir).exists():
        if not overwrite:
            raise JobError(f"{keras_file_for(export_dir)} already exists: pass --overwrite to replace it")
        keras_file_for(export_dir).unlink()
    train_images, _, test_images, _ = data
    log(f"Training {code.display_path} on {len(train_images):,} digits, testing on {len(test_images):,}")
    train, _ = WORKFLOWS[code.exercise.kind]
    trained = train(
        code, data, export_dir, epochs=epochs, use_cache=use_cache, on_epoch=lambda record: log(training.format_epoch(record))
    )
    if not (export_dir / "saved_model.pb").is_file():
        raise JobError(f"save() returned, but {export_dir} holds no saved_model.pb: nothing was exported")
    stats = {
        "implementation": code.display_path,
        "export_dir": str(export_dir),
        "parameters": trained["parameters"],
        "epochs": trained["epochs"],
        "train_accuracy": trained["train_accuracy"],
        "test_accuracy": trained["test_accuracy"],
        "train_size": len(train_images),
        "test_size": len(test_images),
    }
    (export_dir / STATS_FILE).parent.mkdir(exist_ok=True)
    (export_dir / STATS_FILE).write_text(json.dumps(stats, indent=2))
    log(f"\nSaved the model to {export_dir}/; `kata load --exercise {code.exercise.number}` reloads it.")
    return stats


def load_and_check(code: StudentCode, data, export_dir: Path, *, log: Callable[[str], None] = print) -> dict:
    """Reload `export_dir` with `code.load_signature_tensors`; report predictions and accuracies.

    `stats["matches_training"]` is True when both accuracies equal the last
    training epoch's exactly, None when the export has no training record.
    """
    export_dir = Path(export_dir)
    check_export_dir(export_dir)
    train_images, train_labels, test_images, test_labels = data
    _, reload = WORKFLOWS[code.exercise.kind]
    reloaded = reload(code, export_dir)
    try:
        log("Testing")
        shown = reloaded.predict(test_images[:IMAGES_SHOWN])
        for index, (label, probabilities) in enumerate(zip(test_labels, shown)):
            log(f"  Image {index}, Groundtruth = {label}, Prediction = {int(np.argmax(probabilities))}")
        train_accuracy = reloaded.evaluate(train_images, train_labels)
        test_accuracy = reloaded.evaluate(test_images, test_labels)
    finally:
        reloaded.close()
    log("\nAccuracies")
    log(f"  Train: {100 * train_accuracy:4.1f}")
    log(f"  Test:  {100 * test_accuracy:4.1f}")
    stats = {"train_accuracy": train_accuracy, "test_accuracy": test_accuracy, "matches_training": None}
    record = export_dir / STATS_FILE
    if record.is_file():
        trained = json.loads(record.read_text())
        same_data = (trained.get("train_size"), trained.get("test_size")) == (len(train_labels), len(test_labels))
        stats["matches_training"] = same_data and (trained["train_accuracy"], trained["test_accuracy"]) == (
            train_accuracy,
            test_accuracy,
        )
        if stats["matches_training"]:
            log("\nBoth equal the last training epoch's, exactly: nothing was lost on the way to disk.")
        elif not same_data:
            log("\nThe model was trained on another data source; use the same --source to compare.")
        else:
            log(
                f"\nTraining ended at train {100 * trained['train_accuracy']:.2f} / test "
                f"{100 * trained['test_accuracy']:.2f}: the reloaded model differs. "
                "Run the exercise's tests to find out where."
            )
    return stats


def check_export_dir(export_dir: Path, tag: str = "serve") -> None:
    """Raise JobError naming the problem unless `export_dir` holds a readable SavedModel tagged `tag`."""
    import_tensorflow()  # quietly, before its protobuf modules pull it in with all its start-up noise
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    if not export_dir.exists():
        raise JobError(f"{export_dir} does not exist: run `kata train` first, or pass --export-dir")
    if not export_dir.is_dir():
        raise JobError(f"{export_dir} is a file, not a SavedModel folder")
    proto_file = export_dir / "saved_model.pb"
    if not proto_file.is_file():
        raise JobError(
            f"{export_dir} holds no saved_model.pb, so it is not a SavedModel "
            f"(it has: {', '.join(sorted(p.name for p in export_dir.iterdir())) or 'nothing'}). "
            "Export again with `kata train --overwrite`."
        )
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(proto_file.read_bytes())
    except DecodeError as error:
        raise JobError(f"{proto_file} is damaged ({error}). Export again with `kata train --overwrite`.") from None
    tag_sets = [sorted(meta_graph.meta_info_def.tags) for meta_graph in proto.meta_graphs]
    if not any(tag in tags for tags in tag_sets):
        raise JobError(
            f"{export_dir} has no MetaGraph tagged {tag!r} (its tag sets: {tag_sets}); loaders ask for "
            f"[{tag!r}]. Export with tags=[{tag!r}] (simple_save does this)."
        )


def _make_room(export_dir: Path, overwrite: bool) -> None:
    if not export_dir.exists():
        return
    if not overwrite:
        raise JobError(
            f"{export_dir} already exists, and SavedModel exporters refuse to write into an existing "
            "folder. Pass --overwrite to replace it, or --export-dir for another folder."
        )
    unexpected = {p.name for p in export_dir.iterdir()} - SAVEDMODEL_ENTRIES if export_dir.is_dir() else {"(a file)"}
    if unexpected:
        raise JobError(
            f"{export_dir} holds more than a SavedModel ({', '.join(sorted(unexpected))}); "
            "it is not removed, to keep your files safe. Choose another --export-dir."
        )
    shutil.rmtree(export_dir)
