"""Tests that several exercises share, written once: each exercise's module takes them in.

A test module imports the ones its exercise checks by name, at the place they run among
its own tests (pytest collects a module's tests in the order its names are bound), and
pytest collects each there as that exercise's test: its name, its `function` mark, the
module's fixtures. They reach the exercise only through its kind (savedmodel_kata/kinds/),
which knows how its functions are called and which signature its evaluate reads
(`kind.evaluate_key`). What one exercise alone checks stays in its own module.

Where exercises check the same thing in their own words, or through their own calls, a
function here (`..._test`) makes the test from those: the module binds what it returns to the
test's name (`test_save_writes_a_savedmodel_folder = savedmodel_folder_test(...)`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from savedmodel_kata.errors import StudentError
from savedmodel_kata.kinds.base import SEED, Export, Kind, Loaded, Score, Trained
from savedmodel_kata.kinds.graph import GraphModel, build
from savedmodel_kata.kinds.training import Snapshot
from savedmodel_kata.plugin import graph_checks
from savedmodel_kata.plugin.checks import (
    ARCHITECTURE_PROBLEM,
    PROBABILITY_TOLERANCE,
    SUBSET_EXAMPLES,
    accuracy_problem,
    check_a_fraction,
    check_a_new_model_each_call,
    check_a_savedmodel_folder,
    check_accuracy,
    check_computes_the_tutorials_function,
    check_counts_correct,
    check_end_to_end,
    check_specs_as_exported,
    check_the_loaded_objects_own_signature,
    check_trains_from_its_own_start,
    check_trains_like_the_reference,
    describe_check,
    examples,
    initial_values_problem,
    key_id,
    looks_like_probabilities,
    opened,
    same_count,
)
from savedmodel_kata.plugin.fresh_process import FreshProcess, relocate
from savedmodel_kata.results import Failure
from savedmodel_kata.tensorflow_setup import import_tensorflow

if TYPE_CHECKING:  # the fixtures' types, for annotations only: no imports at run time
    from savedmodel_kata.code_under_test import StudentCode
    from savedmodel_kata.mnist import Digits
    from savedmodel_kata.plugin.fixtures import BeforeSave

    # What a `..._test` function here returns for a module to bind: a test function, pytest's
    # and Hypothesis' decorators applied.
    MadeTest = Callable[..., None]

tf = import_tensorflow()


def keras_logits_of(model: Any, images: np.ndarray) -> np.ndarray:
    """A Keras model's outputs on `images`; a call that fails is the student's failure, with its
    first line (Keras wraps shape errors in several types)."""
    try:
        return np.asarray(model(tf.constant(images)))
    except Exception as error:
        pytest.fail(
            f"calling your model on a batch of {len(images)} images failed: "
            f"{type(error).__name__}: {str(error).strip().splitlines()[0]}",
            pytrace=False,
        )


def any_batch_size(
    *, max_examples: int, largest: int, explicit: tuple[int, ...]
) -> Callable[[MadeTest], MadeTest]:
    """Hypothesis' batch sizes for a test's `batch_size`: the `explicit` ones, then up to
    `max_examples` drawn from 1 to `largest`."""

    def decorate(test: MadeTest) -> MadeTest:
        for size in reversed(explicit):
            test = example(batch_size=size)(test)
        sizes = given(batch_size=st.integers(min_value=1, max_value=largest))
        return settings(max_examples=examples(max_examples))(sizes(test))

    return decorate


# --- create_model ------------------------------------------------------------


def output_shape_test(
    logits_of: Callable[[Any, np.ndarray], Any],
    *,
    max_examples: int,
    dtype: type[np.generic] | None = None,
) -> MadeTest:
    """create_model's test that its model gives [batch, 10] logits (of `dtype`, if given) for
    any batch; `logits_of(model, images)` calls the model."""

    @pytest.mark.function("create_model")
    @any_batch_size(max_examples=max_examples, largest=64, explicit=(1, 33))
    def test_create_model_output_shape_for_any_batch_size(
        student_model: Callable[[], Any], batch_size: int
    ) -> None:
        images = np.random.default_rng(batch_size).random((batch_size, 28, 28, 1), dtype=np.float32)
        logits = logits_of(student_model(), images)
        if dtype is None:
            assert logits.shape == (batch_size, 10), (
                f"a batch of {batch_size} gave logits shaped {logits.shape}"
            )
            return
        assert logits.shape == (batch_size, 10) and logits.dtype == dtype, (
            f"a batch of {batch_size} images gave {logits.dtype} logits shaped {logits.shape}; "
            f"expected {np.dtype(dtype).name} ({batch_size}, 10)"
        )

    return test_create_model_output_shape_for_any_batch_size


def logits_not_probabilities_test(
    logits_of: Callable[[Any, np.ndarray], np.ndarray], *, lesson: str
) -> MadeTest:
    """create_model's test that its model's outputs are logits; `lesson` when they look like
    probabilities."""

    @pytest.mark.function("create_model")
    def test_create_model_returns_logits_not_probabilities(
        student_model: Callable[[], Any],
    ) -> None:
        images = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
        assert not looks_like_probabilities(logits_of(student_model(), images)), lesson

    return test_create_model_returns_logits_not_probabilities


def computes_the_tutorials_function_test(
    logits_of: Callable[[Any, np.ndarray], Any] | None = None,
    *,
    problem: str = ARCHITECTURE_PROBLEM,
) -> MadeTest:
    """create_model's test that, given the reference's trained weights, its model computes the
    reference's probabilities: the softmax of `logits_of(model, images)` (by default the
    kind's prediction); `problem` says what is wrong ({worst}: the largest difference)."""

    def softmax_of_logits(model: Any, images: np.ndarray) -> np.ndarray:
        # Passed on only when logits_of is given (mypy does not narrow it in here).
        return tf.nn.softmax(logits_of(model, images)).numpy()  # type: ignore[misc]

    @pytest.mark.function("create_model")
    def test_create_model_computes_the_tutorials_function(
        kind: Kind, student: StudentCode, before_save: BeforeSave, mnist: Digits
    ) -> None:
        check_computes_the_tutorials_function(
            kind,
            student.create_model,
            before_save,
            mnist.test_images,
            predict=softmax_of_logits if logits_of else None,
            problem=problem,
        )

    return test_create_model_computes_the_tutorials_function


