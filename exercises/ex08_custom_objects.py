"""Exercise 8 — custom objects, and loading models you did not write, safely.

The lesson
----------
Models are programs. A `.keras` file is a zip: `config.json` says which
Python to rebuild (every layer, initializer and function by `module`,
`class_name` and `registered_name`; a `Lambda` layer's bytecode; a
`TFSMLayer` loading another SavedModel), `model.weights.h5` holds the values.
A SavedModel is a graph, and a graph can read and write files when it runs
(`ReadFile`, `WriteFile`), print, or run Python: some of it runs at load
time already (its initializers).

Your own layer travels by name. `Standardize` scales pixels with a mean and
a deviation taken from the training images. It is saved as its registered
name (`@keras.saving.register_keras_serializable(package="savedmodel_kata")`
gives "savedmodel_kata>Standardize") and its `get_config()`, and rebuilt by
`from_config(config)` wherever a module registering that name was imported,
no `custom_objects` needed. What the config holds (its arguments: `epsilon`)
and what its weights hold (the statistics: non-trainable weights, restored
from the file, never recomputed) are different things. Forget the
registration and another process meets "Could not locate class
'Standardize'"; leave an argument out of `get_config` and the layer comes
back with its default.

Load what you did not write as data, not as a program. `safe_mode=True`
(load_model's default: never pass False) refuses `Lambda` bytecode and,
since Keras 3.13.2, a `TFSMLayer`; it is not a sandbox, and its history is a
list of ways around it. So look before you load: read `config.json` from the
zip without loading it, walk every nested config, and refuse anything that
is neither Keras' own (`module` "keras" or "keras.<...>") nor a registered
name you allow (Keras looks any name up in its registry first, wherever it
stands: a `module` saying "keras" proves nothing); only then
`load_model(path, safe_mode=True)`, on a path ending in '.keras' (it reads
other suffixes otherwise). A SavedModel you did not write is read as a
proto first: every op of its graph and of its function library (where a
signature's and an initializer's ops live) must be one a classifier needs,
and the saver's `SaveV2` (it writes any path) may live only where nothing
that runs reaches it; only then `tf.saved_model.load`. (`saved_model_cli
scan` lists denylisted ops, but only prints: its exit status is 0 either way,
its output must be read.)

Run `pytest exercises/ex08_custom_objects.py` to check your work and
`kata hint 8` when stuck.
"""

import json
import os
import zipfile

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

NUM_CLASSES = 10
EPSILON = 1e-3  # added to the deviation: a blank image set must not divide by zero
# The registered name of the kata's layer: package "savedmodel_kata", class Standardize.
STANDARDIZE = "savedmodel_kata>Standardize"
# Class names refused even in Keras' own modules: they run code or load files of their own.
REFUSED_CLASSES = frozenset({"Lambda", "TFSMLayer", "__lambda__"})
# Values Keras writes as data and reads back without importing anything (a functional model's
# tensors, arrays, bytes).
KERAS_DATA = frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__"})
# Every op a SavedModel of the kata's classifier may run, loaded or called: the network's, the
# variables' and the calls' plumbing. Nothing that reads or writes files, prints, or runs Python.
CLASSIFIER_OPS = frozenset(
    {
        # the network
        "Conv2D", "BiasAdd", "Relu", "MaxPool", "MatMul", "Reshape", "Softmax", "Sub",
        "RealDiv", "AddV2", "Add", "Mul", "Maximum", "Squeeze", "Shape", "StridedSlice",
        "Pack", "ArgMax", "Cast", "Equal", "Mean",
        # variables, calls, constants
        "Const", "Identity", "IdentityN", "NoOp", "Placeholder", "VarHandleOp",
        "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp", "DisableCopyOnRead",
        "StatefulPartitionedCall", "PartitionedCall",
    }
)  # fmt: skip
# The checkpoint ops of every SavedModel's saver, which writes and reads files (SaveV2 writes
# any path it is given): allowed only in the saver's own functions, which nothing that loading or
# calling runs reaches.
SAVER_OPS = frozenset(
    {
        "SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
        "StaticRegexFullMatch", "Select",
    }
)  # fmt: skip


class UnsafeModelError(ValueError):
    """The model file holds something the check does not allow; nothing of it was loaded."""


# --- create_model ------------------------------------------------------------


