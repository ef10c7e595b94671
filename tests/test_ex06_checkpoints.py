"""Tests of exercise 6: checkpoints of the model and its optimizer, resumed exactly.

Each test grades one function (its `function` mark) and takes the other
three from solutions/. The shared fixtures (savedmodel_kata/plugin/fixtures.py)
train the reference once, through the checkpoint kind (kinds/checkpoint.py),
with the model's own Adam.

Resuming is checked the way it is used: the reference's model trained from
its seeded start by `train_steps` (global step s on batch s mod batches),
interrupted, checkpointed, restored into a new model in a fresh Python
process (`ResumeProcess`: it imports the code anew, and nothing else of this
one's), trained on, and compared with the same run never interrupted. On CPU
with TensorFlow's op determinism the two are equal bit for bit (weights,
Adam's slots, the iteration count): they are compared exactly, and the
first resumed losses with the uninterrupted run's.

The run's step counter starts at FIRST_STEP, not 0, so the step a checkpoint
is saved at is not the optimizer's iteration count; checkpoints are saved at
steps that grow unevenly and differ in their number of digits (KEPT_STEPS),
by new model objects each time, into one directory.
"""

from __future__ import annotations

import atexit
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

import savedmodel_kata
from savedmodel_kata.errors import StudentError
from savedmodel_kata.kinds.checkpoint import optimizer_of, state, train_steps
from savedmodel_kata.kinds.training import SEED
from savedmodel_kata.plugin.checks import PROBABILITY_TOLERANCE, opened
from savedmodel_kata.plugin.fresh_process import FreshProcess, FreshProcessError, relocate
from savedmodel_kata.results import Failure
from savedmodel_kata.tensorflow_setup import import_tensorflow

tf = import_tensorflow()

FIRST_STEP = 100  # the run's step counter starts here: not 0, not the optimizer's count
INTERRUPTED_AT = (115, 130)  # two saves into one directory; the run stops after the second
RESUMED_TO = 150
KEPT_STEPS = (7, 9, 40, 120, 1000)  # five saves, one directory: the last 3 remain
KEPT = 3
# The steps of the reference's run whose state the tests use: its first five, for KEPT_STEPS.
STOPS = {*range(FIRST_STEP, FIRST_STEP + len(KEPT_STEPS)), *INTERRUPTED_AT, RESUMED_TO}
# The classifier's attributes: the structure every checkpoint of the exercise shares.
CLASSIFIER_ATTRIBUTES = {
    f"{layer}_{part}": None
    for layer in ("conv1", "conv2", "conv3", "dense1", "dense2")
    for part in ("kernel", "bias")
}


# --- the reference's run, and what differs between two states -------------------


class ReferenceRun:
    """The reference's model trained from its seeded start by one call of train_steps, FIRST_STEP
    to RESUMED_TO, never interrupted: its state after each step the tests ask for (STOPS)."""

    def __init__(self, kind, reference, mnist):
        self.kind, self.reference, self.mnist = kind, reference, mnist
        self.snapshots = {}
        self.losses: list[float] = []

    def _train(self) -> None:
        with opened(self.kind, self.kind.new_model(self.reference.create_model)) as model:

            def keep(done: int) -> None:
                if done in STOPS:
                    self.snapshots[done] = self.kind.snapshot(model)

            self.losses = train_steps(
                model,
                self.mnist.train_images,
                self.mnist.train_labels,
                FIRST_STEP,
                RESUMED_TO,
                keep,
            )

    def snapshot(self, stop: int):
        if not self.snapshots:
            self._train()
        return self.snapshots[stop]

    def model(self, stop: int):
        """A new model holding the run's state after `stop` (its own objects)."""
        return self.kind.copy(self.reference.create_model, self.snapshot(stop))

    def state(self, stop: int) -> list[np.ndarray]:
        with opened(self.kind, self.model(stop)) as model:
            return state(model)


@pytest.fixture(scope="module")
def run(request, kind, reference, mnist) -> ReferenceRun:
    if any("resume_process" in getattr(item, "fixturenames", ()) for item in request.session.items):
        # Its TensorFlow import then runs on the other core while the tests before it run.
        request.getfixturevalue("resume_process").start()
    return ReferenceRun(kind, reference, mnist)


