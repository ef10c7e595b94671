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
    train_images, _, test_images, _ = data
    log(f"Training {code.display_path} on {len(train_images):,} digits, testing on {len(test_images):,}")
    model = training.train(
        code.create_model,
        data,
        epochs=epochs,
        use_cache=use_cache,
        on_epoch=lambda record: log(training.format_epoch(record)),
    )
    try:
        with model.graph.as_default():
            code.save(model.session, str(export_dir), model.x, model.y, model.prediction, model.accuracy)
        if not (export_dir / "saved_model.pb").is_file():
            raise JobError(f"save() returned, but {export_dir} holds no saved_model.pb: nothing was exported")
        stats = {
            "implementation": code.display_path,
            "export_dir": str(export_dir),
            "parameters": training.count_parameters(model),
            "epochs": model.stats["epochs"],
            "train_accuracy": model.stats["train_accuracy"],
            "test_accuracy": model.stats["test_accuracy"],
            "train_size": len(train_images),
            "test_size": len(test_images),
        }
    finally:
        model.close()
    (export_dir / STATS_FILE).parent.mkdir(exist_ok=True)
    (export_dir / STATS_FILE).write_text(json.dumps(stats, indent=2))
    log(f"\nSaved the model to {export_dir}/ (saved_model.pb, variables/); `kata load` reloads it.")
    return stats


def load_and_check(code: StudentCode, data, export_dir: Path, *, log: Callable[[str], None] = print) -> dict:
    """Reload `export_dir` with `code.load_signature_tensors`; report predictions and accuracies.

    `stats["matches_training"]` is True when both accuracies equal the last
    training epoch's exactly, None when the export has no training record.
    """
    tf = import_tensorflow()
    export_dir = Path(export_dir)
    check_export_dir(export_dir)
    train_images, train_labels, test_images, test_labels = data
    session = tf.compat.v1.Session(graph=tf.Graph())
    with session, session.graph.as_default():
        tensors = code.load_signature_tensors(session, str(export_dir))
        if not isinstance(tensors, dict) or not {"input", "prediction"} <= set(tensors):
            raise JobError(
                f"load_signature_tensors returned {type(tensors).__name__}, expected a dict with the "
                "signature keys 'input', 'output', 'prediction', 'accuracy'"
            )
        log("Testing")
        shown = session.run(tensors["prediction"], feed_dict={tensors["input"]: test_images[:IMAGES_SHOWN]})
        for index, (label, probabilities) in enumerate(zip(test_labels, shown)):
            log(f"  Image {index}, Groundtruth = {label}, Prediction = {int(np.argmax(probabilities))}")
        train_accuracy = code.evaluate(session, tensors, train_images, train_labels)
        test_accuracy = code.evaluate(session, tensors, test_images, test_labels)
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
