"""Exercise 6 — a checkpoint is not a SavedModel: resume training exactly.

The lesson
----------
The tutorial calls its SavedModel a "checkpoint". They are two things, and
confusing them is how training runs get lost:

| checkpoint or SavedModel? | checkpoint                         | SavedModel                   |
|---------------------------|------------------------------------|------------------------------|
| made by                   | `tf.train.CheckpointManager.save`  | `tf.saved_model.save`        |
| holds                     | variable values only (the model's, | the program (the graph of    |
|                           | the optimizer's slots and step     | each signature) and the      |
|                           | count), by path in the object graph| variable values              |
| loaded by                 | the training program that builds   | anyone: `tf.saved_model.load`|
|                           | the same objects: `restore`        | TF Serving, `saved_model_cli`|
| needs your code           | yes: `create_model` rebuilds them  | no                           |
| is for                    | resuming training where it stopped | serving, sharing             |

A checkpoint saves what the objects you give it reference. Give it the
model and it saves the weights; the optimizer's state (Adam's two slots per
weight and its iteration count) is saved only if the optimizer is in it too.
Forget it and training "resumes" with a fresh Adam: a visible jump in the
loss, and weights that no uninterrupted run would have reached.

Restoring needs the same structure, built by code. Values are matched by
the object graph, attribute by attribute (`model/classifier/conv1_kernel`),
not by variable names: that is why renaming a `tf.Variable` changes nothing,
and renaming an attribute breaks the match. A value whose variable does not
exist yet (Adam creates its slots on the first step) waits until it is
created: restoration is deferred. How strict to be is yours to say:
`assert_consumed()` (every value of the checkpoint and every variable of
yours matched), `assert_existing_objects_matched()` (every variable you have
got a value), `expect_partial()` (say nothing: a checkpoint of another
structure restores half the model, silently).

`tf.train.CheckpointManager` numbers the checkpoints (by the step, if you
say so), keeps the last N, deletes the older ones, and records the newest in
a `checkpoint` file; `tf.train.latest_checkpoint(directory)` reads it. That
is the tutorial's "identify the last checkpoint", done right: never sort
file names as strings ('ckpt-40' sorts after 'ckpt-1000').

The test of a correct checkpoint: training interrupted, restored in another
process and continued gives exactly the weights of training that was never
interrupted (bit for bit, on CPU, with the same data order).

A checkpoint cannot be served: `tf.saved_model.load` refuses its folder
(there is no `saved_model.pb`, no program to run). To serve a model trained
from checkpoints, restore it, then export it with `tf.saved_model.save`:
another step, into a folder of its own.

Run `pytest exercises/ex06_checkpoints.py` to check your work and
`kata hint 6` when stuck.
"""

import keras
import numpy as np
import tensorflow as tf

NUM_CLASSES = 10
LEARNING_RATE = 1e-3
CHECKPOINTS_KEPT = 3


# --- create_model ------------------------------------------------------------


def _glorot_uniform(shape):
    """The tutorial's kernel initialiser: uniform in ±sqrt(6 / (fan_in + fan_out))."""
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.random.uniform(shape, -limit, limit)


class DigitClassifier(tf.Module):
    """Exercise 2's CNN: variables as attributes, the network in __call__."""

    def __init__(self):
        super().__init__(name="digit_classifier")
        layers = [
            ("conv1", [3, 3, 1, 8]),
            ("conv2", [3, 3, 8, 16]),
            ("conv3", [1, 1, 16, 4]),
            ("dense1", [36, 32]),
            ("dense2", [32, NUM_CLASSES]),
        ]
        for name, shape in layers:
            setattr(
                self, f"{name}_kernel", tf.Variable(_glorot_uniform(shape), name=f"{name}/kernel")
            )
            setattr(self, f"{name}_bias", tf.Variable(tf.zeros([shape[-1]]), name=f"{name}/bias"))

    def _conv_block(self, inputs, kernel, bias):
        activation = tf.nn.relu(tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME") + bias)
        return tf.nn.max_pool2d(activation, ksize=2, strides=2, padding="VALID")

    def __call__(self, x):
        hidden = self._conv_block(x, self.conv1_kernel, self.conv1_bias)
        hidden = self._conv_block(hidden, self.conv2_kernel, self.conv2_bias)
        hidden = self._conv_block(hidden, self.conv3_kernel, self.conv3_bias)
        flat = tf.reshape(hidden, [-1, 3 * 3 * 4])
        hidden = tf.nn.relu(tf.matmul(flat, self.dense1_kernel) + self.dense1_bias)
        return tf.matmul(hidden, self.dense2_kernel) + self.dense2_bias


class Trainer(tf.Module):
    """The network and the optimizer that trains it, in one object: one checkpoint holds both."""

    def __init__(self):
        super().__init__(name="trainer")
        self.classifier = DigitClassifier()
        self.optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE)

    def __call__(self, x):
        return self.classifier(x)