def state_names(model) -> list[str]:
    """What each entry of `state(model)` is, in a student's words."""
    names = [f"weight {v.name.split(':')[0]}" for v in model.trainable_variables]
    for variable in optimizer_of(model).variables:
        name = getattr(variable, "path", None) or variable.name
        if name.endswith("iteration"):
            names.append("the optimizer's iteration count")
        elif name.endswith("learning_rate"):
            names.append("the learning rate")
        else:
            names.append(f"Adam's slot {name}")
    return names


def differences(found: list[np.ndarray], expected: list[np.ndarray], names: list[str]) -> str:
    """The entries of two states that differ, first few; '' if they are equal bit for bit."""
    if len(found) != len(expected):
        return f"{len(found)} values where the run has {len(expected)}"
    lines = []
    for name, got, want in zip(names, found, expected, strict=True):
        if got.shape != want.shape or not np.array_equal(got, want):
            detail = (
                f"{got.item()!r}, the run's {want.item()!r}"
                if want.size == 1 and got.size == 1
                else f"off by up to {float(np.max(np.abs(got - want))):.3g}"
                if got.shape == want.shape
                else f"shaped {got.shape}, the run's {want.shape}"
            )
            lines.append(f"{name}: {detail}")
    if len(lines) > 4:
        lines = [*lines[:4], f"... and {len(lines) - 4} more"]
    return "; ".join(lines)


def not_implemented_or(error: StudentError, message: str):
    """A stub's pointer stays the report; any other error of the student's fails with
    `message` (and the error's first line)."""
    if error.failure == Failure.NOT_IMPLEMENTED:
        raise error
    pytest.fail(f"{message}\n{str(error).splitlines()[0]}", pytrace=False)


def checkpoint_steps(directory: Path) -> list[int]:
    """The steps of the checkpoints in `directory`, from their index files."""
    return sorted(
        int(path.name[len("ckpt-") : -len(".index")])
        for path in Path(directory).glob("ckpt-*.index")
    )


def reference_keys(reference, model, directory: Path, step: int) -> dict[str, list[int]]:
    """What the reference's save writes for `model` at `step`: {key: shape}."""
    path = reference.save(model, str(directory), step)
    return dict(tf.train.list_variables(path))


# --- the fresh process that resumes training -------------------------------------

RESUME_SERVER = r"""
import importlib.util, itertools, json, os, sys, traceback
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, HARNESS)  # the kata's training loop, the same as the tests'
from savedmodel_kata.tensorflow_setup import import_tensorflow
tf = import_tensorflow()
import keras
import numpy as np
from savedmodel_kata.kinds.checkpoint import state, train_steps
from savedmodel_kata.mnist import bundled_digits

digits = bundled_digits()
numbers = itertools.count()

def imported(path):
    # Anew for every request: nothing of an earlier request's module (a cache, a global) stays.
    spec = importlib.util.spec_from_file_location(f"code_under_test_{next(numbers)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    try:
        loader, builder = imported(request["loader"]), imported(request["builder"])
        # Initial values that differ from the run's: whatever the restore misses shows.
        tf.random.set_seed(request["seed"])
        keras.utils.set_random_seed(request["seed"])
        model, step = loader.load_signature_tensors(
            request["directory"], create_model=builder.create_model
        )
        restored = state(model)
        losses = train_steps(
            model, digits.train_images, digits.train_labels, int(step), request["stop"]
        )
        arrays = {f"restored/{i}": value for i, value in enumerate(restored)}
        arrays.update({f"resumed/{i}": value for i, value in enumerate(state(model))})
        np.savez(request["out"], step=np.asarray(int(step)), losses=np.asarray(losses), **arrays)
        reply = {"ok": True}
    except Exception as error:
        lines = traceback.format_exception_only(type(error), error)
        reply = {"error": "".join(lines).strip()[-1200:]}
    print(json.dumps(reply), flush=True)
"""


