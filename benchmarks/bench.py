"""Benchmark: how long the kata's pieces take on this machine, and how much memory.

    python benchmarks/bench.py            # everything (about a minute and a half)
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


def bench_exercise_1() -> None:
    from savedmodel_kata import catalogue, training
    from savedmodel_kata.data import load_mnist_dataset
    from savedmodel_kata.targets import import_exercise
    from savedmodel_kata.tf_setup import import_tensorflow

    tf = import_tensorflow()
    solution = import_exercise(ROOT, "solutions", catalogue.by_number(1))
    data = load_mnist_dataset("bundled")
    model = training.train(solution.create_model, data, use_cache=False)
    epochs = [record["seconds"] for record in model.stats["epochs"]]
    report("ex01 training, seconds per epoch (median of 5)", statistics.median(epochs), "s")
    report("ex01 test accuracy after 5 epochs", 100 * model.stats["test_accuracy"], "%")

    images = data[2][:PREDICTION_IMAGES]
    before = median_seconds(lambda: model.predict(images))
    workspace = Path(tempfile.mkdtemp(prefix="kata-bench-"))
    try:
        export_dir = workspace / "model"
        started = time.perf_counter()
        with model.graph.as_default():
            solution.save(model.session, str(export_dir), model.x, model.y, model.prediction, model.accuracy)
        save_seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in export_dir.rglob("*") if p.is_file())

        def load():
            session = tf.compat.v1.Session(graph=tf.Graph())
            with session.graph.as_default():
                return session, solution.load_signature_tensors(session, str(export_dir))

        load_seconds = median_seconds(lambda: load()[0].close())
        session, tensors = load()
        after = median_seconds(lambda: session.run(tensors["prediction"], {tensors["input"]: images}))
        session.close()
    finally:
        shutil.rmtree(workspace)
        model.close()
    report("ex01 export size", size / 1024, "KiB")
    report("ex01 save (simple_save)", save_seconds, "s")
    report("ex01 load (loader.load into a new session, median)", load_seconds, "s")
    report(f"ex01 predict {PREDICTION_IMAGES} images before save (median)", before * 1000, "ms")
    report(f"ex01 predict {PREDICTION_IMAGES} images after reload (median)", after * 1000, "ms")
    report("peak memory of this process (RSS)", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the pytest runs")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_import()
    if not args.quick:
        bench_pytest()
    bench_exercise_1()


if __name__ == "__main__":
    main()
