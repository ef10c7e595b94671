"""Student code that fails, raises or hangs is reported as a lesson, never as a harness crash."""

from __future__ import annotations

import textwrap
import time

import pytest

from savedmodel_kata import catalogue
from savedmodel_kata.code_under_test import StudentCode
from savedmodel_kata.errors import StudentError
from savedmodel_kata.settings import TARGETS

EXERCISE = catalogue.exercises()[0]


@pytest.fixture
def student_file(tmp_path):
    for target in TARGETS:
        (tmp_path / target).mkdir()
    path = tmp_path / "exercises" / EXERCISE.file_name

    def write(source: str) -> StudentCode:
        path.write_text(textwrap.dedent(source))
        return StudentCode(tmp_path, "exercises", EXERCISE, timeout=1)

    return write


def test_a_stub_says_it_is_not_implemented_and_keeps_its_pointer(student_file):
    code = student_file("def save(*args):\n    raise NotImplementedError('see kata hint 1 save')\n")
    with pytest.raises(
        StudentError, match=r"save\(\) is not implemented yet\.\n  see kata hint 1 save"
    ):
        code.save()


def test_an_exception_names_the_students_own_line(student_file):
    code = student_file(
        """
        def evaluate(sess, tensors, images, labels):
            return helper(images)

        def helper(images):
            return images["accuracy"]
        """
    )
    with pytest.raises(StudentError) as raised:
        code.evaluate(None, {}, [1, 2], [1])
    lesson = str(raised.value)
    assert "evaluate() raised TypeError" in lesson
    assert "line 3, in evaluate: return helper(images)" in lesson
    assert 'line 6, in helper: return images["accuracy"]' in lesson


def test_a_call_that_never_returns_is_stopped_and_explained(student_file):
    code = student_file("def create_model(x):\n    while True:\n        pass\n")
    with pytest.raises(StudentError, match=r"did not return within 1 s"):
        code.create_model(None)
    started = time.perf_counter()
    with pytest.raises(StudentError, match=r"in an earlier test; not called again"):
        code.create_model(None)
    assert time.perf_counter() - started < 0.5


def test_catching_everything_does_not_hide_a_hang(student_file):
    code = student_file(
        """
        def create_model(x):
            while True:
                try:
                    pass
                except Exception:
                    pass
        """
    )
    with pytest.raises(StudentError, match="did not return"):
        code.create_model(None)


def test_a_renamed_function_is_named(student_file):
    code = student_file("def load_tensors(sess, export_dir):\n    return {}\n")
    with pytest.raises(StudentError, match=r"has no function load_signature_tensors\(\)"):
        _ = code.load_signature_tensors


def test_module_level_errors_say_to_keep_work_inside_functions(student_file):
    code = student_file("import numpy\nDATA = numpy.load('/nonexistent.npz')\n")
    with pytest.raises(
        StudentError, match=r"raised FileNotFoundError \(line 2\).*inside the functions"
    ):
        _ = code.save


@pytest.mark.parametrize(
    "body, advice",
    [
        ("model.save(export_dir)", r"keras.export.ExportArchive \(or model.export\(export_dir\)\)"),
        (
            "keras.models.load_model(export_dir)",
            r"keras.layers.TFSMLayer\(export_dir, call_endpoint='serve'\)",
        ),
    ],
    ids=["model.save(dir)", "load_model(dir)"],
)
def test_keras_3_format_mistakes_point_to_the_right_call(student_file, tmp_path, body, advice):
    import keras

    from savedmodel_kata.tensorflow_setup import import_tensorflow

    tf = import_tensorflow()
    export_dir = tmp_path / "exported"
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    tf.saved_model.save(tf.Module(), str(export_dir))  # a real SavedModel for load_model to refuse
    code = student_file(f"import keras\n\ndef save(model, export_dir):\n    {body}\n")
    with pytest.raises(StudentError, match=advice):
        code.save(model, str(export_dir))


@pytest.mark.parametrize(
    "correct, total, places",
    [(263, 286, 4), (1841, 2000, 2), (7425, 8000, 4), (55123, 60000, 6)],
    ids=["286-digits-4-places", "2000-digits-2-places", "8000-digits-4-places", "60000-6-places"],
)
def test_a_rounded_accuracy_is_named_rounded_with_the_exact_share_beside_it(correct, total, places):
    from savedmodel_kata.kinds.base import Score
    from savedmodel_kata.plugin.checks import accuracy_problem, same_count

    expected = Score(correct, total)
    rounded = round(correct / total, places)
    assert not same_count(rounded, expected)  # rounding moved it off the count
    problem = accuracy_problem(rounded, expected)
    assert f"looks rounded to {places} places" in problem, problem
    assert f"the exact share is {correct}/{total} = {correct / total!r}" in problem, problem
    assert "not a whole number" not in problem


def test_evaluate_rounding_to_4_places_is_told_it_rounds(kata_copy):
    # Over the 2,000 test digits round(x, 4) is exact; over 286 or 8,000 digits it is not.
    from savedmodel_kata.plugin.in_process import run_tests

    source = (kata_copy / "solutions" / EXERCISE.file_name).read_text()
    planted = source.replace("    return float(value)", "    return round(float(value), 4)")
    assert planted != source
    (kata_copy / "exercises" / EXERCISE.file_name).write_text(planted)
    recorder = run_tests(kata_copy, [EXERCISE], select="evaluate")
    failed = [r for r in recorder.results if not r.passed]
    assert failed, "round(value, 4) passed every test of evaluate"
    assert all("looks rounded to 4 places" in r.message for r in failed), [
        r.message for r in failed
    ]
