"""Benchmark: the kata's speed and memory, as ratios measured in one run.

    python benchmarks/bench.py                  # every section but training and tox
    python benchmarks/bench.py --quick          # skip the pytest rows and the profile
    python benchmarks/bench.py --all            # also tox on a fresh clone, 60,000 digits
    python benchmarks/bench.py --only watch     # the sections named (see --help)

Each section's table is printed as it is measured, then written into
benchmarks/results.md (`--results FILE` elsewhere) with the date and the machine:
a section measured replaces its older self, the others are kept. How the numbers
are taken, and how to read them, is RESULTS_PREAMBLE below (the file's opening).
Nothing here asserts: the numbers are for noticing a regression, never a test.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import importlib.metadata
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PREDICTION_IMAGES = 2000
REPEATS = 3
IMPORT = [sys.executable, "-c", "import tensorflow"]


RESULTS_FILE = ROOT / "benchmarks" / "results.md"
# The README's test command, what .ci/run runs (tests/harness/test_documents.py keeps them equal).
TEST_COMMAND = ("tox", "run-parallel", "-e", "solutions,gate")

RESULTS_PREAMBLE = """\
# Benchmark results

Written by `python benchmarks/bench.py` (see its `--help`); each section is
the latest run of its part, with the date, the machine and the command. Edit
the benchmark, not this file.

This machine's speed drifts (other work, thermal limits), so every
whole-process time is paired with a bare `python -c "import tensorflow"` run
just before it and given as the ratio of the two: the ratio holds while the
machine's speed moves. Memory is each process's peak resident set (wait4's
`ru_maxrss`). Compare rows of one run, not across runs: a run that keeps both
cores busy (pytest and the fresh process) suffers more from a busy machine
than the single-threaded import it is paired with.
"""


@dataclass
class Table:
    """One section of the results: a heading, a Markdown table, filled (and printed) row by row."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def start(self) -> None:
        print(f"\n## {self.name}: {self.title}\n", flush=True)
        print(self._line(self.columns), self._line(("---",) * len(self.columns)), sep="\n")

    def add(self, *cells: str) -> None:
        assert len(cells) == len(self.columns), (self.name, cells)
        self.rows.append(cells)
        print(self._line(cells), flush=True)

    def markdown(self, stamp: str) -> str:
        lines = [f"## {self.name}: {self.title}", "", stamp, "", self._line(self.columns)]
        lines.append(self._line(("---",) * len(self.columns)))
        lines += [self._line(r) for r in self.rows]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _line(cells) -> str:
        return "| " + " | ".join(cells) + " |"


