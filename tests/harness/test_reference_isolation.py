"""Code under test never changes what a later run in the same process is given.

`kata watch`, `kata status` and a class's grading run pytest many times in one process and
keep the reference trained and exported between runs. Student code is given paths to the
reference's export: it gets a copy, so that a loader that deletes what it loads fails its own
run only, not the next one (the same code fixed, or the next student).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EX2_FILE = "ex02_tf_function.py"
LOAD = "    loaded = tf.saved_model.load(export_dir)\n"
DELETES_WHAT_IT_LOADS = LOAD + '    __import__("shutil").rmtree(f"{export_dir}/variables")\n'

TWO_RUNS = """
import shutil, sys, pytest
exercise, destructive, fixed = sys.argv[1:4]
for version in (destructive, fixed):
    shutil.copy(version, exercise)
    code = pytest.main(["-q", "-p", "no:cacheprovider", "exercises/" + sys.argv[4],
                        "-k", "load_signature_tensors_describes"])
    print("exit", int(code), flush=True)
"""


def test_a_loader_that_deletes_the_reference_export_fails_only_its_own_run(kata_copy):
    source = (ROOT / "solutions" / EX2_FILE).read_text()
    assert source.count(LOAD) == 1
    (kata_copy / "destructive.py").write_text(source.replace(LOAD, DELETES_WHAT_IT_LOADS))
    (kata_copy / "fixed.py").write_text(source)
    exercise = kata_copy / "exercises" / EX2_FILE
    finished = subprocess.run(
        [sys.executable, "-c", TWO_RUNS, str(exercise), "destructive.py", "fixed.py", EX2_FILE],
        cwd=kata_copy,
        capture_output=True,
        text=True,
        timeout=600,
    )
    exits = [line for line in finished.stdout.splitlines() if line.startswith("exit ")]
    assert exits == ["exit 1", "exit 0"], finished.stdout[-3000:] + finished.stderr[-2000:]