@pytest.mark.function("create_model")
def test_create_model_returns_a_new_model_each_call(
    kind: Kind, student: StudentCode, student_model: Callable[[], Any]
) -> None:
    check_a_new_model_each_call(student_model(), kind.new_model(student.create_model))


@pytest.mark.function("create_model")
def test_create_model_trains_like_the_reference(
    student_trained: Callable[[], Trained], reference_trained: Trained
) -> None:
    check_trains_like_the_reference(student_trained(), reference_trained)


@pytest.mark.function("create_model")
def test_create_model_trains_from_its_own_initial_weights(
    student_trained_own: Callable[[], Trained],
) -> None:
    check_trains_from_its_own_start(student_trained_own())


def trainable_values(model: Any) -> list[tuple[str, np.ndarray]]:
    """Each trainable variable's name and value: a graph model's read in its session, a Keras
    variable named by its path (its name is only 'kernel')."""
    if isinstance(model, GraphModel):
        variables = model.variables(trainable_only=True)
        return list(zip((v.name for v in variables), model.session.run(variables), strict=True))
    return [(getattr(v, "path", None) or v.name, np.asarray(v)) for v in model.trainable_variables]


@pytest.mark.function("create_model")
def test_create_model_starts_from_the_tutorials_initial_values(
    student_model: Callable[[], Any],
) -> None:
    problem = initial_values_problem(trainable_values(student_model()))
    assert problem is None, f"create_model: {problem}"


# Exercises 2 and 3 make it calling their model themselves, for lessons of their own.
test_create_model_computes_the_tutorials_function = computes_the_tutorials_function_test()


# --- create_model, a graph-mode model's (exercises 1 and 4) --------------------