def create_model(train_images):
    """Return a new, untrained Keras model: `Standardize`, then exercise 3's CNN, giving logits.

    The first layer is `Standardize(epsilon=1e-3, **layer_kwargs)`, a
    `keras.layers.Layer` registered as "savedmodel_kata>Standardize"
    (`keras.saving.register_keras_serializable(package="savedmodel_kata")`),
    computing (x - mean) / (deviation + epsilon). Its `mean` and `deviation`
    are float32 scalar NON-trainable weights holding the mean and the
    standard deviation of all the pixels of `train_images` (float32 [N, 28,
    28, 1], any N: the images given, whichever they are); its
    `get_config()` holds its arguments (`epsilon`, and Keras' own: name,
    dtype, ...), so `from_config(layer.get_config())` rebuilds it with the
    same arguments. The rest is exercise 3's network (Conv2D 8, 16, 4 with
    MaxPooling2D(2) each, Flatten, Dense 32 ReLU, Dense 10; 2,830 trainable
    parameters, Keras' default initialisers). Input float32 [batch, 28, 28,
    1], output float32 [batch, 10] logits, no softmax. Each call returns a
    new model; the harness compiles and trains it as exercise 3's.
    """
    raise NotImplementedError("exercise 8, create_model: read its docstring, then run `kata hint 8 create_model`")


# --- save --------------------------------------------------------------------


def save(model, keras_file):
    """Write `model` (architecture, weights, optimizer state) to `keras_file`, a .keras file.

    `keras_file` is a path ending in '.keras', wherever it points (its
    folder exists). The file must reload anywhere the layer's registration
    is imported, with `keras.saving.load_model(keras_file)` and no
    `custom_objects`, to a model computing what `model` computes, the
    statistics included. Each call saves the model it is given.
    """
    raise NotImplementedError("exercise 8, save: read its docstring, then run `kata hint 8 save`")


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(path, allowed=(STANDARDIZE,)):
    """Load a model you did not write, only after checking it; refuse it otherwise.

    `path` is a .keras file or a SavedModel folder. `allowed` is the
    registered names ("package>Class") of the custom objects you trust,
    besides Keras' own (by default the kata's "savedmodel_kata>Standardize";
    `allowed=()` trusts Keras' own objects only).

    * A .keras file (its path ends in '.keras': load_model reads other
      suffixes otherwise, an '.h5' as HDF5 even if it is a zip too): read
      its `config.json` from the zip first, without loading anything, and
      walk every object it names, at every depth (nested models, a
      layer's initializers, functions). Each must be
      Keras' own (`module` "keras" or starting "keras.") or have a
      registered name in `allowed` (a function is judged as a class is),
      or be data Keras reads without importing anything (KERAS_DATA: a
      functional model's tensors, arrays); `Lambda`, `TFSMLayer` and Python
      lambdas (class_name "__lambda__") are refused even so. And Keras
      looks a name up in the registry of custom objects before anything
      else, wherever it stands (a class_name under module "keras.layers",
      a function's config, a bare string such as an initializer's): every
      string of the config with a '>' ("package>Name") or that is a key of
      `keras.saving.get_custom_objects()` must be in `allowed`. Then
      `keras.saving.load_model(path, safe_mode=True)`.
    * A SavedModel folder: read its `saved_model.pb` as a proto first; every
      op of every meta graph's graph and function library must be in
      CLASSIFIER_OPS, but for the saver's checkpoint ops (SAVER_OPS:
      SaveV2 writes any path), allowed only in functions that nothing
      loading or calling runs reaches: not the object graph's
      (`object_graph_def.concrete_functions`: signatures, initializers),
      not those of the graph's nodes but the two `saver_def` names, not
      any they call (a node's func attrs), at any depth; and nowhere in a
      meta graph without an object graph (TF1's, which
      tf.saved_model.load restores by running its saver_def's restore op).
      Then `tf.saved_model.load(path)`.

    Anything else raises UnsafeModelError (this module's, a ValueError),
    its message naming what was found; nothing of a refused file runs,
    not even at load time. Return a dict: 'model' (the Keras model; for a
    SavedModel its 'serving_default' signature), 'format' ('keras' or
    'savedmodel'), 'checked' (the sorted class names met in the config, or
    the sorted op types of the SavedModel). Every call reads `path` anew.
    """
    raise NotImplementedError("exercise 8, load_signature_tensors: read its docstring, then run `kata hint 8 load_signature_tensors`")


# --- evaluate ----------------------------------------------------------------


def evaluate(model, images, labels):
    """Return the accuracy of the Keras `model` on `images`, a Python float in [0, 1].

    `model` gives logits (what create_model builds, or load_signature_tensors
    returned as 'model' for a .keras file); `images` are float32 [N, 28, 28,
    1], `labels` integer digits [N] of any integer dtype. The accuracy is
    the share of the images whose most likely digit is their label, over
    all the images given.
    """
    raise NotImplementedError("exercise 8, evaluate: read its docstring, then run `kata hint 8 evaluate`")