class ResumeProcess(FreshProcess):
    """A fresh, isolated Python process (fresh_process.py's, started once a run) that restores
    a checkpoint with a loader and a create_model it imports from their files, then trains on:
    nothing of this process (objects, variables, imported modules) reaches it."""

    def __init__(self) -> None:
        super().__init__()
        harness = Path(savedmodel_kata.__file__).resolve().parents[1]
        (self.folder / "reload_server.py").write_text(
            RESUME_SERVER.replace("HARNESS", repr(str(harness)))
        )

    def resume(self, loader: Path, builder: Path, directory: Path, stop: int):
        """(step restored, state restored, state after training to `stop`, the losses)."""
        work = self.request_folder()
        out = work / "resumed.npz"
        request = {
            "loader": str(loader),
            "builder": str(builder),
            "directory": str(directory),
            "stop": stop,
            "seed": SEED + 1,
            "out": str(out),
        }
        try:
            reply = self.ask(request)
            if "error" in reply:
                raise FreshProcessError(reply["error"])
            with np.load(out) as arrays:
                count = sum(name.startswith("restored/") for name in arrays.files)
                return (
                    int(arrays["step"]),
                    [arrays[f"restored/{i}"] for i in range(count)],
                    [arrays[f"resumed/{i}"] for i in range(count)],
                    [float(loss) for loss in arrays["losses"]],
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)


_resume_process: list[ResumeProcess] = []


@pytest.fixture(scope="session")
def resume_process():
    """One for the run (a TensorFlow import is its cost); each request imports the code anew."""
    if not _resume_process:
        _resume_process.append(ResumeProcess())
        atexit.register(_resume_process[0].remove)
    yield _resume_process[0]


def resumed_problem(kind, reference, run, resumed, restored_by: str) -> str | None:
    """None if a run resumed from the checkpoint of step INTERRUPTED_AT[-1] equals the run never
    interrupted; else what differs, and how (restored_by: whose code restored it)."""
    step, restored, after, losses = resumed
    with opened(kind, run.model(INTERRUPTED_AT[-1])) as model:
        names = state_names(model)
    saved_at = INTERRUPTED_AT[-1]
    if step != saved_at:
        return (
            f"restored by {restored_by}, the checkpoint of step {saved_at} (the newest) gave step "
            f"{step}: the step restored decides where training goes on (which batch comes next)"
        )
    missing = differences(restored, run.state(saved_at), names)
    if missing:
        return (
            f"restored by {restored_by} in a fresh process, the checkpoint of step {saved_at} "
            f"does not give back the model as it was saved: {missing}"
        )
    uninterrupted = run.state(RESUMED_TO)
    off = differences(after, uninterrupted, names)
    if off:
        expected_losses = run.losses[saved_at - FIRST_STEP :]
        return (
            f"trained on from step {saved_at} to {RESUMED_TO} after the restore, the model differs "
            f"from the run never interrupted: {off} (first losses {losses[:2]}, uninterrupted "
            f"{expected_losses[:2]})"
        )
    return None


# --- create_model ------------------------------------------------------------


@pytest.mark.function("create_model")
def test_create_model_holds_the_network_and_an_adam_of_its_own(kind, student, student_model):
    model = student_model()
    classifier = getattr(model, "classifier", None)
    assert isinstance(model, tf.Module) and isinstance(classifier, tf.Module), (
        f"create_model returned {type(model).__name__} with classifier "
        f"{type(classifier).__name__}; expected a tf.Module whose `classifier` attribute is "
        "exercise 2's network (a tf.Module): the checkpoint's structure is model/classifier/..."
    )
    missing = [name for name in CLASSIFIER_ATTRIBUTES if not hasattr(classifier, name)]
    assert not missing, (
        f"the classifier has no attributes {missing}: keep exercise 2's variable attributes "
        "(conv1_kernel, conv1_bias, ..., dense2_bias), the names a checkpoint matches values by"
    )
    optimizer = getattr(model, "optimizer", None)
    assert isinstance(optimizer, keras.optimizers.Adam), (
        f"the model's `optimizer` is {type(optimizer).__name__}; expected a "
        "keras.optimizers.Adam, an attribute of the model, so that a checkpoint of the model "
        "holds its slots and iteration count"
    )
    assert (
        float(optimizer.learning_rate) == pytest.approx(1e-3) and int(optimizer.iterations) == 0
    ), (
        f"the optimizer has learning rate {float(optimizer.learning_rate):.3g} and has run "
        f"{int(optimizer.iterations)} steps; expected a new Adam(learning_rate=1e-3)"
    )
    settings = {k: v for k, v in optimizer.get_config().items() if k != "name"}
    tutorials = {
        k: v
        for k, v in keras.optimizers.Adam(learning_rate=1e-3).get_config().items()
        if k != "name"
    }
    changed = {k: v for k, v in settings.items() if tutorials.get(k) != v}
    assert not changed, (
        f"the optimizer's settings {changed} are not the tutorial's Adam's "
        f"({ {k: tutorials.get(k) for k in changed} }): keep Adam's defaults but the learning "
        "rate, 1e-3"
    )
    other = kind.new_model(student.create_model)
    assert other.optimizer is not optimizer, (
        "two models from create_model share one optimizer: make a new Adam for each model (an "
        "optimizer's slots belong to the variables it first trained)"
    )
    images = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    assert np.array_equal(np.asarray(model(images)), np.asarray(classifier(images))), (
        "the model's __call__(x) does not return its classifier's logits"
    )


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_returns_a_new_model_each_call,
    test_create_model_starts_from_the_tutorials_initial_values,
    test_create_model_computes_the_tutorials_function,
)


