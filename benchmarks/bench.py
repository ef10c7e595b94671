"""Benchmark: how long the kata's pieces take on this machine, and how much memory.

    python benchmarks/bench.py            # everything (about two minutes)
    python benchmarks/bench.py --quick    # skip the pytest timings

Prints one line a measurement. Timings are medians of several runs where a
single run is short. Nothing here asserts a time: the numbers are for the
README and for noticing a regression, never a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PREDICTION_IMAGES = 2000
REPEATS = 5


def median_seconds(function, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(name: str, value: float, unit: str) -> None:
    print(f"{name:<52} {value:>10.3f} {unit}", flush=True)


def run_seconds(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=False, capture_output=True)
    return time.perf_counter() - started


def bench_import() -> None:
    command = [sys.executable, "-c", "import tensorflow"]
    report("import tensorflow (fresh process, median of 3)", statistics.median(run_seconds(command) for _ in range(3)), "s")


def bench_pytest() -> None:
    from savedmodel_kata import catalogue

    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cold_cache:
        cold = run_seconds([sys.executable, "-m", "pytest", "solutions/", "-q", "-p", "no:cacheprovider"], dict(env, KATA_CACHE_DIR=cold_cache))
    report("pytest solutions/ (cold cache: trains)", cold, "s")
    report("pytest solutions/ (warm cache)", run_seconds([sys.executable, "-m", "pytest", "solutions/", "-q", "-p", "no:cacheprovider"], env), "s")
    for exercise in catalogue.exercises():
        seconds = run_seconds([sys.executable, "-m", "pytest", f"solutions/{exercise.file_name}", "-q", "-p", "no:cacheprovider"], env)
        report(f"pytest solutions/{exercise.file_name} (warm)", seconds, "s")
    report("pytest exercises/ (the untouched stubs, warm)", run_seconds([sys.executable, "-m", "pytest", "exercises/", "-q", "-p", "no:cacheprovider"], env), "s")


def bench_exercises() -> None:
    """Per exercise: training speed, export size, save and load times, prediction before and after reload."""
    from savedmodel_kata import catalogue, jobs, training, training_eager
    from savedmodel_kata.data import load_mnist_dataset
    from savedmodel_kata.feedback import StudentCode
    from savedmodel_kata.testing import export_with

    data = load_mnist_dataset("bundled")
    images = data[2][:PREDICTION_IMAGES]
    for exercise in catalogue.exercises():
        code = StudentCode(ROOT, "solutions", exercise)
        label = f"{exercise.id} ({exercise.kind})"
        if exercise.kind in ("graph", "bridge"):
            model = training.train(code.create_model, data, use_cache=False)
            stats, predict_before, close = model.stats, model.predict, model.close

            def save(export_dir, model=model):
                export_with(code.save, model, export_dir)

        else:
            model = training_eager.make_model(code.create_model)
            stats = training_eager.train(model, data, use_cache=False)
            predict_before, close = (lambda batch, model=model: training_eager.probabilities(model, batch)), (lambda: None)

            def save(export_dir, model=model):
                if exercise.kind == "keras":
                    code.save(model, str(export_dir), str(jobs.keras_file_for(export_dir)))
                else:
                    code.save(model, str(export_dir))

        report(f"{label} training, seconds per epoch (median of 5)", statistics.median(r["seconds"] for r in stats["epochs"]), "s")
        report(f"{label} test accuracy after 5 epochs", 100 * stats["test_accuracy"], "%")
        workspace = Path(tempfile.mkdtemp(prefix="kata-bench-"))
        try:
            export_dir = workspace / "model"
            started = time.perf_counter()
            save(export_dir)
            save_seconds = time.perf_counter() - started
            size = sum(p.stat().st_size for p in export_dir.rglob("*") if p.is_file())
            reload = jobs.WORKFLOWS[exercise.kind][1]
            load_seconds = median_seconds(lambda: reload(code, export_dir).close(), repeats=3)
            reloaded = reload(code, export_dir)
            before = median_seconds(lambda: predict_before(images))
            after = median_seconds(lambda: reloaded.predict(images))
            reloaded.close()
        finally:
            shutil.rmtree(workspace)
            close()
        report(f"{label} export size", size / 1024, "KiB")
        report(f"{label} save", save_seconds, "s")
        report(f"{label} load (student-style reload, median of 3)", load_seconds, "s")
        report(f"{label} predict {PREDICTION_IMAGES} before save (median)", before * 1000, "ms")
        report(f"{label} predict {PREDICTION_IMAGES} after reload (median)", after * 1000, "ms")
    report("peak memory of this process (RSS)", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB")


def bench_watch() -> None:
    """`kata watch`'s feedback: one exercise's tests rerun in this process after a save."""
    from savedmodel_kata import catalogue
    from savedmodel_kata.student_commands import check_once

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
            check_once(workspace, exercise)  # warm: caches and first traces
            report(f"watch {exercise.id}: rerun after a save, all tests pass (median)",
                   statistics.median(check_once(workspace, exercise)[2] for _ in range(3)), "s")
            if exercise.number == 1:
                student.write_text(source.replace("    return float(value)", "    return 100 * float(value)"))
                report("watch ex01: rerun after a save, evaluate wrong (median)",
                       statistics.median(check_once(workspace, exercise)[2] for _ in range(3)), "s")
    finally:
        shutil.rmtree(workspace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the pytest runs")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_import()
    if not args.quick:
        bench_pytest()
    bench_exercises()
    bench_watch()


if __name__ == "__main__":
    main()
