"""`kata train` and `kata load`: the tutorial's two programs, on the student's code or
the reference.

`train` trains `create_model` with the tutorial's loop (printing its
per-epoch line) and exports it with `save`; `load` reloads the export with
`load_signature_tensors`, prints ten predictions and checks, with
`evaluate`, that both accuracies are the last epoch's, digit for digit.
Everything goes through the exercise's kind (savedmodel_kata/kinds/), and
student code is imported and called as the tests do (StudentCode).

Each exercise has its own default folder (backup/ex01, ...), and an export
records which exercise and which code wrote it, so `load` never blames one
exercise's code for another's export. `--overwrite` replaces an export only
once the new one is written.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
from argparse import SUPPRESS
from collections.abc import Callable
from pathlib import Path

import numpy as np

from savedmodel_kata import catalogue, kinds, settings
from savedmodel_kata.code_under_test import StudentCode, find_root
from savedmodel_kata.errors import JobError
from savedmodel_kata.kinds import cache
from savedmodel_kata.kinds.base import EPOCHS, Kind, Score, saved_model_file
from savedmodel_kata.kinds.keras import keras_file_for
from savedmodel_kata.settings import TARGETS

# assets.extra: files a SavedModel carries along, which TensorFlow never reads (kinds/base.py).
RECORD_FILE = Path("assets.extra") / "training_stats.json"
EXPORT_FOLDER = "backup"
IMAGES_SHOWN = 10


def default_export_dir(exercise: catalogue.Exercise) -> Path:
    return Path(EXPORT_FOLDER) / exercise.id


def command_line(
    command: str,
    exercise: catalogue.Exercise,
    target: str,
    export_dir: Path,
    data_options: tuple[str, ...] = (),
) -> str:
    """`kata train` or `kata load` with the options that choose the same export: the exercise,
    the target unless the default, the folder unless the exercise's default, and the data."""
    words = ["kata", command, "--exercise", str(exercise.number)]
    if target != "exercises":
        words += ["--target", target]
    if Path(export_dir) != default_export_dir(exercise):
        words += ["--export-dir", str(export_dir)]
    return shlex.join([*words, *data_options])


def _data_options(args) -> tuple[str, ...]:
    """The data options given on the command line: `load` compares on the same digits."""
    options = ("--source", args.source), ("--idx-dir", args.idx_dir)
    return tuple(word for name, value in options if value for word in (name, str(value)))


# --- arguments -------------------------------------------------------------------


def _add_common(parser) -> None:
    from savedmodel_kata.mnist import SOURCES

    parser.add_argument("--exercise", type=int, default=1, help="exercise number (default 1)")
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default="exercises",
        help="run your code (exercises, the default) or the reference (solutions)",
    )
    # --impl: the old name of --target, still accepted.
    parser.add_argument("--impl", dest="target", choices=TARGETS, default=SUPPRESS, help=SUPPRESS)
    parser.add_argument(
        "--export-dir", type=Path, default=None, help="SavedModel folder (default: backup/exNN)"
    )
    parser.add_argument(
        "--source", choices=SOURCES, default=None, help="MNIST source (default: bundled)"
    )
    parser.add_argument(
        "--idx-dir", type=Path, default=None, help="folder of MNIST IDX files (or $KATA_MNIST_DIR)"
    )