def create_model():
    """Return a new, untrained `tf.Module` holding the network and its optimizer.

    Its attributes are the checkpoint's structure, which every checkpoint of
    this exercise shares (the tests restore checkpoints written by one
    implementation into models built by another):
    * `classifier`: exercise 2's network, a `tf.Module` whose `__call__(x)`
      gives logits (float32 [batch, 10] for float32 [batch, 28, 28, 1], no
      softmax), with exercise 2's ten weights as `tf.Variable` attributes of
      exercise 2's names (`conv1_kernel`, `conv1_bias`, ..., `dense2_bias`),
      glorot uniform kernels in the tutorial's layout and zero biases;
    * `optimizer`: a new `keras.optimizers.Adam(learning_rate=1e-3)` of its
      own (its slots and iteration count are made for these variables only).
    The module's own `__call__(x)` gives the classifier's logits, and its
    `trainable_variables` are the classifier's ten. The harness seeds
    TensorFlow before calling this, trains the result with
    `model.optimizer`, and compares it with the reference from the same start.
    """
    return Trainer()


# --- save --------------------------------------------------------------------


def save(model, directory, step):
    """Write a checkpoint of `model` (network and optimizer) and `step` into `directory`.

    The checkpoint is `tf.train.Checkpoint(model=model, step=...)`, `step`
    an int64 `tf.Variable` holding the step the model was trained to (the
    optimizer's iteration count need not be it: a run may start counting
    anywhere). It is written by a `tf.train.CheckpointManager` that keeps
    the last 3 checkpoints of the directory, deleting older ones, whichever
    call wrote them, and numbered by `step` (`<directory>/ckpt-<step>`; steps
    grow, not necessarily by one). Return the path written, as a str. Each
    call saves the model it is given: one process may save several models,
    in several directories. Write checkpoints only: a SavedModel is another
    thing, exported elsewhere.
    """
    checkpoint = tf.train.Checkpoint(model=model, step=tf.Variable(step, dtype=tf.int64))
    manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=CHECKPOINTS_KEPT)
    return manager.save(checkpoint_number=step)


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(directory, create_model=create_model):
    """Restore the newest checkpoint of `directory` into a new model; return (model, step).

    The model is a new `create_model()` (the function passed, this module's
    by default: a checkpoint holds no code, so the code that builds the
    structure is an argument), with every value of the newest checkpoint
    (`tf.train.latest_checkpoint`: the last one saved) restored into it,
    the optimizer's slots and iteration count included (they may be
    restored when the optimizer creates them); `step` is the Python int
    that checkpoint was saved at. Restore strictly: a checkpoint of another
    structure (without the optimizer, the parts under other names, other
    shapes) raises an error instead of restoring part of the model. A directory
    with no checkpoint raises FileNotFoundError (restoring None restores
    nothing, silently). Every call reads the directory anew.
    """
    path = tf.train.latest_checkpoint(directory)
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {directory}")
    model = create_model()
    # Adam makes its slots on the first step; made now, they are restored now and checked.
    model.optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    tf.train.Checkpoint(model=model, step=step).restore(path).assert_consumed()
    return model, int(step)


# --- evaluate ----------------------------------------------------------------


def evaluate(model, images, labels):
    """Return the accuracy of `model` on `images`, a Python float in [0, 1].

    `model` is what `create_model` returns (restored or not); `images` are
    float32 [N, 28, 28, 1], `labels` integer digits [N] of any integer
    dtype. The accuracy is the share of the images whose most likely digit
    (the largest logit) is their label, over all the images given.
    """
    logits = model(tf.constant(images, tf.float32)).numpy()
    correct = int(np.sum(np.argmax(logits, axis=1) == np.asarray(labels)))
    return correct / len(labels)