@pytest.mark.function("create_model")
def test_create_model_checkpoint_has_the_structure_every_checkpoint_shares(
    kind, student, reference, run, mnist, tmp_path
):
    # After one step, so that Adam's slots exist: what save writes for it, by the reference.
    keys = {}
    for name, create_model in (("yours", student.create_model), ("the reference's", None)):
        with opened(kind, kind.new_model(create_model or reference.create_model)) as model:
            train_steps(model, mnist.train_images, mnist.train_labels, FIRST_STEP, FIRST_STEP + 1)
            keys[name] = reference_keys(reference, model, tmp_path.joinpath(name), FIRST_STEP + 1)
    missing = sorted(set(keys["the reference's"]) - set(keys["yours"]))
    extra = sorted(set(keys["yours"]) - set(keys["the reference's"]))
    assert not missing and not extra, (
        "a checkpoint of your model holds other values than the reference's: "
        f"missing {missing[:4]}{' ...' if len(missing) > 4 else ''}, extra {extra[:4]}"
        f"{' ...' if len(extra) > 4 else ''}. Checkpoints match values by path in the object "
        "graph: keep the attributes `classifier` (exercise 2's names) and `optimizer`, and "
        "nothing else that holds variables"
    )


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_create_model_trains_like_the_reference,
    test_create_model_trains_from_its_own_initial_weights,
)


# --- save --------------------------------------------------------------------


def saved_by_student(student, model, directory, step):
    """The student's save called by keyword (the docstring's names), its path checked."""
    try:
        written = student.save(model=model, directory=str(directory), step=step)
    except StudentError as error:
        not_implemented_or(error, f"save(model, directory, step={step}) raised")
    expected = Path(directory) / f"ckpt-{step}"
    assert isinstance(written, str) and Path(written) == expected, (
        f"save(model, {Path(directory).name!r}, step={step}) returned {written!r}; expected "
        f"the path it wrote, {str(expected)!r}: the checkpoint numbered by the step "
        "(manager.save(checkpoint_number=step) returns it)"
    )
    return written


@pytest.mark.function("save")
def test_save_writes_a_checkpoint_numbered_by_the_step(student, run, tmp_path):
    with opened(run.kind, run.model(INTERRUPTED_AT[-1])) as model:
        written = saved_by_student(student, model, tmp_path.joinpath("run"), INTERRUPTED_AT[-1])
    assert Path(f"{written}.index").is_file(), (
        f"save returned {written!r} but wrote no {Path(written).name}.index there: a checkpoint "
        "is an index file and data files with the path as their prefix"
    )
    assert tf.train.latest_checkpoint(str(tmp_path.joinpath("run"))) == written, (
        f"tf.train.latest_checkpoint names {tf.train.latest_checkpoint(str(tmp_path / 'run'))!r}, "
        f"not the checkpoint save wrote ({written!r}): write through a tf.train.CheckpointManager, "
        "which records the newest in the directory's `checkpoint` file"
    )


