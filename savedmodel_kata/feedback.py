"""Calling student code so that every failure reads as a lesson.

`StudentCode` stands for one exercise module of one target. Its functions
raise `StudentError` whose message says what went wrong, where (the
student's own lines, not TensorFlow's internals) and what to do next: a
stub not written yet, an exception, a call that never returns, a module
that does not import. The pytest plugin shows that message instead of a
traceback; the runner prints it.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import traceback
from pathlib import Path

from savedmodel_kata import catalogue, targets

CALL_TIMEOUT_ENVIRONMENT_VARIABLE = "KATA_CALL_TIMEOUT"
# Every student function only builds, saves, loads or evaluates: a second or
# two at most here. A call still running after this long is stuck.
DEFAULT_CALL_TIMEOUT_SECONDS = 30
MAX_MESSAGE_LINES = 12


# Errors students meet often, recognised by their text (a regular expression),
# each with what it means and the call to make instead.
KNOWN_MISTAKES = (
    (
        r"Invalid filepath extension for saving",
        "Keras 3's model.save writes only a .keras (or .h5) file. For a SavedModel to serve, use "
        "keras.export.ExportArchive (or model.export(export_dir)); for the file, model.save('name.keras').",
    ),
    (
        r"legacy SavedModel format is not supported by `load_model\(\)`",
        "Keras 3's load_model reads only .keras and .h5 files. Reload a SavedModel endpoint with "
        "keras.layers.TFSMLayer(export_dir, call_endpoint='serve'), or use tf.saved_model.load(export_dir).",
    ),
    (
        r"could not be found in SavedModel, with available tags",
        "The loader did not find the tags it was given. Tags are a list, ['serve'], not the string 'serve' "
        "(a string is read letter by letter), and must be the tags the export was written with.",
    ),
    (
        r"depends on a placeholder which is not an input",
        "tf.saved_model.load needs every placeholder an output uses to be an input of its signature: "
        "exercise 4 shows how.",
    ),
    (
        r"refers to an Operation, not a Tensor",
        "A tensor's name ends with its output index, ':0'. The names in a signature's TensorInfo already "
        "have it: pass info.name to get_tensor_by_name as it is.",
    ),
    (
        r"already exists, and isn't empty",
        "SavedModel exporters refuse a folder that already holds files. Write each export once, into the "
        "export_dir you were given, and do not create or fill it beforehand.",
    ),
    (
        r"is neither an attribute of the reloaded SavedModel",
        "TFSMLayer's call_endpoint must be an endpoint the export has (the error lists them): this kata's "
        "Keras exports have 'serve' and 'evaluate'.",
    ),
    (
        r"(accuracy|metric)\S*/(total|count)\S* does not exist|uninitialized value \S*/(total|count)",
        "tf.compat.v1.metrics.* keep running counts in local variables, which need "
        "tf.compat.v1.local_variables_initializer() before the first update. The mean of "
        "tf.equal(argmax, labels) needs no variables at all.",
    ),
    (
        r"is not compatible with eager execution",
        "Placeholders exist only in graph mode. TensorFlow 2 code takes tensors (or numpy arrays) directly; "
        "graph-mode code must run inside `with tf.Graph().as_default():`.",
    ),
    (
        r"SavedModel file does not exist at",
        "There is no saved_model.pb in that folder: check the path, and that save() wrote the SavedModel "
        "into export_dir itself.",
    ),
)


def advice_for(message: str) -> str:
    """The advice of every known mistake whose pattern matches `message`."""
    return "".join(f"\nHint: {advice}" for pattern, advice in KNOWN_MISTAKES if re.search(pattern, message))


class StudentError(Exception):
    """Student code failed; str() is the lesson."""


class _Timeout(BaseException):
    # BaseException, so a student's `except Exception:` cannot swallow it.
    pass


def call_timeout() -> int:
    return int(os.environ.get(CALL_TIMEOUT_ENVIRONMENT_VARIABLE, DEFAULT_CALL_TIMEOUT_SECONDS))


class StudentCode:
    """One exercise module (of exercises/ or solutions/); attribute access gives its functions, wrapped.

    The module is imported at the first call, so a syntax error fails each
    call with its line instead of breaking the whole run.
    """

    def __init__(self, root: Path, target: str, exercise: catalogue.Exercise, timeout: int | None = None):
        self.root, self.target, self.exercise, self.timeout = root, target, exercise, timeout
        self.path = targets.module_path(root, target, exercise)
        self.display_path = f"{target}/{exercise.file_name}"
        self._module = None
        self._timed_out: set[str] = set()

    def __repr__(self) -> str:
        return f"<{self.display_path}>"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis' printer asks for this one
        printer.text(repr(self))

    @property
    def module(self):
        if self._module is None:
            try:
                self._module = targets.import_exercise(self.root, self.target, self.exercise)
            except targets.TargetError as error:
                raise StudentError(str(error)) from None
        return self._module

    def __getattr__(self, name: str):
        if name not in catalogue.EXERCISE_FUNCTIONS:
            raise AttributeError(name)
        function = getattr(self.module, name, None)
        if not callable(function):
            raise StudentError(
                f"{self.display_path} has no function {name}(): the tests call it by that name. "
                f"Did you rename or delete it? `git diff {self.display_path}` shows what changed."
            )

        def call(*args, **kwargs):
            __tracebackhide__ = True
            return self._call(name, function, args, kwargs)

        call.__wrapped__ = function
        call.__name__ = name
        return call

    def _call(self, name, function, args, kwargs):
        __tracebackhide__ = True
        label = f"{self.display_path}: {name}()"
        if name in self._timed_out:
            # Waiting the whole limit again, test after test, teaches nothing new.
            raise StudentError(f"{label} did not return within {self.timeout} s in an earlier test; not called again.")
        # The lesson is built inside `except` and raised after it, so it is
        # shown alone, not as "during handling of the above exception".
        try:
            with _TimeLimit(self.timeout):
                return function(*args, **kwargs)
        except NotImplementedError as error:
            lesson = f"{label} is not implemented yet.\n  {error}"
        except _Timeout:
            self._timed_out.add(name)
            lesson = (
                f"{label} did not return within {self.timeout} s. Look for a loop that never ends, "
                "or training or data loading that does not belong in this function. "
                f"(Raise the limit with ${CALL_TIMEOUT_ENVIRONMENT_VARIABLE}=seconds.)"
            )
        except StudentError:
            raise
        except Exception as error:
            lesson = (
                f"{label} raised {type(error).__name__}: {_shorten(str(error))}\n"
                f"{self._student_frames(error)}{advice_for(str(error))}"
            )
        raise StudentError(lesson)

    def _student_frames(self, error: BaseException) -> str:
        mine = self.path.resolve()
        frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == mine]
        if not frames:
            return "  (raised inside a library your code called: check the arguments you passed it)"
        lines = [f"  {self.display_path}, line {f.lineno}, in {f.name}: {f.line}" for f in frames]
        return "Your code, innermost call last:\n" + "\n".join(lines)


def _shorten(text: str) -> str:
    lines = text.strip().splitlines() or [""]
    if len(lines) > MAX_MESSAGE_LINES:
        lines = lines[:MAX_MESSAGE_LINES] + [f"... ({len(lines) - MAX_MESSAGE_LINES} more lines)"]
    return "\n  ".join(lines)


class _TimeLimit:
    """A SIGALRM limit on one call: main thread on POSIX only; elsewhere, or with None, no limit.

    A call stuck inside TensorFlow's C++ code is interrupted only when it
    returns to Python; isolating whole runs is the grader's job.
    """

    def __init__(self, seconds: int | None):
        self.seconds = seconds
        self.active = bool(seconds) and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    @staticmethod
    def _expire(signum, frame):
        raise _Timeout()
