"""Import TensorFlow once, quietly and deterministically.

TensorFlow prints C++ start-up lines (oneDNN, CUDA) on stderr before its own
log level is read, and deprecation warnings for every tf.compat.v1 call the
kata teaches. Students should see their own mistakes, not that noise; the
verbose setting (`kata --verbose`, KATA_VERBOSE=1) shows everything. Op
determinism makes training reproducible bit for bit, so caches and grades
never depend on thread timing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile

from savedmodel_kata import settings


@contextlib.contextmanager
def _stderr_captured():
    """Send file descriptor 2 to a temporary file; replay it if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """Return the tensorflow module, configured for the kata (cheap after the first call)."""
    already_imported = "tensorflow" in sys.modules
    if already_imported:
        tf = sys.modules["tensorflow"]
    elif settings.current().verbose:
        import tensorflow as tf
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _stderr_captured():
            import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
        from tensorflow.python.util import deprecation

        deprecation._PRINT_DEPRECATION_WARNINGS = False
    if not already_imported:
        # TensorFlow's ~300,000 objects live as long as the process: leave them out of every
        # garbage collection (a full one took 0.17 s, and pytest runs five at a session's end).
        gc.freeze()
    tf.config.experimental.enable_op_determinism()
    return tf