@pytest.mark.function("create_model")
def test_create_model_has_the_tutorials_parameters(student_model: Callable[[], Any]) -> None:
    graph_checks.check_parameters(student_model())


# Exercise 4's name for it.
test_create_model_builds_the_tutorials_layers = test_create_model_has_the_tutorials_parameters


@pytest.mark.function("create_model")
def test_create_model_returns_logits_not_probabilities(
    student_model: Callable[[], Any],
) -> None:
    graph_checks.check_logits_not_probabilities(student_model())


# --- save --------------------------------------------------------------------


def savedmodel_folder_test(*, no_model: str, no_variables: str | None) -> MadeTest:
    """save's test that it writes a SavedModel folder: its proto (else `no_model`) and its
    variables (else `no_variables`; None: another test says what of them is missing). The
    messages are check_a_savedmodel_folder's templates."""

    @pytest.mark.function("save")
    def test_save_writes_a_savedmodel_folder(student_export: Callable[[], Export]) -> None:
        check_a_savedmodel_folder(
            student_export().directory, no_model=no_model, no_variables=no_variables
        )

    return test_save_writes_a_savedmodel_folder


def reloaded_elsewhere_test(
    serve: str, *, prediction_problem: str, accuracy_source: str, accuracy_fix: str = ""
) -> MadeTest:
    """save's test that its export, reloaded by TF2 in a fresh process, serves the trained
    model's probabilities (signature `serve`) and accuracy ('evaluate'); the messages as
    check_reloaded_elsewhere takes them."""

    @pytest.mark.function("save")
    def test_save_export_reloaded_elsewhere(
        student_export: Callable[[], Export],
        fresh_process: FreshProcess,
        before_save: BeforeSave,
        mnist: Digits,
    ) -> None:
        check_reloaded_elsewhere(
            fresh_process, student_export().directory, before_save, mnist.test_images,
            mnist.test_labels, api="tf2", serve=serve, prediction_problem=prediction_problem,
            accuracy_source=accuracy_source, accuracy_fix=accuracy_fix,
        )  # fmt: skip

    return test_save_export_reloaded_elsewhere


