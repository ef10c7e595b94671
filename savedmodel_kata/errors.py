"""The one error type whose message is shown to users as it is.

Anything the kata raises on purpose to tell a student, an instructor or a
maintainer what is wrong and what to do is a `KataError`: the runner prints
its message and exits 1. Every other exception is a bug (in the kata or in
TensorFlow) and keeps its full traceback.
"""

from __future__ import annotations


class KataError(Exception):
    """A problem the user can fix; str() says what is wrong and what to do."""


class CatalogueError(KataError):
    """catalogue.toml is malformed, or names an exercise that does not exist."""


class DataError(KataError):
    """A data file is missing or damaged; the message names the file and what was expected."""


class TargetError(KataError):
    """The code under test cannot be found or imported."""


class StudentError(KataError):
    """Student code failed; str() is the lesson. `failure` says how (see results.Failure)."""

    def __init__(self, message: str, failure: str) -> None:
        super().__init__(message)
        self.failure = failure


class ModelError(KataError):
    """create_model returned something the harness cannot train or compare."""


class JobError(KataError):
    """`kata train` or `kata load` cannot run as asked."""


class GradingError(KataError):
    """Grading cannot start: no pristine harness, a changed manifest, ..."""