@pytest.mark.function("save")
def test_save_checkpoint_holds_the_model_its_optimizer_and_the_step(
    student, reference, run, tmp_path
):
    step = INTERRUPTED_AT[-1]
    with opened(run.kind, run.model(step)) as model:
        written = saved_by_student(student, model, tmp_path.joinpath("yours"), step)
        expected = reference_keys(reference, model, tmp_path.joinpath("reference"), step)
        values = state(model)
        names = state_names(model)
    found = dict(tf.train.list_variables(written))
    missing = sorted(set(expected) - set(found))
    optimizer_missing = [key for key in missing if key.startswith("model/optimizer/")]
    assert not optimizer_missing, (
        f"tf.train.list_variables shows no optimizer state in your checkpoint (missing "
        f"{optimizer_missing[:3]}...): a checkpoint saves what the objects you give it "
        "reference. Forget the optimizer and training resumes with a fresh Adam: its slots "
        "and iteration count must be in it (checkpoint the model, optimizer included)"
    )
    assert "step/.ATTRIBUTES/VARIABLE_VALUE" in found, (
        "your checkpoint holds no `step` (tf.train.list_variables shows "
        f"{sorted(found)[:3]}...): save the step as an int64 tf.Variable in the checkpoint, "
        "tf.train.Checkpoint(model=model, step=...)"
    )
    assert not missing and set(found) == set(expected), (
        f"your checkpoint holds {sorted(set(found) - set(expected))[:4]} and lacks "
        f"{missing[:4]}: checkpoint tf.train.Checkpoint(model=model, step=...), whose paths "
        "(model/classifier/..., model/optimizer/..., step) every loader of this exercise expects"
    )
    reader = tf.train.load_checkpoint(written)
    dtype = reader.get_variable_to_dtype_map()["step/.ATTRIBUTES/VARIABLE_VALUE"]
    assert dtype == tf.int64, (
        f"the checkpoint's step is {dtype.name}: save it as an int64 tf.Variable "
        "(tf.Variable(step, dtype=tf.int64)), the dtype every loader of this exercise restores "
        "it into"
    )
    assert int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == step, (
        f"the checkpoint's step is {reader.get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE')!r}; "
        f"save was given step={step}"
    )
    with opened(run.kind, run.model(step)) as restored:
        tf.train.Checkpoint(model=restored, step=tf.Variable(0, dtype=tf.int64)).restore(
            written
        ).assert_consumed()
        off = differences(state(restored), values, names)
    assert not off, f"the checkpoint's values are not the model's as it was given: {off}"


@pytest.mark.function("save")
def test_save_keeps_the_last_three_and_latest_names_the_newest(student, run, tmp_path):
    directory = tmp_path.joinpath("run")
    states = []
    for number, step in enumerate(KEPT_STEPS):
        # A new model object each call, one more training step each: every checkpoint differs.
        with opened(run.kind, run.model(FIRST_STEP + number)) as model:
            saved_by_student(student, model, directory, step)
            states.append(state(model))
    kept = checkpoint_steps(directory)
    assert kept == list(KEPT_STEPS[-KEPT:]), (
        f"after saving at steps {list(KEPT_STEPS)} into one directory, it holds the checkpoints "
        f"of steps {kept}; expected the last 3, {list(KEPT_STEPS[-KEPT:])}: a "
        "tf.train.CheckpointManager(max_to_keep=3) deletes the older ones, also those an "
        "earlier call wrote (a new manager reads them from the `checkpoint` file; never clear "
        "the directory)"
    )
    latest = tf.train.latest_checkpoint(str(directory))
    assert latest == str(directory / f"ckpt-{KEPT_STEPS[-1]}"), (
        f"tf.train.latest_checkpoint names {latest!r}; the newest is step {KEPT_STEPS[-1]}"
    )
    with opened(run.kind, run.model(FIRST_STEP)) as restored:
        tf.train.Checkpoint(model=restored, step=tf.Variable(0, dtype=tf.int64)).restore(
            latest
        ).assert_consumed()
        off = differences(state(restored), states[-1], state_names(restored))
    assert not off, (
        f"the newest checkpoint does not hold the model its save call was given ({off}): each "
        "call saves the model it is given (never a checkpoint or manager kept from an earlier "
        "call's model)"
    )


@pytest.mark.function("save")
def test_save_writes_no_savedmodel_so_tf_saved_model_load_refuses_it(student, run, tmp_path):
    with opened(run.kind, run.model(INTERRUPTED_AT[-1])) as model:
        saved_by_student(student, model, tmp_path.joinpath("run"), INTERRUPTED_AT[-1])
    held = sorted(path.name for path in (tmp_path.joinpath("run")).iterdir())
    with pytest.raises(OSError, match="SavedModel file does not exist"):
        tf.saved_model.load(str(tmp_path.joinpath("run")))
        pytest.fail(
            f"tf.saved_model.load loaded the checkpoint directory (it holds {held}): save wrote "
            "a SavedModel there too. A checkpoint is values only, for resuming training with "
            "your code; a SavedModel is the program, for serving: export it, with "
            "tf.saved_model.save, into a folder of its own",
            pytrace=False,
        )