def machine() -> str:
    """The machine and the versions a run measured, for the results file."""
    processor = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        processor = found.group(1).strip() if found else processor
    versions = []
    for package in ("tensorflow", "keras"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    return (
        f"{platform.system()}, {processor}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {', '.join(versions)}"
    )


def stamp(command: str, when: datetime.datetime | None = None) -> str:
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return f"Measured {when:%Y-%m-%d %H:%M} UTC on {machine()}: `{command}`."


def write_results(path: Path, tables: list[Table], stamp_text: str, order: list[str]) -> None:
    """Write `tables` into the results file at `path`, keeping its other sections as they were.

    Sections are `## name: title` headings; they come out in `order` (names not in it last)."""
    kept: dict[str, str] = {}
    if path.exists():
        for chunk in re.split(r"^(?=## )", path.read_text(), flags=re.M)[1:]:
            kept[chunk.split(":", 1)[0].removeprefix("## ").strip()] = chunk.rstrip() + "\n"
    for table in tables:
        kept[table.name] = table.markdown(stamp_text)
    ranked = sorted(kept, key=lambda n: order.index(n) if n in order else len(order))
    path.write_text(RESULTS_PREAMBLE + "".join("\n" + kept[name] for name in ranked))


def measure(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> tuple[float, float]:
    """(seconds, peak resident MiB) of one whole process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def paired(
    command: list[str], env: dict | None = None, repeats: int = REPEATS
) -> tuple[float, float, float]:
    """(median ratio to a bare TensorFlow import, median seconds, peak MiB), each run paired."""
    ratios, seconds, peaks = [], [], []
    for _ in range(repeats):
        baseline, _ = measure(IMPORT)
        elapsed, peak = measure(command, env)
        ratios.append(elapsed / baseline)
        seconds.append(elapsed)
        peaks.append(peak)
    return statistics.median(ratios), statistics.median(seconds), max(peaks)


def pytest_command(*paths: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider"]


def bench_import(table: Table) -> None:
    seconds, peaks = zip(*(measure(IMPORT) for _ in range(REPEATS)), strict=True)
    table.add(
        "`import tensorflow` (fresh process, median)",
        f"{statistics.median(seconds):.2f} s, {max(peaks):.0f} MiB",
    )


def bench_pytest(table: Table) -> None:
    from savedmodel_kata import catalogue

    env = dict(os.environ)
    subprocess.run(
        pytest_command("solutions/"), cwd=ROOT, env=env, capture_output=True
    )  # warm the cache
    for exercise in catalogue.exercises():
        ratio, seconds, peak = paired(pytest_command(f"solutions/{exercise.file_name}"), env)
        table.add(
            f"`pytest solutions/{exercise.file_name}`, warm",
            f"{ratio:.2f} × import ({seconds:.1f} s, {peak:.0f} MiB)",
        )
    ratio, seconds, peak = paired(pytest_command("solutions/"), env)
    table.add(
        "`pytest solutions/`, warm", f"{ratio:.2f} × import ({seconds:.1f} s, {peak:.0f} MiB)"
    )
    ratio, seconds, peak = paired(pytest_command("exercises/"), env, repeats=1)
    table.add("`pytest exercises/` (the stubs), warm", f"{ratio:.2f} × import ({seconds:.1f} s)")
    with tempfile.TemporaryDirectory() as cold_cache:
        ratio, seconds, _ = paired(
            pytest_command("solutions/"), dict(env, KATA_CACHE_DIR=cold_cache), repeats=1
        )
    table.add(
        "`pytest solutions/`, cold cache (trains every model)",
        f"{ratio:.2f} × import ({seconds:.1f} s)",
    )


def bench_grading(table: Table) -> None:
    """One exercise's grading worker: time and peak memory (what a grading container must hold)."""
    from savedmodel_kata import catalogue
    from savedmodel_kata.grading import workspace

    for exercise in catalogue.exercises():
        with tempfile.TemporaryDirectory(prefix="kata-bench-grade-") as folder:
            root = Path(folder)
            workspace.build(ROOT, root, pristine=ROOT)
            shutil.copy(
                ROOT / "solutions" / exercise.file_name, root / "exercises" / exercise.file_name
            )
            # The worker reads its task from stdin and writes its events to fd 1 (here);
            # `exec` keeps it the process measured.
            task = f'{{"exercise": {exercise.number}, "targets": ["exercises"]}}'
            script = f'exec "$0" -m savedmodel_kata.grading.worker "$1" 1 <<EOF\n{task}\nEOF'
            command = ["sh", "-c", script, sys.executable, str(root)]
            env = dict(os.environ, PYTHONPATH=str(root), KATA_ROOT=str(root))
            ratio, seconds, peak = paired(command, env, repeats=1)
        table.add(
            f"grading worker, {exercise.id} solved",
            f"{ratio:.2f} × import ({seconds:.1f} s), peak {peak:.0f} MiB",
        )


def bench_watch(table: Table) -> None:
    """`kata watch`: from a save to the first lesson on screen, in the watching process.

    The student works on evaluate (the exercise's first planted mistake in evaluate): the save
    before failed there, so evaluate's tests run first. Also, the time for all tests to pass.
    """
    from savedmodel_kata import catalogue
    from savedmodel_kata.maintainer import mutation_gate
    from savedmodel_kata.runner.watch import check_once

    workspace = Path(tempfile.mkdtemp(prefix="kata-bench-watch-"))
    try:
        for name in ("solutions", "tests", "conftest.py"):
            (workspace / name).symlink_to(ROOT / name)
        (workspace / "pytest.ini").write_text("[pytest]\n")
        (workspace / "exercises").mkdir()
        for exercise in catalogue.exercises():
            source = (ROOT / "solutions" / exercise.file_name).read_text()
            student = workspace / "exercises" / exercise.file_name
            student.write_text(source)
            check_once(workspace, exercise)  # warm: the reference, caches, first traces
            passing = statistics.median(
                check_once(workspace, exercise).seconds for _ in range(REPEATS)
            )
            mistake = next(
                c
                for c in mutation_gate.cases_of(ROOT, exercise)
                if isinstance(c, mutation_gate.Mistake) and c.function == "evaluate"
            )
            wrong = source.replace(mistake.original, mistake.planted)
            student.write_text(wrong)
            failing = check_once(workspace, exercise).failing
            lessons = [check_once(workspace, exercise, failing).seconds for _ in range(REPEATS)]
            table.add(
                f"`kata watch {exercise.number}`: a save to the first lesson (evaluate) / all pass",
                f"{statistics.median(lessons):.2f} s / {passing:.2f} s",
            )
    finally:
        shutil.rmtree(workspace)


def bench_exercises(table: Table) -> None:
    """Per exercise, through its kind: training speed, export size, save and load, prediction."""
    from savedmodel_kata import catalogue
    from savedmodel_kata.code_under_test import import_exercise
    from savedmodel_kata.mnist import load_mnist_dataset
    from savedmodel_kata.plugin.fixtures import exercise_kind

    data = load_mnist_dataset("bundled")
    images = data.test_images[:PREDICTION_IMAGES]
    for exercise in catalogue.exercises():
        kind = exercise_kind(ROOT, exercise)
        code = import_exercise(ROOT, "solutions", exercise)
        trained = kind.train(code.create_model, data, use_cache=False)
        per_epoch = statistics.median(e.seconds for e in trained.stats.epochs)
        with tempfile.TemporaryDirectory(prefix="kata-bench-") as folder:
            started = time.perf_counter()
            export = kind.export(code.save, trained.model, Path(folder) / "model")
            save_seconds = time.perf_counter() - started
            size = sum(p.stat().st_size for p in export.directory.rglob("*") if p.is_file())
            load_times = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                kind.load(code.load_signature_tensors, export.directory, kind.serving_key).close()
                load_times.append(time.perf_counter() - started)
            loaded = kind.load(code.load_signature_tensors, export.directory, kind.serving_key)
            before = _median_seconds(
                lambda kind=kind, trained=trained: kind.predict(trained.model, images)
            )
            after = _median_seconds(
                lambda kind=kind, loaded=loaded: kind.predict_loaded(loaded, images)
            )
            loaded.close()
        kind.close(trained.model)
        table.add(
            f"{exercise.id} ({exercise.kind})",
            f"{per_epoch:.2f}",
            f"{100 * trained.stats.test.accuracy:.2f} %",
            f"{size / 1024:.0f} KiB",
            f"{save_seconds:.3f} s",
            f"{statistics.median(load_times):.3f} s",
            f"{1000 * before:.1f} / {1000 * after:.1f} ms",
        )


def bench_litert(table: Table) -> None:
    """Exercise 7: the reference's conversion (float and dynamic-range quantized), the
    flatbuffers' sizes, the interpreter's time per digit against the SavedModel's, accuracy."""
    import numpy as np

    from savedmodel_kata import catalogue
    from savedmodel_kata.code_under_test import import_exercise
    from savedmodel_kata.kinds.litert import savedmodel_dir_of, tflite_file_of
    from savedmodel_kata.mnist import load_mnist_dataset
    from savedmodel_kata.plugin.fixtures import exercise_kind
    from savedmodel_kata.tensorflow_setup import import_tensorflow

    tf = import_tensorflow()
    exercise = catalogue.by_id("ex07")
    kind = exercise_kind(ROOT, exercise)
    code = import_exercise(ROOT, "solutions", exercise)
    data = load_mnist_dataset("bundled")
    images, labels = data.test_images[:PREDICTION_IMAGES], data.test_labels[:PREDICTION_IMAGES]
    trained = kind.train(code.create_model, data)
    with tempfile.TemporaryDirectory(prefix="kata-bench-") as folder:
        exports, convert_seconds = {}, {}
        for quantize in (False, True):
            export = kind.export_quantized(
                code.save, trained.model, Path(folder) / f"q{quantize}", quantize=quantize
            )
            savedmodel, tflite = (
                savedmodel_dir_of(export.directory),
                tflite_file_of(export.directory),
            )
            times = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                code.save(str(savedmodel), str(tflite), quantize=quantize)
                times.append(time.perf_counter() - started)
            exports[quantize], convert_seconds[quantize] = export, statistics.median(times)
        savedmodel = savedmodel_dir_of(exports[False].directory)
        savedmodel_bytes = sum(p.stat().st_size for p in savedmodel.rglob("*") if p.is_file())
        sizes = {q: tflite_file_of(e.directory).stat().st_size for q, e in exports.items()}
        serve = tf.saved_model.load(str(savedmodel)).signatures["serving_default"]
        one = images[:1]
        savedmodel_batch = _median_seconds(lambda: serve(input=tf.constant(images)))
        savedmodel_one = _median_seconds(lambda: serve(input=tf.constant(one)))
        rows = {}
        for quantize, export in exports.items():
            loaded = kind.load(code.load_signature_tensors, export.directory, "serving_default")
            batch = _median_seconds(lambda loaded=loaded: kind.predict_loaded(loaded, images))
            single = _median_seconds(lambda loaded=loaded: kind.predict_loaded(loaded, one))
            right = int(np.sum(kind.predict_loaded(loaded, images).argmax(1) == labels))
            rows[quantize] = (batch, single, right)
    kind.close(trained.model)
    savedmodel_right = int(
        np.sum(serve(input=tf.constant(images))["prediction"].numpy().argmax(1) == labels)
    )
    table.add(
        "conversion, float / quantized",
        f"{convert_seconds[False]:.2f} s / {convert_seconds[True]:.2f} s",
    )
    table.add(
        "size: SavedModel folder / float / quantized flatbuffer",
        f"{savedmodel_bytes / 1024:.0f} / {sizes[False] / 1024:.1f} / "
        f"{sizes[True] / 1024:.1f} KiB (quantized {sizes[True] / sizes[False]:.0%})",
    )
    for quantize, label in ((False, "float"), (True, "quantized")):
        batch, single, right = rows[quantize]
        table.add(
            f"{label}: µs per digit, batch of {PREDICTION_IMAGES:,} / one digit",
            f"{1e6 * batch / len(images):.1f} / {1e6 * single:.0f} µs "
            f"(SavedModel {1e6 * savedmodel_batch / len(images):.1f} / "
            f"{1e6 * savedmodel_one:.0f} µs; LiteRT {savedmodel_batch / batch:.1f}x / "
            f"{savedmodel_one / single:.1f}x as fast)",
        )
    table.add(
        "right of the test digits: SavedModel / float / quantized",
        f"{savedmodel_right} / {rows[False][2]} / {rows[True][2]} of {len(images):,}",
    )


def _median_seconds(function) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def write_idx_folder(folder: Path, train_size: int = 60000) -> None:
    """The bundled digits tiled to MNIST's full size, as gzipped IDX files."""
    import numpy as np

    with np.load(ROOT / "savedmodel_kata" / "data" / "mnist-digits-10k.npz") as archive:
        images, labels = archive["images"], archive["labels"]
    reps = -(-train_size // len(images))
    parts = {
        "train-images-idx3-ubyte": np.tile(images, (reps, 1, 1))[:train_size],
        "train-labels-idx1-ubyte": np.tile(labels, reps)[:train_size],
        "t10k-images-idx3-ubyte": images,
        "t10k-labels-idx1-ubyte": labels,
    }
    for name, array in parts.items():
        header = struct.pack(">i", 2051 if array.ndim == 3 else 2049)
        header += b"".join(struct.pack(">i", d) for d in array.shape)
        (folder / f"{name}.gz").write_bytes(
            gzip.compress(header + array.astype(np.uint8).tobytes(), 1)
        )


def bench_full_training(table: Table) -> None:
    """`kata train` on a 60,000-digit IDX folder: peak memory and seconds per epoch."""
    with tempfile.TemporaryDirectory(prefix="kata-bench-idx-") as folder:
        idx = Path(folder) / "idx"
        idx.mkdir()
        write_idx_folder(idx)
        command = [
            sys.executable, "-m", "savedmodel_kata", "train", "--target", "solutions",
            "--idx-dir", str(idx), "--epochs", "1", "--export-dir", str(Path(folder) / "out"),
        ]  # fmt: skip
        _ratio, seconds, peak = paired(command, repeats=1)
    table.add("`kata train` on 60,000 IDX digits, 1 epoch", f"{seconds:.1f} s, peak {peak:.0f} MiB")


def bench_tox(table: Table) -> None:
    """The README's test command on a fresh clone (what .ci/run runs): the whole, then each tox
    environment's setup and commands as tox reports them (the environments run side by side)."""
    from savedmodel_kata import catalogue
    from savedmodel_kata.maintainer import mutation_gate

    with tempfile.TemporaryDirectory(prefix="kata-bench-tox-") as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        started = time.perf_counter()
        finished = subprocess.run(TEST_COMMAND, cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    verdict = "passed" if finished.returncode == 0 else "FAILED"
    table.add(f"`{' '.join(TEST_COMMAND)}` on a fresh clone", f"{seconds:.0f} s, {verdict}")
    cases = sum(len(mutation_gate.cases_of(ROOT, e)) for e in catalogue.exercises())
    for env, (outcome, total, setup, commands) in tox_env_times(finished.stdout).items():
        detail = (
            f", {cases} planted cases: {commands / cases:.2f} s a case" if env == "gate" else ""
        )
        table.add(
            f"its `{env}` environment",
            f"{total:.0f} s ({setup:.0f} s setup, {commands:.0f} s commands{detail}), {outcome}",
        )


def tox_env_times(report: str) -> dict[str, tuple[str, float, float, float]]:
    """From tox's closing report: per environment, (outcome, seconds, setup, commands)."""
    times = {}
    for env, outcome, total, setup, commands in re.findall(
        r"^\s+(\S+): (OK|FAIL)[^(\n]*\(([\d.]+)=setup\[([\d.]+)\]\+cmd\[([\d.,]+)\]",
        report,
        re.M,
    ):
        spent = sum(float(c) for c in commands.split(","))
        times[env] = (outcome, float(total), float(setup), spent)
    return times


def bench_profile(table: Table) -> None:
    """Where one exercise's `pytest solutions/exNN` spends its time: the process start and
    TensorFlow's import, collection, fixtures' setup (training replay from the cache, exports,
    the fresh process), the tests themselves by function, and the rest."""
    from savedmodel_kata import catalogue

    for exercise in catalogue.exercises():
        command = pytest_command(f"solutions/{exercise.file_name}")
        subprocess.run(command, cwd=ROOT, capture_output=True)  # the cache warm
        baseline, _ = measure(IMPORT)
        started = time.perf_counter()
        finished = subprocess.run(
            [*command, "--durations=0", "--durations-min=0"],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        whole = time.perf_counter() - started
        phases: dict[str, float] = {"setup": 0.0, "call": 0.0, "teardown": 0.0}
        functions: dict[str, float] = {}
        for seconds, phase, test in re.findall(
            r"^([\d.]+)s (setup|call|teardown)\s+\S+::(\S+)", finished.stdout, re.M
        ):
            phases[phase] += float(seconds)
            if phase == "call":
                name = test.removeprefix("test_")
                function = next(
                    (
                        f
                        for f in (*catalogue.EXERCISE_FUNCTIONS, "end_to_end")
                        if name.startswith(f)
                    ),
                    "other",
                )
                functions[function] = functions.get(function, 0.0) + float(seconds)
        by_function = ", ".join(f"{f} {s:.1f}" for f, s in functions.items())
        table.add(
            exercise.id,
            f"{whole:.1f} s",
            f"{baseline:.1f} s",
            f"{phases['setup']:.1f} s",
            f"{by_function} (s)",
        )


# Each section: its name (for --only), title, columns, the function that fills it, and
# whether a plain run includes it ("all": only with --all; "slow": skipped by --quick).
SECTIONS: list[tuple[str, str, tuple[str, ...], Callable[[Table], None], str]] = [
    ("import", "TensorFlow's import, the unit of every ratio", ("measurement", "value"),
     bench_import, "plain"),
    ("pytest", "the test runs, warm and cold", ("measurement", "value"),
     bench_pytest, "slow"),
    ("grading", "one exercise's grading worker", ("measurement", "value"),
     bench_grading, "plain"),
    ("watch", "`kata watch`, from a save to the lesson", ("measurement", "value"),
     bench_watch, "plain"),
    ("training", "MNIST's full size", ("measurement", "value"),
     bench_full_training, "all"),
    ("tox", "the README's test command on a fresh clone", ("measurement", "value"),
     bench_tox, "all"),
    ("exercises",
     f"per exercise (solutions, 8,000 training digits, batch 32, {PREDICTION_IMAGES:,} predicted)",
     ("exercise", "s / epoch", "test acc.", "export", "save", "load",
      "predict before / after reload"),
     bench_exercises, "plain"),
    ("litert", "exercise 7: LiteRT conversion, flatbuffer sizes, interpreter against SavedModel",
     ("measurement", "value"), bench_litert, "plain"),
    ("profile",
     "where one exercise's `pytest solutions/exNN_*.py` spends its time (pytest's durations; "
     "the whole run is the process: the rest of it is Python's start, the plugin and collection)",
     ("exercise", "whole run", "import tensorflow", "fixtures (setup)", "tests by function"),
     bench_profile, "slow"),
]  # fmt: skip
SECTION_NAMES = [s[0] for s in SECTIONS]


def chosen_sections(only: list[str], quick: bool, everything: bool) -> list[str]:
    if only:
        return [name for name in SECTION_NAMES if name in only]
    included = {"plain", *([] if quick else ["slow"]), *(["all"] if everything else [])}
    return [name for name, *_, when in SECTIONS if when in included]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the pytest rows and profile")
    parser.add_argument(
        "--all", action="store_true", help="also tox on a fresh clone and 60,000 digits"
    )
    parser.add_argument(
        "--only", nargs="+", choices=SECTION_NAMES, default=[], metavar="SECTION",
        help=f"run only these sections: {', '.join(SECTION_NAMES)}",
    )  # fmt: skip
    parser.add_argument(
        "--results", type=Path, default=RESULTS_FILE, help="the results file to update"
    )
    args = parser.parse_args(argv)
    command = " ".join(
        ["python benchmarks/bench.py", *(argv if argv is not None else sys.argv[1:])]
    )
    stamp_text = stamp(command)
    print(stamp_text)
    tables = []
    for name, title, columns, fill, _ in SECTIONS:
        if name in chosen_sections(args.only, args.quick, args.all):
            table = Table(name, title, columns)
            table.start()
            fill(table)
            tables.append(table)
    write_results(args.results, tables, stamp_text, SECTION_NAMES)
    print(f"\nwritten: {args.results}")


if __name__ == "__main__":
    main()