def check_reloaded_elsewhere(
    fresh_process: FreshProcess, directory: Path, before_save: BeforeSave,
    images: np.ndarray, labels: np.ndarray, *, api: str, serve: str,
    prediction_problem: str, accuracy_source: str, accuracy_fix: str = "",
) -> None:  # fmt: skip
    """The export in `directory`, reloaded in a fresh process by `api` (tf1, tf2), gives the
    trained model's probabilities through signature `serve` (else `prediction_problem`, with
    {worst}: the largest difference) and its accuracy through 'evaluate' fed `labels` (else
    accuracy_problem's message from `accuracy_source`, then `accuracy_fix`)."""
    served = fresh_process.run(directory, api, serve, {"input": images}, ["prediction"])
    worst = float(np.max(np.abs(served["prediction"] - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, prediction_problem.format(worst=worst)
    feeds = {"input": images, "label": labels}
    evaluated = fresh_process.run(directory, api, "evaluate", feeds, ["accuracy"])
    accuracy = float(evaluated["accuracy"])
    assert same_count(accuracy, before_save.score), (
        accuracy_problem(accuracy, before_save.score, source=accuracy_source) + accuracy_fix
    )


def exports_each_model_test(
    served: Callable[
        [Kind, StudentCode, Any, Path, np.ndarray, np.ndarray], tuple[np.ndarray, float]
    ],
    *,
    fix: str,
) -> MadeTest:
    """save's test that, called for two models in turn, it exports each: `served(kind, student,
    model, directory, images, labels)` exports `model` into `directory` with the student's save
    and returns what the export predicts and its accuracy; `fix` ends the message."""

    @pytest.mark.function("save")
    def test_save_exports_each_model_it_is_given(
        kind: Kind,
        student: StudentCode,
        reference: ModuleType,
        student_export: Callable[[], Export],
        trained_copy: Callable[[], Any],
        new_export_dir: Callable[[], Path],
        mnist: Digits,
    ) -> None:
        def served_by_students_save(
            model: Any, images: np.ndarray, labels: np.ndarray
        ) -> tuple[np.ndarray, float]:
            return served(kind, student, model, new_export_dir(), images, labels)

        check_exports_each_model_it_is_given(
            kind, reference, student_export, trained_copy, mnist, served_by_students_save, fix=fix
        )

    return test_save_exports_each_model_it_is_given


# --- save, a graph-mode model's (exercises 1 and 4) -------------------------------


def check_exports_the_trained_variables(
    variables: Path, reference_trained: Trained, trained_snapshot: Snapshot, *, fix: str
) -> None:
    """The checkpoint `variables` (an export's variables/variables) holds every trainable
    variable of the graph model, at its trained value (else `fix` says why it is not)."""
    checkpoint = tf.train.load_checkpoint(str(variables))
    for name in reference_trained.model.values(trainable_only=True):
        key = name.removesuffix(":0")
        assert checkpoint.has_tensor(key), f"the exported variables have no {key!r}"
        assert np.array_equal(checkpoint.get_tensor(key), trained_snapshot[name]), (
            f"the exported {key!r} differs from the trained value: {fix}"
        )


def accuracy_run_in_the_session(
    loaded: Loaded, label_key: str
) -> Callable[[np.ndarray, np.ndarray], Any]:
    """Runs of the accuracy tensor a graph loader returned, in its session: fed images and
    one-hot labels (under `label_key`), as check_accuracy_of_each_run calls it."""
    tensors, session = loaded.value, loaded.session

    def run_accuracy(images: np.ndarray, one_hot_labels: np.ndarray) -> Any:
        feed = {tensors["input"]: images, tensors[label_key]: one_hot_labels}
        return session.run(tensors["accuracy"], feed)

    return run_accuracy


# Other names than the tutorial's, for the tensors the harness passes to save().
OTHER_TENSOR_NAMES = {
    "input": "features",
    "output": "labels",
    "prediction": "probabilities",
    "accuracy": "score",
}
OTHER_TENSOR_NAMES_FIX = (
    "Map each key to the tensor save() was given (x, y, y_pred, acc); never look tensors up "
    "by the tutorial's names."
)


class OtherNamesExport(NamedTuple):
    """The student's export of the trained model with its tensors named OTHER_TENSOR_NAMES,
    moved, and what that model computes on the digits it is checked with."""

    directory: Path
    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    score: Score


def exported_with_other_tensor_names(
    kind: Kind,
    student: StudentCode,
    reference: ModuleType,
    trained_snapshot: Snapshot,
    mnist: Digits,
    new_export_dir: Callable[[], Path],
) -> OtherNamesExport:
    # Every other export under test names its tensors as the tutorial does: a save that looks
    # them up by those names, ignoring its arguments, is caught only here.
    images, labels = mnist.test_images[:200], mnist.test_labels[:200]
    with opened(kind, build(reference.create_model, names=OTHER_TENSOR_NAMES)) as model:
        kind.restore(model, trained_snapshot)
        expected = kind.predict(model, images)
        score = kind.score(model, images, labels)
        try:
            written = kind.export(student.save, model, new_export_dir())
        except StudentError as error:
            if error.failure == Failure.NOT_IMPLEMENTED:
                raise
            pytest.fail(
                f"with the model's tensors named {OTHER_TENSOR_NAMES}, save failed. Map each key "
                "to the tensor save() was given (x, y, y_pred, acc); never look tensors up by "
                f"the tutorial's names ('myInput:0', ...).\n{error}",
                pytrace=False,
            )
    directory = relocate(written, new_export_dir()).directory
    return OtherNamesExport(directory, images, labels, expected, score)


# --- load_signature_tensors --------------------------------------------------


def describes_the_signature_test(
    signatures: dict,
    check_described: Callable[[Any, str], None],
    *,
    where: str,
    **compared: Any,
) -> MadeTest:
    """load_signature_tensors' test that, for each key of `signatures` ({key: (inputs,
    outputs)} as the export declares them), it describes that signature's specs:
    `check_described(description, key)` checks what it returned, check_specs_as_exported
    the specs (`where`, with {key}, begins its message; `compared`: its other options)."""

    @pytest.mark.function("load_signature_tensors")
    @pytest.mark.parametrize("key", sorted(signatures), ids=key_id)
    def test_load_signature_tensors_describes_the_signature(
        student: StudentCode, reference_export: Export, key: str
    ) -> None:
        description = student.load_signature_tensors(str(reference_export.directory), key)
        check_described(description, key)
        check_specs_as_exported(
            description, signatures[key], where.format(key=repr(key)), **compared
        )

    return test_load_signature_tensors_describes_the_signature


def rewritten_path_test(
    predict: Callable[[Callable[..., Any], str, np.ndarray], np.ndarray],
    reads: tuple[str, str],
    fix: str,
) -> MadeTest:
    """load_signature_tensors' test that a folder replaced by a newer export is loaded anew:
    `predict(load_signature_tensors, path, images)` loads `path` with it and predicts through
    what it returned; `reads` and `fix` as check_loads_an_export_rewritten_at_the_same_path
    takes them."""

    @pytest.mark.function("load_signature_tensors")
    def test_load_signature_tensors_loads_an_export_rewritten_at_the_same_path(
        kind: Kind,
        student: StudentCode,
        reference: ModuleType,
        reference_export: Export,
        new_export_dir: Callable[[], Path],
        before_save: BeforeSave,
        mnist: Digits,
    ) -> None:
        def predicted(path: str, images: np.ndarray) -> np.ndarray:
            return predict(student.load_signature_tensors, path, images)

        check_loads_an_export_rewritten_at_the_same_path(
            kind, reference, reference_export, new_export_dir, before_save, mnist, predicted,
            reads=reads, fix=fix,
        )  # fmt: skip

    return test_load_signature_tensors_loads_an_export_rewritten_at_the_same_path


# --- load_signature_tensors, loading the TF2 way (exercises 2 and 4) ------------

TF2_SIGNATURES = ("evaluate", "serving_default")  # what exercises 2 and 4 export


@pytest.mark.function("load_signature_tensors")
@pytest.mark.parametrize("key", TF2_SIGNATURES, ids=key_id)
def test_load_signature_tensors_returns_the_loaded_objects_own_signature(
    student: StudentCode, reference_export: Export, key: str
) -> None:
    check_the_loaded_objects_own_signature(
        student.load_signature_tensors(str(reference_export.directory), key), key
    )


# Exercise 4's name for it (its loader also loads into a TF1 session).
test_load_signature_tensors_in_tf2_returns_the_loaded_objects_own_signature = (
    test_load_signature_tensors_returns_the_loaded_objects_own_signature
)


@pytest.mark.function("load_signature_tensors")
def test_load_signature_tensors_function_takes_keywords_and_restores_the_weights(
    student: StudentCode, reference_export: Export, before_save: BeforeSave, mnist: Digits
) -> None:
    description = student.load_signature_tensors(str(reference_export.directory), "serving_default")
    describe_check(description, "serving_default")
    outputs = description["function"](input=tf.constant(mnist.test_images))
    worst = float(np.max(np.abs(outputs["prediction"].numpy() - before_save.probabilities)))
    assert worst <= PROBABILITY_TOLERANCE, (
        f"the function you returned predicts other probabilities (by up to {worst:.3g}): return "
        "loaded.signatures[signature_key] itself"
    )


# Exercise 4's name for it.
test_load_signature_tensors_in_tf2_function_gives_the_trained_probabilities = (
    test_load_signature_tensors_function_takes_keywords_and_restores_the_weights
)


def check_exports_each_model_it_is_given(
    kind: Kind,
    reference: ModuleType,
    student_export: Callable[[], Export],
    trained_copy: Callable[[], Any],
    mnist: Digits,
    served: Callable[[Any, np.ndarray, np.ndarray], tuple[np.ndarray, float]],
    *,
    fix: str,
) -> None:
    """save called for two models in turn (after it exported one already) exports each: its
    probabilities and accuracy are that model's. `served(model, images, labels)` exports
    `model` with the student's save and returns what the export predicts and its accuracy;
    `fix` ends the message."""
    student_export()  # save has exported a model in this process already
    other_weights = trained_copy()
    kind.assign(other_weights, kind.initial_weights(reference.create_model, seed=SEED + 1))
    images, labels = mnist.test_images[:200], mnist.test_labels[:200]
    for name, model in (
        ("the trained model", trained_copy()),
        ("a model with other weights", other_weights),
    ):
        expected = kind.predict(model, images)
        predicted, accuracy = served(model, images, labels)
        worst = float(np.max(np.abs(predicted - expected)))
        right = int(np.sum(np.argmax(expected, axis=1) == labels))
        assert worst <= PROBABILITY_TOLERANCE and same_count(accuracy, Score(right, 200)), (
            f"save was called for two models in turn; the export of {name} does not compute "
            f"that model (probabilities off by up to {worst:.3g}, accuracy {accuracy:.4g} where "
            f"it gets {right}/200). Each export must serve the model save is given: {fix}"
        )


def check_loads_an_export_rewritten_at_the_same_path(
    kind: Kind,
    reference: ModuleType,
    reference_export: Export,
    new_export_dir: Callable[[], Path],
    before_save: BeforeSave,
    mnist: Digits,
    predict: Callable[[str, np.ndarray], np.ndarray],
    *,
    reads: tuple[str, str],
    fix: str,
) -> None:
    """A served folder replaced by a newer export: the next load must serve the new model.
    `predict(path, images)` loads `path` with the student's loader and predicts through what it
    returned; `reads` names what predicted on the first load and on the second (('function',
    'load'), ('layer', 'layer')), `fix` is the first load's lesson."""
    other_model = kind.new_model(reference.create_model)
    other = kind.export(reference.save, other_model, new_export_dir())
    images = mnist.test_images[:200]
    path = new_export_dir()
    for rewritten, (source, expected) in enumerate(
        (
            (reference_export.directory, before_save.probabilities[:200]),
            (other.directory, kind.predict(other_model, images)),
        )
    ):
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(source, path)
        worst = float(np.max(np.abs(predict(str(path), images) - expected)))
        assert worst <= PROBABILITY_TOLERANCE, (
            "export_dir was loaded, then replaced by another model's export, and loaded again: "
            f"the second {reads[1]} predicts other probabilities (by up to {worst:.3g}) than the "
            "export now there. Load the folder anew on every call (never keep loads by path)."
            if rewritten
            else f"the reloaded {reads[0]} predicts other probabilities (by up to {worst:.3g}) "
            f"than the export's model: {fix}"
        )


def check_reads_the_names_of_another_export(
    student: StudentCode,
    model: Any,
    new_export_dir: Callable[[], Path],
    exporter: str,
    fix: str,
) -> None:
    """`model` exported by another exporter, with other names ('classify': 'pixels' in,
    'scores' out): the student's loader must read them from the export (`exporter` says whose
    it is, `fix` where the names are)."""
    serve = tf.function(
        lambda pixels: {"scores": model(pixels)},
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="pixels")],
    )
    export_dir = new_export_dir()
    tf.saved_model.save(model, str(export_dir), signatures={"classify": serve})
    description = student.load_signature_tensors(str(export_dir), "classify")
    describe_check(description, "classify")
    assert set(description["inputs"]) == {"pixels"} and set(description["outputs"]) == {"scores"}, (
        f"for {exporter} whose 'classify' signature maps 'pixels' to 'scores', you returned "
        f"inputs {sorted(description['inputs'])} and outputs {sorted(description['outputs'])}: "
        f"{fix}"
    )


# --- evaluate ----------------------------------------------------------------
# Each on the reference's export, reloaded by the reference's loader.


@pytest.mark.function("evaluate")
def test_evaluate_returns_a_fraction(
    kind: Kind, student: StudentCode, reference_loaded: Callable[..., Loaded], mnist: Digits
) -> None:
    loaded = reference_loaded(kind.evaluate_key)
    accuracy = kind.evaluate(student.evaluate, loaded, mnist.test_images, mnist.test_labels)
    check_a_fraction(accuracy)


@pytest.mark.function("evaluate")
def test_evaluate_counts_the_same_digits_as_the_trained_model(
    kind: Kind,
    student: StudentCode,
    reference_loaded: Callable[..., Loaded],
    before_save: BeforeSave,
    mnist: Digits,
) -> None:
    loaded = reference_loaded(kind.evaluate_key)
    accuracy = kind.evaluate(student.evaluate, loaded, mnist.test_images, mnist.test_labels)
    check_accuracy(accuracy, before_save.score)


# The same test, named by what it asks of evaluate where no test of a fraction comes before it.
test_evaluate_returns_the_trained_models_accuracy = (
    test_evaluate_counts_the_same_digits_as_the_trained_model
)


@pytest.mark.function("evaluate")
@settings(max_examples=examples(8))
@given(rows=st.lists(st.integers(0, 1999), min_size=1, max_size=300, unique=True))
@example(rows=SUBSET_EXAMPLES[0])
@example(rows=SUBSET_EXAMPLES[1])
def test_evaluate_counts_correct_predictions_on_any_subset(
    kind: Kind,
    student: StudentCode,
    reference_loaded: Callable[..., Loaded],
    before_save: BeforeSave,
    mnist: Digits,
    rows: list[int] | np.ndarray,
) -> None:
    rows = np.array(rows)
    loaded = reference_loaded(kind.evaluate_key, shared=True)
    images, labels = mnist.test_images[rows], mnist.test_labels[rows]
    accuracy = kind.evaluate(student.evaluate, loaded, images, labels)
    check_counts_correct(accuracy, before_save.probabilities[rows], labels, before_save.score)


@pytest.mark.function("evaluate")
def test_evaluate_takes_labels_of_any_integer_dtype(
    kind: Kind,
    student: StudentCode,
    reference_loaded: Callable[..., Loaded],
    before_save: BeforeSave,
    mnist: Digits,
) -> None:
    labels = mnist.test_labels.astype(np.int32)  # integer digits, not the signature's int64
    loaded = reference_loaded(kind.evaluate_key)
    accuracy = kind.evaluate(student.evaluate, loaded, mnist.test_images, labels)
    check_accuracy(accuracy, before_save.score)


@pytest.mark.function("evaluate")
def test_evaluate_answers_each_call_for_its_own_digits(
    kind: Kind,
    student: StudentCode,
    reference_loaded: Callable[..., Loaded],
    before_save: BeforeSave,
    mnist: Digits,
) -> None:
    # One loaded model, three calls: nothing may carry over from one call to the next.
    loaded = reference_loaded(kind.evaluate_key)
    images, labels = mnist.test_images, mnist.test_labels
    first = kind.evaluate(student.evaluate, loaded, images, labels)
    few = kind.evaluate(student.evaluate, loaded, images[:100], labels[:100])
    again = kind.evaluate(student.evaluate, loaded, images, labels)
    graph_checks.check_not_a_running_accuracy(first, few, before_save.probabilities, labels)
    check_counts_correct(few, before_save.probabilities[:100], labels[:100], before_save.score)
    assert first == again, (
        f"evaluate gave {first!r}, then {again!r} for the same digits on the same loaded model: "
        "something carries over between calls. Compute each call's accuracy from its own images "
        "and labels."
    )


# --- all four together -------------------------------------------------------


@pytest.mark.end_to_end
def test_end_to_end_with_all_your_functions(
    kind: Kind,
    student: StudentCode,
    reference: ModuleType,
    student_trained_own: Callable[[], Trained],
    mnist: Digits,
    new_export_dir: Callable[[], Path],
) -> None:
    trained = student_trained_own()
    export = kind.export(student.save, trained.model, new_export_dir())
    check_end_to_end(kind, student, reference, trained, mnist, export.directory)