@pytest.mark.function("save")
def test_save_resumes_exactly_in_a_fresh_process(
    kind, student, reference, run, resume_process, tmp_path
):
    # Interrupted twice into one directory, by two model objects; restored elsewhere by the
    # reference's loader and create_model, trained on, compared with the run never interrupted.
    directory = tmp_path.joinpath("run")
    for step in INTERRUPTED_AT:
        with opened(kind, run.model(step)) as model:
            saved_by_student(student, model, directory, step)
    moved = tmp_path.joinpath("moved", "run")
    moved.parent.mkdir()
    shutil.move(directory, moved)  # a checkpoint folder may be moved: its paths are relative
    try:
        resumed = resume_process.resume(
            Path(reference.__file__), Path(reference.__file__), moved, RESUMED_TO
        )
    except FreshProcessError as error:
        pytest.fail(
            "restoring your checkpoint with the reference's loader (strict: assert_consumed) in a "
            f"fresh process failed:\n  {error}\nA checkpoint is tf.train.Checkpoint(model=model, "
            "step=...), the model with its optimizer",
            pytrace=False,
        )
    problem = resumed_problem(kind, reference, run, resumed, "the reference's loader")
    assert problem is None, problem


# --- load_signature_tensors --------------------------------------------------


def loaded_by_student(student, reference, directory):
    """The student's loader called by keyword, with the reference's create_model; its answer
    checked to be (a new model, an int step)."""
    try:
        loaded = student.load_signature_tensors(
            directory=str(directory), create_model=reference.create_model
        )
    except StudentError as error:
        not_implemented_or(
            error,
            "load_signature_tensors raised on a folder of the reference's "
            "checkpoints" + unresolved_advice(str(error)),
        )
    assert isinstance(loaded, tuple) and len(loaded) == 2, (
        f"load_signature_tensors returned {type(loaded).__name__}; expected a pair (model, step)"
    )
    model, step = loaded
    assert isinstance(step, int) and not isinstance(step, bool), (
        f"the step returned is {type(step).__name__} {step!r}; expected a Python int "
        "(int(checkpoint.step))"
    )
    return model, step


def unresolved_advice(message: str) -> str:
    """What an 'Unresolved object' from a strict restore of a checkpoint of the right
    structure says about the loader."""
    if (
        "Unresolved object in checkpoint" not in message
        and "not bound to checkpointed" not in message
    ):
        return ""
    if "Unresolved object in checkpoint" in message and ".optimizer." in message:
        return (
            " (an Adam slot was not restored: Adam makes its slots on its first step; build "
            "them first, model.optimizer.build(model.trainable_variables), or check with "
            "assert_existing_objects_matched() and let their restoration wait)"
        )
    return (
        " (a value the checkpoint holds found no object: values are matched by the object graph; "
        "restore through tf.train.Checkpoint(model=..., step=...), the structure save wrote)"
    )


