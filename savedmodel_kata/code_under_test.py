"""The code under test: finding it, importing it, and calling it so that failures teach.

The exercise code lives in two folders of the repository, never in the
installed package: `exercises/` (the student's stubs and answers) and
`solutions/` (the reference). Each is a *target*; both hold a module of the
same name for each exercise, imported by file path under distinct module
names, with the repository on `sys.path` so a student's
`from exercises.ex01_graph_mode import ...` works in tests and runner alike.

`StudentCode` stands for one exercise module of one target. Its functions
raise `StudentError` whose message says what went wrong, where (the
student's own lines, not TensorFlow's internals) and what to do next: a
stub not written yet, an exception, a call that never returns, a module that
does not import. The pytest plugin shows that message instead of a
traceback; the runner prints it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import signal
import sys
import threading
import traceback
import types
from pathlib import Path

from savedmodel_kata import catalogue, settings
from savedmodel_kata.errors import StudentError, TargetError
from savedmodel_kata.lessons import advice_for, shorten
from savedmodel_kata.results import Failure
from savedmodel_kata.settings import TARGETS


def find_root(start: Path | None = None) -> Path:
    """The repository: the root setting (KATA_ROOT), else the nearest folder at or above
    `start` (default: the working directory) holding both exercises/ and solutions/."""
    configured = settings.current().root
    if configured:
        root = Path(configured).resolve()
        if not all((root / target).is_dir() for target in TARGETS):
            raise TargetError(
                f"KATA_ROOT={configured} has no exercises/ and solutions/ folders; point it at "
                "your clone of the kata, or unset it and run from inside the clone."
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / target).is_dir() for target in TARGETS):
            return folder
    raise TargetError(
        f"no kata repository found at or above {here}: run the command from inside your clone "
        "(the folder with exercises/ and solutions/), or set KATA_ROOT."
    )


def module_path(root: Path, target: str, exercise: catalogue.Exercise) -> Path:
    """Where `target`'s module of `exercise` is: exercises/ or solutions/, or any folder
    inside the repository holding exercise modules (the meta-tests' planted copies)."""
    folder = (root / target).resolve()
    if target not in TARGETS and (
        Path(target).is_absolute() or root.resolve() not in folder.parents
    ):
        raise TargetError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    return root / target / exercise.file_name


def import_exercise(root: Path, target: str, exercise: catalogue.Exercise) -> types.ModuleType:
    """Import `<target>/<module>.py` afresh (so edits since the last import count).

    Raises TargetError naming the file, the line and the error when the module
    cannot be imported: a student's syntax error must read as one, not as a
    harness crash.
    """
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    path = module_path(root, target, exercise)
    if not path.is_file():
        raise TargetError(
            f"{target}/{exercise.file_name} is missing. Restore it from git "
            f"(`git checkout -- {target}/{exercise.file_name}`) to get the stub back."
        )
    import_tensorflow()  # every exercise imports it: do it once, quietly, first
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # as pytest's rootdir: `import exercises.x` works everywhere
    name = "kata_" + re.sub(r"\W", "_", target) + "." + exercise.module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        del sys.modules[name]
        raise TargetError(_syntax_lesson(error, path, f"{target}/{exercise.file_name}")) from error
    except Exception as error:  # the student's module-level code raised
        del sys.modules[name]
        line = _last_line_in(error, path)
        where = f" (line {line})" if line else ""
        raise TargetError(
            f"importing {target}/{exercise.file_name} raised {type(error).__name__}{where}: "
            f"{shorten(str(error), 3)}. Code at the top level of the module runs on import: "
            "keep work inside the functions."
        ) from error
    return module


def _syntax_lesson(error: SyntaxError, path: Path, display_path: str) -> str:
    """The file and line Python could not read, the line itself with a caret under the spot
    (as Python prints it), and what to do."""
    if error.filename and Path(error.filename).resolve() != path.resolve():
        display_path = f"{error.filename} (imported by {display_path})"  # a helper module's
    shown = ""
    if error.text and error.text.strip():
        text = error.text.rstrip("\n")
        indent = len(text) - len(text.lstrip())
        caret = " " * (max(error.offset or 1, indent + 1) - 1 - indent) + "^"
        shown = f"\n    {text.strip()}\n    {caret}"
    return (
        f"{display_path} line {error.lineno}: Python cannot read this file ({error.msg}):"
        f"{shown}\nFix it (the mistake may be just before that spot: an unclosed bracket, a "
        "missing colon) and run again."
    )


def _line_in_file(error: BaseException | None, path: Path) -> int | None:
    """The line of `path` an import failure points at (None when it points elsewhere)."""
    if isinstance(error, SyntaxError):
        same_file = not error.filename or Path(error.filename).resolve() == path.resolve()
        return error.lineno if same_file else None
    return _last_line_in(error, path) if error is not None else None


def _last_line_in(error: BaseException, path: Path) -> int | None:
    line = None
    frame = error.__traceback__
    while frame is not None:
        if Path(frame.tb_frame.f_code.co_filename) == path:
            line = frame.tb_lineno
        frame = frame.tb_next
    return line


class HarnessError(Exception):
    """A test broke the kata's own rules: a bug in the test, never the student's."""


class _Timeout(BaseException):
    # BaseException, so a student's `except Exception:` cannot swallow it.
    pass


class StudentCode:
    """One exercise module (of exercises/ or solutions/); attribute access gives its
    functions, wrapped.

    The module is imported at the first call, so a syntax error fails each
    call with its line instead of breaking the whole run.
    """

    def __init__(
        self,
        root: Path,
        target: str,
        exercise: catalogue.Exercise,
        timeout: float | None = None,
    ):
        self.root, self.target, self.exercise, self.timeout = root, target, exercise, timeout
        self.path = module_path(root, target, exercise)
        self.display_path = f"{target}/{exercise.file_name}"
        self._module = None
        self._timed_out: set[str] = set()
        self._stub_messages: dict[str, str | None] = {}
        # The function the running test grades (set by the plugin): a test of one function
        # takes the other three from the reference, so a mistake costs only its own points.
        self.graded: str | None = None

    def __repr__(self) -> str:
        return f"<{self.display_path}>"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis' printer asks for this one
        printer.text(repr(self))

    @property
    def module(self):
        if self._module is None:
            try:
                self._module = import_exercise(self.root, self.target, self.exercise)
            except TargetError as error:
                not_imported = StudentError(str(error), Failure.DOES_NOT_IMPORT)
                not_imported.line = _line_in_file(error.__cause__, self.path)  # where to look
                raise not_imported from None
        return self._module

    def __getattr__(self, name: str):
        if name not in catalogue.EXERCISE_FUNCTIONS:
            raise AttributeError(name)
        function = getattr(self.module, name, None)
        if not callable(function):
            raise StudentError(
                f"{self.display_path} has no function {name}(): the tests call it by that name. "
                f"Did you rename or delete it? `git diff {self.display_path}` shows what changed.",
                Failure.MISSING_FUNCTION,
            )

        def call(*args, **kwargs):
            __tracebackhide__ = True
            return self._call(name, function, args, kwargs)

        call.__wrapped__ = function
        call.__name__ = name
        return call

    def stub_lesson(self, names: tuple[str, ...]) -> str | None:
        """The lesson the first of `names` gives when it is still its stub (its body, the
        docstring aside, one `raise NotImplementedError("...")`), read from its source and
        never called; None if none is, or one before it is missing (its call says so).

        A function's tests then fail at once, before anything is trained or exported for
        them; a chain of them (the end-to-end test) fails at its first stub.
        """
        for name in names:
            function = getattr(self.module, name, None)
            if not callable(function):
                return None
            if name not in self._stub_messages:
                self._stub_messages[name] = _stub_message(function, self.path)
            if self._stub_messages[name] is not None:
                return self._not_implemented(name, self._stub_messages[name])
        return None

    def _not_implemented(self, name: str, message: str) -> str:
        return f"{self.display_path}: {name}() is not implemented yet.\n  {message}"

    def _call(self, name, function, args, kwargs):
        __tracebackhide__ = True
        if self.graded not in (None, catalogue.END_TO_END, name):
            raise HarnessError(
                f"a test of {self.graded}() called the student's {name}(): a test grades one "
                "function and takes the other three from the reference"
            )
        label = f"{self.display_path}: {name}()"
        if name in self._timed_out:
            # Waiting the whole limit again, test after test, teaches nothing new.
            raise StudentError(
                f"{label} did not return within {self.timeout:g} s in an earlier test; "
                "not called again.",
                Failure.TIMED_OUT,
            )
        # The lesson is built inside `except` and raised after it, so it is
        # shown alone, not as "during handling of the above exception".
        try:
            with _TimeLimit(self.timeout):
                return function(*args, **kwargs)
        except NotImplementedError as error:
            lesson, failure = self._not_implemented(name, str(error)), Failure.NOT_IMPLEMENTED
        except _Timeout:
            self._timed_out.add(name)
            lesson, failure = (
                (
                    f"{label} did not return within {self.timeout:g} s. Look for a loop that never "
                    "ends, or training or data loading that does not belong in this function. "
                    "(Raise the limit with KATA_CALL_TIMEOUT=seconds.)"
                ),
                Failure.TIMED_OUT,
            )
        except StudentError:
            raise
        except Exception as error:
            lesson, failure = (
                (
                    f"{label} raised {type(error).__name__}: {shorten(str(error))}\n"
                    f"{self._student_frames(error)}{advice_for(str(error))}"
                ),
                Failure.RAISED,
            )
        raise StudentError(lesson, failure)

    def _student_frames(self, error: BaseException) -> str:
        mine = self.path.resolve()
        frames = [
            f
            for f in traceback.extract_tb(error.__traceback__)
            if Path(f.filename).resolve() == mine
        ]
        if not frames:
            return "  (raised inside a library your code called: check the arguments you passed it)"
        lines = [f"  {self.display_path}, line {f.lineno}, in {f.name}: {f.line}" for f in frames]
        return "Your code, innermost call last:\n" + "\n".join(lines)


def stub_messages(path: Path) -> dict[str, tuple[int, str | None]]:
    """Each function defined at the top of the module at `path`, read from its source alone:
    the line it starts on, and the message it raises if it is still its stub (its body, the
    docstring aside, one `raise NotImplementedError` with a literal message or none), else
    None. A name defined twice counts as the import leaves it: its last definition."""
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return {}  # the import says what is wrong
    return {
        node.name: (
            node.lineno,
            None if node.decorator_list else _raised_not_implemented(node.body),
        )
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def only_stubs(path: Path) -> bool:
    """Whether every exercise function of the module at `path` is still its stub."""
    found = stub_messages(path)
    return all(found.get(name, (0, None))[1] is not None for name in catalogue.EXERCISE_FUNCTIONS)


def _stub_message(function, path: Path) -> str | None:
    """The message `function` raises if it is the stub the source of `path` defines."""
    code = getattr(function, "__code__", None)
    if code is None or Path(code.co_filename).resolve() != path.resolve():
        return None
    line, message = stub_messages(path).get(code.co_name, (None, None))
    return message if line == code.co_firstlineno else None


def _raised_not_implemented(body: list[ast.stmt]) -> str | None:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].cause is not None:
        return None
    raised = body[0].exc
    if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
        return ""
    if not (
        isinstance(raised, ast.Call)
        and isinstance(raised.func, ast.Name)
        and raised.func.id == "NotImplementedError"
        and not raised.keywords
    ):
        return None
    if not raised.args:
        return ""
    (message,) = raised.args if len(raised.args) == 1 else (None,)
    if isinstance(message, ast.Constant) and isinstance(message.value, str):
        return message.value
    return None


class _TimeLimit:
    """A SIGALRM limit on one call: main thread on POSIX only; elsewhere, or with None, no limit.

    A call stuck inside TensorFlow's C++ code is interrupted only when it
    returns to Python; isolating whole runs is the grader's job.
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.active = (
            bool(seconds)
            and hasattr(signal, "SIGALRM")
            and threading.current_thread() is threading.main_thread()
        )

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
