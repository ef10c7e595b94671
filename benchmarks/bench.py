"""Benchmark: the kata's speed and memory, as ratios measured in one run.

    python benchmarks/bench.py            # the feedback rows and the per-exercise table
    python benchmarks/bench.py --quick    # skip the pytest rows
    python benchmarks/bench.py --all      # also tox on a fresh clone, and training on 60,000 digits

This machine's speed drifts (other work, thermal limits), so every whole-process
time is paired with a bare `python -c "import tensorflow"` measured just before
it, and reported as the ratio of the two: the ratio holds while the machine's
speed moves. Memory is each process's peak resident set (wait4's ru_maxrss).
Nothing here asserts: the numbers are for the README and for noticing a
regression, never a test.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PREDICTION_IMAGES = 2000
REPEATS = 3
IMPORT = [sys.executable, "-c", "import tensorflow"]


def row(name: str, value: str) -> None:
    print(f"| {name} | {value} |", flush=True)


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


def bench_import() -> None:
    seconds, peaks = zip(*(measure(IMPORT) for _ in range(REPEATS)), strict=True)
    row(
        "`import tensorflow` (fresh process, median)",
        f"{statistics.median(seconds):.2f} s, {max(peaks):.0f} MiB",
    )


def bench_pytest() -> None:
    from savedmodel_kata import catalogue

    env = dict(os.environ)
    subprocess.run(
        pytest_command("solutions/"), cwd=ROOT, env=env, capture_output=True
    )  # warm the cache
    for exercise in catalogue.exercises():
        ratio, seconds, peak = paired(pytest_command(f"solutions/{exercise.file_name}"), env)
        row(
            f"`pytest solutions/{exercise.file_name}`, warm",
            f"{ratio:.2f} × import ({seconds:.1f} s, {peak:.0f} MiB)",
        )
    ratio, seconds, peak = paired(pytest_command("solutions/"), env)
    row("`pytest solutions/`, warm", f"{ratio:.2f} × import ({seconds:.1f} s, {peak:.0f} MiB)")
    ratio, seconds, peak = paired(pytest_command("exercises/"), env, repeats=1)
    row("`pytest exercises/` (the stubs), warm", f"{ratio:.2f} × import ({seconds:.1f} s)")
    with tempfile.TemporaryDirectory() as cold_cache:
        ratio, seconds, _ = paired(
            pytest_command("solutions/"), dict(env, KATA_CACHE_DIR=cold_cache), repeats=1
        )
    row(
        "`pytest solutions/`, cold cache (trains every model)",
        f"{ratio:.2f} × import ({seconds:.1f} s)",
    )


def bench_grading() -> None:
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
            command = [
                sys.executable, "-m", "savedmodel_kata.grading.worker",
                str(root), str(exercise.number), str(root / "journal.jsonl"), str(root / "tmp"),
            ]  # fmt: skip
            env = dict(os.environ, PYTHONPATH=str(root), KATA_ROOT=str(root))
            ratio, seconds, peak = paired(command, env, repeats=1)
        row(
            f"grading worker, {exercise.id} solved",
            f"{ratio:.2f} × import ({seconds:.1f} s), peak {peak:.0f} MiB",
        )


def bench_watch() -> None:
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
            row(
                f"`kata watch {exercise.number}`: a save to the first lesson (evaluate) / all pass",
                f"{statistics.median(lessons):.2f} s / {passing:.2f} s",
            )
    finally:
        shutil.rmtree(workspace)


def bench_exercises() -> None:
    """Per exercise, through its kind: training speed, export size, save and load, prediction."""
    from savedmodel_kata import catalogue, kinds
    from savedmodel_kata.code_under_test import import_exercise
    from savedmodel_kata.mnist import load_mnist_dataset

    data = load_mnist_dataset("bundled")
    images = data.test_images[:PREDICTION_IMAGES]
    print(
        "\n| exercise | s / epoch | test acc. | export | save | load "
        "| predict before / after reload |"
    )
    print("|---|---|---|---|---|---|---|")
    for exercise in catalogue.exercises():
        kind = kinds.for_exercise(exercise)
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
        print(
            f"| {exercise.id} ({exercise.kind}) | {per_epoch:.2f} "
            f"| {100 * trained.stats.test.accuracy:.2f} % "
            f"| {size / 1024:.0f} KiB | {save_seconds:.3f} s "
            f"| {statistics.median(load_times):.3f} s "
            f"| {1000 * before:.1f} / {1000 * after:.1f} ms |",
            flush=True,
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


def bench_full_training() -> None:
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
    row("`kata train` on 60,000 IDX digits, 1 epoch", f"{seconds:.1f} s, peak {peak:.0f} MiB")


def bench_tox() -> None:
    """`tox -e solutions` on a fresh clone (what .ci/run runs): setup, the tests but the
    mutation gate, then the gate on its own."""
    import re

    with tempfile.TemporaryDirectory(prefix="kata-bench-tox-") as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        gate = "tests/harness/test_mutation_gate.py"
        finished = subprocess.run(
            ["tox", "-e", "solutions", "--", "--deselect", gate],
            cwd=clone, capture_output=True, text=True,
        )  # fmt: skip
        times = re.search(r"\(([\d.]+)=setup\[([\d.]+)\]", finished.stdout)
        total, setup = (float(t) for t in times.groups()) if times else (float("nan"),) * 2
        verdict = "passed" if finished.returncode == 0 else "FAILED"
        row(
            "`tox -e solutions` on a fresh clone, the mutation gate apart",
            f"{total:.0f} s ({setup:.0f} s setup, {total - setup:.0f} s tests), {verdict}",
        )
        started = time.perf_counter()
        finished = subprocess.run(
            [str(clone / ".tox" / "solutions" / "bin" / "pytest"), gate, "-q"],
            cwd=clone, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    from savedmodel_kata import catalogue
    from savedmodel_kata.maintainer import mutation_gate

    cases = sum(len(mutation_gate.cases_of(ROOT, e)) for e in catalogue.exercises())
    row(
        "the mutation gate (in that clone)",
        f"{seconds:.0f} s for {cases} planted cases: {seconds / cases:.2f} s a case"
        + ("" if finished.returncode == 0 else ", FAILED"),
    )


def bench_profile() -> None:
    """Where one exercise's `pytest solutions/exNN` spends its time: the process start and
    TensorFlow's import, collection, fixtures' setup (training replay from the cache, exports,
    the fresh process), the tests themselves by function, and the rest."""
    import re

    from savedmodel_kata import catalogue

    print("\n| exercise | whole run | import tensorflow | fixtures (setup) | tests by function |")
    print("|---|---|---|---|---|")
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
        print(
            f"| {exercise.id} | {whole:.1f} s | {baseline:.1f} s | {phases['setup']:.1f} s "
            f"| {by_function} (s) |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the pytest rows")
    parser.add_argument(
        "--all", action="store_true", help="also tox on a fresh clone and 60,000 digits"
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    print("| measurement | value |\n|---|---|")
    bench_import()
    if not args.quick:
        bench_pytest()
    bench_grading()
    bench_watch()
    if args.all:
        bench_full_training()
        bench_tox()
    bench_exercises()
    if not args.quick:
        bench_profile()


if __name__ == "__main__":
    main()