def saved_by_reference(reference, run, directory, steps, states_from=FIRST_STEP):
    """The reference's checkpoints at `steps` in `directory`, each of one more training step; the
    states saved."""
    states = []
    for number, step in enumerate(steps):
        with opened(run.kind, run.model(states_from + number)) as model:
            reference.save(model, str(directory), step)
            states.append(state(model))
    return states


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_restores_the_newest_checkpoint_and_its_step(
    student, reference, run, tmp_path
):
    states = saved_by_reference(reference, run, tmp_path.joinpath("run"), KEPT_STEPS)
    model, step = loaded_by_student(student, reference, tmp_path.joinpath("run"))
    assert step == KEPT_STEPS[-1], (
        f"the directory's checkpoints are of steps {checkpoint_steps(tmp_path / 'run')}, the "
        f"newest {KEPT_STEPS[-1]}; load_signature_tensors returned step {step}. Restore "
        "tf.train.latest_checkpoint(directory) (never the first, never the file names sorted "
        "as strings: 'ckpt-40' > 'ckpt-1000'), and return the step it holds"
    )
    off = differences(state(model), states[-1], state_names(model))
    assert not off, (
        f"the model returned does not hold the newest checkpoint's values: {off}. Restore "
        "every value (Adam's slots and iteration count too) into the new model"
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_reads_the_directory_anew_into_a_new_model(
    student, reference, run, tmp_path
):
    directory = tmp_path.joinpath("run")
    first_states = saved_by_reference(reference, run, directory, KEPT_STEPS[:1])
    first, _ = loaded_by_student(student, reference, directory)
    later_states = saved_by_reference(reference, run, directory, (KEPT_STEPS[-1],), FIRST_STEP + 3)
    second, second_step = loaded_by_student(student, reference, directory)
    assert second is not first and second_step == KEPT_STEPS[-1], (
        f"loaded, then saved into again at step {KEPT_STEPS[-1]} and loaded again, the directory "
        f"gave step {second_step}{' and the same model object' if second is first else ''}: "
        "every call builds a new model and restores the newest checkpoint there now"
    )
    names = state_names(first)
    off = differences(state(second), later_states[0], names)
    assert not off, f"the second load does not hold the newest checkpoint: {off}"
    assert not differences(state(first), first_states[0], names), (
        "the first model returned changed when the directory was loaded again: return a new "
        "model each call"
    )


def without_optimizer(model):
    """The model's classifier alone at model/classifier: a checkpoint without the optimizer."""
    module = tf.Module()
    module.classifier = model.classifier
    return tf.train.Checkpoint(model=module, step=tf.Variable(INTERRUPTED_AT[-1], dtype=tf.int64))


def other_shapes(model):
    """A wider network (dense 64, not 32) under the same names, with an Adam of its own."""
    classifier = tf.Module()
    for name in CLASSIFIER_ATTRIBUTES:
        setattr(classifier, name, getattr(model.classifier, name))
    classifier.dense1_kernel = tf.Variable(tf.zeros([36, 64]))
    classifier.dense1_bias = tf.Variable(tf.zeros([64]))
    classifier.dense2_kernel = tf.Variable(tf.zeros([64, 10]))
    module = tf.Module()
    module.classifier, module.optimizer = classifier, keras.optimizers.Adam()
    module.optimizer.build(list(classifier.trainable_variables))
    return tf.train.Checkpoint(model=module, step=tf.Variable(INTERRUPTED_AT[-1], dtype=tf.int64))


def at_the_root(model):
    """The TensorFlow guide's layout: Checkpoint(net=..., optimizer=..., step=...)."""
    return tf.train.Checkpoint(
        net=model.classifier,
        optimizer=model.optimizer,
        step=tf.Variable(INTERRUPTED_AT[-1], dtype=tf.int64),
    )


OTHER_STRUCTURES = {
    "without-the-optimizer": without_optimizer,
    "a-wider-network": other_shapes,
    "network-and-optimizer-at-the-root": at_the_root,
}


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("structure", sorted(OTHER_STRUCTURES))
def test_load_signature_tensors_refuses_a_checkpoint_of_another_structure(
    student, reference, run, tmp_path, structure
):
    with opened(run.kind, run.model(INTERRUPTED_AT[-1])) as model:
        checkpoint = OTHER_STRUCTURES[structure](model)
        tf.train.CheckpointManager(
            checkpoint, str(tmp_path.joinpath("run")), max_to_keep=KEPT
        ).save(checkpoint_number=INTERRUPTED_AT[-1])
    try:
        student.load_signature_tensors(
            directory=str(tmp_path.joinpath("run")), create_model=reference.create_model
        )
    except StudentError as error:
        if error.failure == Failure.NOT_IMPLEMENTED:
            raise
        return  # refused, loudly
    pytest.fail(
        f"a checkpoint of another structure ({structure.replace('-', ' ')}) was restored without "
        "a word: part of the new model kept its initial values, silently. Restore strictly, "
        "restore(path).assert_consumed() (after building the optimizer) or "
        ".assert_existing_objects_matched(); never .expect_partial(), never no check at all",
        pytrace=False,
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_matches_values_by_attribute_not_by_variable_name(
    student, reference, run, tmp_path
):
    # The same object graph, every tf.Variable named otherwise: a checkpoint matches values by
    # attribute path, so it restores; a loader matching variable names does not.
    with opened(run.kind, run.model(INTERRUPTED_AT[-1])) as model:
        for number, name in enumerate(CLASSIFIER_ATTRIBUTES):
            value = getattr(model.classifier, name)
            setattr(model.classifier, name, tf.Variable(value, name=f"renamed_{number}"))
        expected = state(model)[: len(CLASSIFIER_ATTRIBUTES)]
        reference.save(model, str(tmp_path.joinpath("run")), INTERRUPTED_AT[-1])
    lesson = (
        "A checkpoint matches values by the object graph (attribute paths), never by variable "
        "names: restore through tf.train.Checkpoint"
    )
    try:
        restored, _ = student.load_signature_tensors(
            directory=str(tmp_path.joinpath("run")), create_model=reference.create_model
        )
    except StudentError as error:
        not_implemented_or(
            error,
            "saved by a model whose tf.Variables have other names ('renamed_0', ...) but the same "
            f"attributes, the checkpoint could not be restored. {lesson}",
        )
    off = differences(
        state(restored)[: len(expected)], expected, state_names(restored)[: len(expected)]
    )
    assert not off, (
        f"saved by a model whose tf.Variables have other names ('renamed_0', ...), the "
        f"checkpoint restores other weights: {off}. {lesson}"
    )


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_load_signature_tensors_raises_filenotfounderror_without_a_checkpoint(
    student, reference, tmp_path, folder
):
    directory = tmp_path.joinpath("run")
    if folder == "empty":
        directory.mkdir()
    try:
        loaded = student.load_signature_tensors(
            directory=str(directory), create_model=reference.create_model
        )
    except StudentError as error:
        if error.failure == Failure.NOT_IMPLEMENTED:
            raise
        assert "FileNotFoundError" in str(error), (
            f"on {'an empty' if folder == 'empty' else 'a missing'} directory "
            f"load_signature_tensors raised {str(error).splitlines()[0]}; expected "
            "FileNotFoundError, which callers catch to start training from scratch"
        )
        return
    pytest.fail(
        f"on {'an empty' if folder == 'empty' else 'a missing'} directory load_signature_tensors "
        f"returned {type(loaded).__name__}: tf.train.latest_checkpoint gives None there, and "
        "restoring None restores nothing, silently (an untrained model, as if resumed). Raise "
        "FileNotFoundError",
        pytrace=False,
    )


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_resumes_exactly_in_a_fresh_process(
    kind, student, reference, run, resume_process, tmp_path
):
    directory = tmp_path.joinpath("run")
    for step in INTERRUPTED_AT:
        with opened(kind, run.model(step)) as model:
            reference.save(model, str(directory), step)
    loaded_by_student(student, reference, directory)  # here first: its failures read better
    try:
        resumed = resume_process.resume(
            Path(student.path), Path(reference.__file__), directory, RESUMED_TO
        )
    except FreshProcessError as error:
        pytest.fail(
            "in a fresh process (your module imported anew, the reference's create_model), "
            f"load_signature_tensors or training on from what it returned failed:\n  {error}",
            pytrace=False,
        )
    problem = resumed_problem(kind, reference, run, resumed, "your loader")
    assert problem is None, problem


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_restored_model_exported_for_serving_predicts_the_same(
    student, reference, reference_export, fresh_process, before_save, mnist, new_export_dir
):
    # Serving a model trained from checkpoints is another step: restore, then export.
    model, _ = loaded_by_student(student, reference, reference_export.directory)
    serve = tf.function(
        lambda input: {"prediction": tf.nn.softmax(model(input))},
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")],
    )
    export_dir = new_export_dir()
    tf.saved_model.save(model, str(export_dir), signatures={"serving_default": serve})
    moved = relocate(type(reference_export)(export_dir), new_export_dir()).directory
    served = fresh_process.run(
        moved, "tf2", "serving_default", {"input": mnist.test_images}, ["prediction"]
    )
    worst = float(np.max(np.abs(served["prediction"] - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"the model you restored, exported as a SavedModel and served in a fresh process, "
        f"predicts other probabilities than the trained model (by up to {worst:.3g}): restore "
        "every weight of the newest checkpoint"
    )


# --- evaluate ----------------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import (  # noqa: E402, F401, I001
    test_evaluate_returns_a_fraction,
    test_evaluate_counts_the_same_digits_as_the_trained_model,
    test_evaluate_counts_correct_predictions_on_any_subset,
    test_evaluate_takes_labels_of_any_integer_dtype,
    test_evaluate_answers_each_call_for_its_own_digits,
)


# --- all four together -------------------------------------------------------


from savedmodel_kata.plugin.shared_tests import test_end_to_end_with_all_your_functions  # noqa: E402, F401
