"""The cache of trained models can make a run faster, never change what training gives.

Each test trains a reference for one epoch in a cache folder of its own: code under test
trains in a scope the reference never reads, an entry that does not fit is trained again from
the model's own start, a damaged entry is a miss, and a folder others may write is not used.
"""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel_kata import catalogue, kinds, settings
from savedmodel_kata.code_under_test import find_root, import_exercise
from savedmodel_kata.kinds import cache
from savedmodel_kata.plugin.fixtures import bundled_digits


@pytest.fixture
def cache_folder(tmp_path):
    before = settings.current()
    settings.use(before.replace(cache_dir=tmp_path / "cache", no_cache=False))
    yield tmp_path / "cache"
    settings.use(before)


def reference(number: int):
    exercise = catalogue.by_number(number)
    return kinds.for_exercise(exercise), import_exercise(find_root(), "solutions", exercise)


def train(kind, code, **options):
    trained = kind.train(code.create_model, bundled_digits(), epochs=1, **options)
    weights = kind.weights(trained.model)
    kind.close(trained.model)
    return trained.stats, weights


def entries(folder):
    return sorted(path.parent.name for path in folder.glob(f"*/{cache.ENTRY_FILE}"))


def test_code_under_test_never_writes_what_the_reference_reads(cache_folder, tmp_path):
    kind, code = reference(2)
    student = cache.code_under_test(tmp_path / "exercises" / "ex02_tf_function.py")
    assert not train(kind, code, cache_scope=student)[0].cached
    assert train(kind, code, cache_scope=student)[0].cached  # its own entry, read back
    first, weights = train(kind, code)  # the reference's scope: another entry
    assert not first.cached and len(entries(cache_folder)) == 2
    again, replayed = train(kind, code)
    assert again.cached and all(np.array_equal(weights[s], replayed[s]) for s in weights)
    # Other code computing the same from the same start reads the reference's entry, and
    # writes none.
    another = cache.code_under_test(tmp_path / "another" / "ex02_tf_function.py")
    assert train(kind, code, cache_scope=another)[0].cached
    assert len(entries(cache_folder)) == 2


def test_an_entry_that_does_not_fit_is_trained_again_from_the_start(cache_folder):
    # The Keras kind restores the weights, then the optimizer's state: an entry whose optimizer
    # state does not fit fails half-way, with trained weights already set.
    kind, code = reference(3)
    first, weights = train(kind, code)
    (key,) = entries(cache_folder)
    values, stats = cache.load(key)
    values["optimizer/999"] = np.zeros(1, np.float32)
    cache.store(key, values, stats)
    again, retrained = train(kind, code)
    assert not again.cached
    assert [e.test for e in again.epochs] == [e.test for e in first.epochs]
    assert all(np.array_equal(weights[s], retrained[s]) for s in weights)


def test_a_damaged_entry_is_a_miss(cache_folder):
    kind, code = reference(2)
    train(kind, code)
    (key,) = entries(cache_folder)
    entry = cache_folder / key / cache.ENTRY_FILE
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert cache.load(key) is None
    assert not train(kind, code)[0].cached


def test_a_folder_others_may_write_to_is_not_used(cache_folder):
    cache_folder.mkdir(parents=True)
    cache_folder.chmod(0o777)
    assert not cache.enabled()
    cache_folder.chmod(0o755)
    assert cache.enabled()


SUBCLASSED = """
import keras


class Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.convolutions = [
            keras.layers.Conv2D(filters, size, padding="same", activation="relu")
            for filters, size in ((8, 3), (16, 3), (4, 1))
        ]
        self.pool = keras.layers.MaxPooling2D(2)
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(32, activation={activation!r})
        self.logits = keras.layers.Dense(10)

    def call(self, x):
        for convolution in self.convolutions:
            x = self.pool(convolution(x))
        return self.logits(self.hidden(self.flatten(x)))


def create_model():
    model = Classifier()
    model(keras.ops.zeros((1, 28, 28, 1)))
    return model
"""


def test_two_versions_of_a_subclassed_model_at_one_path_are_two_entries(cache_folder, tmp_path):
    # A subclassed model's config is its class name: what `call` computes is in its code.
    import importlib.util

    kind = kinds.named("keras")
    path = tmp_path / "exercises" / "ex03_keras_export.py"
    path.parent.mkdir()
    scope = cache.code_under_test(path)
    trained = []
    for activation in (None, "relu"):
        path.write_text(SUBCLASSED.format(activation=activation))
        spec = importlib.util.spec_from_file_location("ex03_keras_export", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        trained.append(train(kind, module, cache_scope=scope))
    (without_relu, _), (with_relu, _) = trained
    assert not with_relu.cached, "the second version replayed the first one's training"
    assert with_relu.test != without_relu.test


def test_a_custom_layer_that_trains_otherwise_is_another_entry(tmp_path):
    # Exercise 8's key is what the model computes, not its file's text: a layer that changes
    # only when training (noise, a running statistic) must change the key too.
    import importlib.util

    kind = kinds.named("custom")
    source = (find_root() / "solutions" / catalogue.by_number(8).file_name).read_text()
    call = "    def call(self, inputs):\n        return (inputs - self.mean)"
    assert call in source
    when_training = source.replace(
        call,
        "    def call(self, inputs, training=False):\n"
        "        if training:\n"
        "            inputs = inputs * 0.5\n"
        "        return (inputs - self.mean)",
    )
    identities = []
    for number, text in enumerate((source, when_training)):
        path = tmp_path / f"v{number}" / "ex08_custom_objects.py"
        path.parent.mkdir()
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"ex08_version_{number}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        identities.append(kind._identity(kind.new_model(module.create_model)))
    assert identities[0] != identities[1], "a layer that trains otherwise replays the first's"
