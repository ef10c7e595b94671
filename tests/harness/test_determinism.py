"""The reference trains the same in every process, so a cache hit can never change a grade.

Every way of training (one exercise per kind, kinds that train alike once) trains its
reference from its seeded start in two fresh processes: alone, through an empty cache (a miss
trains and stores), and beside busy loops on the other cores, without the cache (thread timing
differs, op determinism must not care). Their weights must be identical bit for bit; a second
training in the first process, a hit on the entry the miss stored, must replay the same weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from savedmodel_kata import catalogue

ROOT = Path(__file__).resolve().parents[2]

# What decides how a kind trains: two kinds with the same methods train the same model the same
# way (LiteRT's is Keras'), and one of them is enough.
TRAINING_METHODS = ("new_model", "train", "_step", "_compile", "snapshot", "restore", "assign")


def exercises_that_train_apart() -> list[int]:
    """One exercise per kind that trains its own model (exercise 5 trains exercise 2's
    classifier) in a way of its own."""
    from savedmodel_kata import kinds  # TensorFlow: when the test runs, not when collected

    first_of_loop: dict[tuple, int] = {}
    for exercise in catalogue.exercises():
        if exercise.kind != "serving":
            cls = type(kinds.named(exercise.kind))
            loop = tuple(getattr(cls, name, None) for name in TRAINING_METHODS)
            first_of_loop.setdefault(loop, exercise.number)
    return sorted(first_of_loop.values())


TRAIN_EACH_KIND = """
import hashlib, json, sys
from savedmodel_kata import catalogue, kinds
from savedmodel_kata.code_under_test import find_root, import_exercise
from savedmodel_kata.plugin.fixtures import bundled_digits

def digest(kind, model):  # the trained weights (a replayed graph has no optimizer slots)
    weights = kind.weights(model)
    data = b"".join(weights[shape].tobytes() for shape in sorted(weights))
    return hashlib.sha256(data).hexdigest()

found = {}
for number in json.loads(sys.argv[1]):
    exercise = catalogue.by_number(number)
    kind = kinds.for_exercise(exercise)
    create_model = import_exercise(find_root(), "solutions", exercise).create_model
    runs = []
    for use_cache in json.loads(sys.argv[2]):  # fresh, or a miss that stores, then a hit
        trained = kind.train(create_model, bundled_digits(), use_cache=use_cache)
        runs.append([digest(kind, trained.model), trained.stats.cached, list(trained.stats.test)])
        kind.close(trained.model)
    found[exercise.id] = runs
print(json.dumps(found))
"""


def train_every_kind(cache_dir: Path, under_load: bool, uses_of_the_cache: list[bool]) -> dict:
    environment = dict(os.environ, KATA_CACHE_DIR=str(cache_dir), KATA_ROOT=str(ROOT))
    environment.pop("KATA_NO_CACHE", None)
    hogs = []
    if under_load:
        busy = "import time\nend = time.time() + 600\nwhile time.time() < end: pass"
        # Every core but the one training is busy: its threads meet other timings than alone.
        others = max(1, (os.cpu_count() or 2) - 1)
        hogs = [subprocess.Popen([sys.executable, "-c", busy]) for _ in range(others)]
    try:
        numbers = json.dumps(exercises_that_train_apart())
        done = subprocess.run(
            [sys.executable, "-c", TRAIN_EACH_KIND, numbers, json.dumps(uses_of_the_cache)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_reference_trains_to_the_same_weights_in_every_process(tmp_path):
    # Alone: a miss trains afresh and stores, then a hit replays. Beside busy loops: trained
    # without the cache at all. (A third training, alone and without the cache, would repeat the
    # miss's: a miss trains exactly as an uncached run does.)
    alone = train_every_kind(tmp_path / "alone", under_load=False, uses_of_the_cache=[True, True])
    loaded = train_every_kind(tmp_path / "loaded", under_load=True, uses_of_the_cache=[False])
    # graph, module, keras, checkpoint and custom (bridge trains as graph does, litert as keras)
    assert len(alone) >= 5, sorted(alone)
    for exercise, runs in alone.items():
        (fresh, stored_cached, score), (replayed, replayed_cached, _) = runs
        assert (stored_cached, replayed_cached) == (False, True), (exercise, runs)
        assert fresh == replayed, f"{exercise}: the cache replays other weights"
        assert loaded[exercise][0][0] == fresh, (
            f"{exercise}: trained beside busy loops, the reference ends with other weights "
            f"({loaded[exercise][0][2]} against {score} test digits right): training is not "
            "deterministic, and a cached result could differ from a fresh one"
        )
