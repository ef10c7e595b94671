"""The reference trains the same in every process, so a cache hit can never change a grade.

Every kind of exercise's reference is trained from its seeded start, without the cache, in two
fresh processes: one alone, one beside busy loops on every core (thread timing differs, op
determinism must not care). Their weights must be identical bit for bit; a third training in
the second process, through a cache entry the first wrote, must replay the same weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from savedmodel_kata import catalogue

ROOT = Path(__file__).resolve().parents[2]

# One exercise per kind that trains its own model (exercise 5 trains exercise 2's classifier).
EXERCISE_OF_KIND = {e.kind: e.number for e in catalogue.exercises() if e.kind != "serving"}

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
    for use_cache in json.loads(sys.argv[2]):  # fresh; then a miss that stores, and a hit
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
        hogs = [subprocess.Popen([sys.executable, "-c", busy]) for _ in range(os.cpu_count() or 2)]
    try:
        numbers = json.dumps(sorted(EXERCISE_OF_KIND.values()))
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
    alone = train_every_kind(
        tmp_path / "alone", under_load=False, uses_of_the_cache=[False, True, True]
    )
    loaded = train_every_kind(tmp_path / "loaded", under_load=True, uses_of_the_cache=[False])
    for exercise, runs in alone.items():
        (fresh, _, score), (stored, stored_cached, _), (replayed, replayed_cached, _) = runs
        assert (stored_cached, replayed_cached) == (False, True), (exercise, runs)
        assert fresh == stored == replayed, f"{exercise}: the cache replays other weights"
        assert loaded[exercise][0][0] == fresh, (
            f"{exercise}: trained beside busy loops, the reference ends with other weights "
            f"({loaded[exercise][0][2]} against {score} test digits right): training is not "
            "deterministic, and a cached result could differ from a fresh one"
        )