def add_parsers(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train an exercise's model and export it as a SavedModel",
        description="The tutorial's training program, then your save().",
    )
    _add_common(train)
    train.add_argument(
        "--epochs", type=int, default=EPOCHS, help=f"training epochs (default {EPOCHS})"
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing export")
    train.add_argument(
        "--cache", action="store_true", help="reuse this code's cached training from the tests"
    )
    load = commands.add_parser(
        "load",
        help="reload the SavedModel, show predictions and check the accuracies",
        description="The tutorial's reload program, with your load_signature_tensors and evaluate.",
    )
    _add_common(load)


def run(args) -> int:
    from savedmodel_kata.mnist import load_mnist_dataset

    exercise = catalogue.by_number(args.exercise)
    code = StudentCode(find_root(), args.target, exercise, timeout=None)
    chosen = settings.use(
        settings.current().replace(
            mnist_source=args.source or settings.current().mnist_source,
            mnist_dir=args.idx_dir or settings.current().mnist_dir,
        )
    )
    data = load_mnist_dataset(chosen.mnist_source, chosen.mnist_dir)
    export_dir = args.export_dir or default_export_dir(exercise)
    if args.command == "train":
        train_and_export(
            code,
            data,
            export_dir,
            epochs=args.epochs,
            overwrite=args.overwrite,
            use_cache=args.cache,
            data_options=_data_options(args),
        )
        return 0
    record = load_and_check(code, data, export_dir, data_options=_data_options(args))
    return 1 if record["matches_training"] is False else 0


# --- train -----------------------------------------------------------------------


def train_and_export(
    code: StudentCode,
    data,
    export_dir: Path,
    *,
    epochs: int = EPOCHS,
    overwrite: bool = False,
    use_cache: bool = False,
    data_options: tuple[str, ...] = (),
    log: Callable[[str], None] = print,
) -> dict:
    """Train `code.create_model` with the tutorial's loop, export it with `code.save`
    (`data_options`: the command line's, repeated in the `kata load` it suggests).

    The export is written into a new folder beside `export_dir` and moved into
    place only once it is complete: a failed run never costs the last good export.
    """
    from savedmodel_kata.plugin.fixtures import exercise_kind  # with what it builds on

    export_dir = Path(export_dir)
    kind = exercise_kind(code.root, code.exercise)
    replaced = [p for p in (export_dir, keras_file_for(export_dir)) if p.exists()]
    if export_dir.exists():
        _check_replaceable(kind, export_dir, overwrite)
    elif replaced and not overwrite:
        raise JobError(f"{replaced[0]} already exists: pass --overwrite to replace it")
    log(
        f"Training {code.display_path} on {len(data.train_labels):,} digits, testing on "
        f"{len(data.test_labels):,}"
    )
    trained = kind.train(
        code.create_model,
        data,
        epochs=epochs,
        use_cache=use_cache,
        cache_scope=cache.code_under_test(code.path),
        on_epoch=lambda e: log(e.line()),
    )
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}-new-", dir=export_dir.parent))
    try:
        written = kind.export(code.save, trained.model, staging / export_dir.name)
        if not kind.holds_export(written.directory):
            proto = "saved_model.pb" if kind.export_name == "SavedModel" else kind.export_name
            raise JobError(
                f"save() returned, but it wrote no {proto} into the folder it was given: "
                f"nothing was exported, and {export_dir} is unchanged"
            )
        record = {
            "exercise": code.exercise.id,
            "code": code.display_path,
            "parameters": trained.stats.parameters,
            "train": list(trained.stats.train),
            "test": list(trained.stats.test),
        }
        (written.directory / RECORD_FILE).parent.mkdir(exist_ok=True)
        (written.directory / RECORD_FILE).write_text(json.dumps(record, indent=2))
        for old in replaced:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        written.directory.rename(export_dir)
        if written.keras_file is not None and written.keras_file.exists():
            written.keras_file.rename(keras_file_for(export_dir))
    finally:
        kind.close(trained.model)
        shutil.rmtree(staging, ignore_errors=True)
    load = command_line("load", code.exercise, code.target, export_dir, data_options)
    log(f"\nSaved the model to {export_dir}/; `{load}` reloads it.")
    return record


def _check_replaceable(kind: Kind, export_dir: Path, overwrite: bool) -> None:
    if not overwrite:
        raise JobError(
            f"{export_dir} already exists, and SavedModel exporters refuse to write into an "
            "existing folder. Pass --overwrite to replace it, or --export-dir for another folder."
        )
    unexpected = kind.foreign_entries(export_dir) if export_dir.is_dir() else {"(a file)"}
    if unexpected:
        raise JobError(
            f"{export_dir} holds more than a {kind.export_name} ({', '.join(sorted(unexpected))}); "
            "it is not removed, to keep your files safe. Choose another --export-dir."
        )


# --- load ------------------------------------------------------------------------


