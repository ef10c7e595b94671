"""Exercise 2 — TensorFlow 2: a tf.Module, tf.function signatures, tf.saved_model.

The lesson
----------
TensorFlow 2 has no sessions and no placeholders. A model is an object (a
`tf.Module`) that owns its `tf.Variable`s and computes with ordinary Python
calls; `tf.saved_model.save(obj, export_dir, signatures=...)` walks the
object, saves every variable it can reach, and traces the functions you name
as signatures into graphs.

A signature is a `tf.function` with an `input_signature`: a list of
`tf.TensorSpec`s fixing dtype and shape (None for "any batch size"). Its
input keys are the function's argument names; its output keys are the keys
of the dict it returns. Return a bare tensor and TensorFlow invents the key
'output_0', which no client can guess: name your outputs.

`tf.saved_model.load` gives back an object whose `.signatures` maps each
key to a concrete function. A signature function takes keyword arguments
only (`f(input=images)`) and returns a dict. Keep the loaded object alive
while you use its signatures: it owns the variables they read.

Run `pytest exercises/ex02_tf_function.py` to check your work and
`kata hint 2` when stuck.
"""

import numpy as np
import tensorflow as tf

NUM_CLASSES = 10
INPUT_SPEC = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")
LABEL_SPEC = tf.TensorSpec([None], tf.int64, name="label")


# --- create_model ------------------------------------------------------------


def _glorot_uniform(shape):
    """The tutorial's kernel initialiser: uniform in ±sqrt(6 / (fan_in + fan_out))."""
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.random.uniform(shape, -limit, limit)


class DigitClassifier(tf.Module):
    """The tutorial's CNN as a tf.Module: variables as attributes, the network in __call__."""

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


def create_model():
    """Return the tutorial's CNN as a new `tf.Module` whose `__call__(x)` gives logits.

    `x` is float32 [batch, 28, 28, 1]; the result is float32 [batch, 10],
    raw logits (no softmax). Same layers as exercise 1 (2,830 trainable
    parameters, no others): conv 3x3x8, conv 3x3x16, conv 1x1x4 (each ReLU,
    'SAME', then 2x2 max-pool, stride 2, 'VALID'), flatten to 36, dense 32
    (ReLU), dense 10. Make every weight a `tf.Variable` attribute (glorot
    uniform kernels, zero biases) so `trainable_variables` and
    `tf.saved_model.save` find it. Keep each kernel in the tutorial's
    layout, [height, width, in, out] for a convolution and [in, out] for a
    dense layer (not transposed for transpose_b): the harness sets and reads
    weights by shape, to start your model where the reference starts. Each
    call returns a new, untrained model: the harness seeds TensorFlow before
    calling this and trains the result.
    """
    return DigitClassifier()


# --- save --------------------------------------------------------------------


def save(model, export_dir):
    """Export `model` to `export_dir` with two named signatures.

    * 'serving_default': input 'input' (float32 [None, 28, 28, 1]) ->
      output 'prediction' (float32 [None, 10], softmax probabilities).
    * 'evaluate': inputs 'input' and 'label' (int64 [None]) -> output
      'accuracy' (float32 scalar: the fraction of the batch's images whose
      most likely digit is their label). Each call answers for its own batch,
      whatever its size: nothing is counted across calls.

    Use `tf.function`s with an `input_signature` and return dicts, so the
    outputs have names (not 'output_0'); pass them with the model, as trained,
    to `tf.saved_model.save`. The export must work anywhere: in another
    process, moved to another folder, without this module. Each call exports
    the model it is given (one process may save several).
    """

    @tf.function(input_signature=[INPUT_SPEC])
    def serve(input):
        return {"prediction": tf.nn.softmax(model(input))}

    @tf.function(input_signature=[INPUT_SPEC, LABEL_SPEC])
    def evaluate(input, label):
        correct = tf.equal(tf.argmax(model(input), axis=1), label)
        return {"accuracy": tf.reduce_mean(tf.cast(correct, tf.float32))}

    tf.saved_model.save(
        model, export_dir, signatures={"serving_default": serve, "evaluate": evaluate}
    )


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(export_dir, signature_key="serving_default"):
    """Load `export_dir` with `tf.saved_model.load` and describe one signature.

    Return a dict with:
    * 'inputs': {input key: tf.TensorSpec}, e.g. {'input': TensorSpec([None, 28, 28, 1], float32)}
    * 'outputs': {output key: tf.TensorSpec}, e.g. {'prediction': ...}
    * 'function': the signature's concrete function, `loaded.signatures[signature_key]`
      itself (call it with keywords)
    * 'loaded': the object tf.saved_model.load returned, kept alive because
      it owns the variables the function reads.
    Read the specs from the function (`structured_input_signature`,
    `structured_outputs`): never assume them. Every call loads the export it
    is given, anew: the folder may have been rewritten since an earlier call.
    """
    loaded = tf.saved_model.load(export_dir)
    function = loaded.signatures[signature_key]
    _, keyword_specs = function.structured_input_signature
    return {
        "inputs": dict(keyword_specs),
        "outputs": dict(function.structured_outputs),
        "function": function,
        "loaded": loaded,
    }


# --- evaluate ----------------------------------------------------------------


def evaluate(signature, images, labels):
    """Return the accuracy, a Python float in [0, 1], through the reloaded 'evaluate' signature.

    `signature` is what `load_signature_tensors(export_dir, 'evaluate')`
    returned; `images` are float32 [N, 28, 28, 1], `labels` integer digits
    [N] of any integer dtype (the signature takes int64). Call its function
    with keyword arguments named after its input keys, on all the images
    given, and read the 'accuracy' output: the share of the images whose most
    likely digit is their label.
    """
    outputs = signature["function"](
        input=tf.constant(images, tf.float32), label=tf.constant(labels, tf.int64)
    )
    return float(outputs["accuracy"])