def load_and_check(
    code: StudentCode,
    data,
    export_dir: Path,
    *,
    data_options: tuple[str, ...] = (),
    log: Callable[[str], None] = print,
) -> dict:
    """Reload `export_dir` with `code.load_signature_tensors`; report predictions and accuracies.

    `matches_training` is True when both accuracies are the last training
    epoch's (the same counts of digits), None when the export has no record.
    """
    export_dir = Path(export_dir)
    train = command_line("train", code.exercise, code.target, export_dir, data_options)
    kind = kinds.for_exercise(code.exercise)
    recorded = _read_record(export_dir)  # first: another exercise's export is named as such
    if recorded and recorded.get("exercise") not in (None, code.exercise.id):
        owner = catalogue.by_id(recorded["exercise"])
        load = command_line("load", owner, code.target, export_dir, data_options)
        raise JobError(
            f"{export_dir} holds exercise {owner.number}'s export (written by "
            f"{recorded.get('code', 'its code')}), not exercise {code.exercise.number}'s: "
            f"`{load}` reloads it."
        )
    if kind.export_name == "SavedModel":
        check_export_dir(export_dir, train=train)
    elif not kind.holds_export(export_dir):
        raise JobError(
            f"{export_dir} holds no {kind.export_name}: run `{train}` first, or pass --export-dir"
        )
    log("Testing")
    with _loaded(kind, code, export_dir, kind.serving_key) as loaded:
        shown = kind.predict_loaded(loaded, data.test_images[:IMAGES_SHOWN])
    for index, (label, probabilities) in enumerate(zip(data.test_labels, shown, strict=False)):
        log(f"  Image {index}, Groundtruth = {label}, Prediction = {int(np.argmax(probabilities))}")
    with _loaded(kind, code, export_dir, kind.evaluate_key) as loaded:
        train = kind.evaluate(code.evaluate, loaded, data.train_images, data.train_labels)
        test = kind.evaluate(code.evaluate, loaded, data.test_images, data.test_labels)
    log("\nAccuracies")
    log(f"  Train: {100 * float(train):4.1f}")
    log(f"  Test:  {100 * float(test):4.1f}")
    result = {"train_accuracy": train, "test_accuracy": test, "matches_training": None}
    if recorded:
        trained = Score(*recorded["train"]), Score(*recorded["test"])
        same_data = (trained[0].total, trained[1].total) == (
            len(data.train_labels),
            len(data.test_labels),
        )
        reloaded = (
            Score.from_accuracy(train, len(data.train_labels)),
            Score.from_accuracy(test, len(data.test_labels)),
        )
        result["matches_training"] = same_data and reloaded == trained
        if result["matches_training"]:
            log(
                "\nBoth equal the last training epoch's, digit for digit: "
                "nothing was lost on the way to disk."
            )
        elif not same_data:
            log("\nThe model was trained on another data source; use the same --source to compare.")
        else:
            log(
                f"\nTraining ended at train {trained[0]} and test {trained[1]}: the reloaded "
                "model differs. Run the exercise's tests to find out where."
            )
    return result


class _loaded:
    """The export reloaded by the code's loader; a result the kind cannot use is a JobError."""

    def __init__(self, kind, code, export_dir, key):
        self.kind, self.code, self.export_dir, self.key = kind, code, export_dir, key

    def __enter__(self):
        self.loaded = self.kind.load(self.code.load_signature_tensors, self.export_dir, self.key)
        return self.loaded

    def __exit__(self, kind, error, traceback):
        self.loaded.close()
        if isinstance(error, (KeyError, TypeError, AttributeError, IndexError)):
            value = self.loaded.value
            raise JobError(
                f"load_signature_tensors returned {type(value).__name__} "
                f"{_summary(value)}; expected {self.kind.loaded_contract} "
                f"({type(error).__name__}: {error})"
            ) from None
        return False


def _summary(value) -> str:
    return f"with keys {sorted(value)}" if isinstance(value, dict) else ""


def _read_record(export_dir: Path) -> dict | None:
    path = export_dir / RECORD_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def check_export_dir(export_dir: Path, tag: str = "serve", train: str = "kata train") -> None:
    """JobError naming the problem unless `export_dir` holds a readable SavedModel tagged `tag`
    (`train`: the command that writes it, as the messages suggest it)."""
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    import_tensorflow()  # quietly, before its protobuf modules pull it in with its start-up noise
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    if not export_dir.exists():
        raise JobError(f"{export_dir} does not exist: run `{train}` first, or pass --export-dir")
    if not export_dir.is_dir():
        raise JobError(f"{export_dir} is a file, not a SavedModel folder")
    proto_file = saved_model_file(export_dir)
    if proto_file is None:
        raise JobError(
            f"{export_dir} holds no saved_model.pb, so it is not a SavedModel "
            f"(it has: {', '.join(sorted(p.name for p in export_dir.iterdir())) or 'nothing'}). "
            f"Export again with `{train} --overwrite`."
        )
    proto = saved_model_pb2.SavedModel()
    try:
        if proto_file.suffix == ".pbtxt":  # a text proto, which both loaders read too
            text_format.Parse(proto_file.read_text(), proto)
        else:
            proto.ParseFromString(proto_file.read_bytes())
    except (DecodeError, text_format.ParseError) as error:
        raise JobError(
            f"{proto_file} is damaged ({error}). Export again with `{train} --overwrite`."
        ) from None
    tag_sets = [sorted(meta_graph.meta_info_def.tags) for meta_graph in proto.meta_graphs]
    if not any(tag in tags for tags in tag_sets):
        raise JobError(
            f"{export_dir} has no MetaGraph tagged {tag!r} (its tag sets: {tag_sets}); loaders "
            f"ask for [{tag!r}]. Export with tags=[{tag!r}] (simple_save does this)."
        )
