"""Exercise 4 — The bridge: one graph-mode export that TF1 and TF2 both load.

The lesson
----------
The tutorial's export (exercise 1) cannot be loaded by TensorFlow 2's
`tf.saved_model.load`. It fails with UnliftableError: "A SavedModel
signature needs an input for each placeholder the signature's outputs use".
The tutorial listed its label placeholder `y` as an *output* ('output'), and
'accuracy' depends on `y`, so 'accuracy' cannot be computed from the
signature's inputs. TF1's loader never minded, because a session lets you
feed any placeholder; TF2 turns each signature into a function of its
inputs only.

The fix is to say what each signature really needs: 'serving_default' maps
'input' to 'prediction'; 'evaluate' takes 'input' *and* 'label' and gives
'accuracy'. `tf.compat.v1.saved_model.Builder` writes several signatures
(each a SignatureDef built from TensorInfos) under one tag. Such an export
loads in both worlds: a TF1 session, and `tf.saved_model.load`.

The other direction works too, for some exports: TF1's loader reads a TF2
export of a `tf.Module` (exercise 2) or a Keras model's `model.export`, but
not a Keras 3 model given straight to `tf.saved_model.save`: its variables
are not in the graph the loader restores ("Could not find variable ...").

Run `pytest exercises/ex04_bridge.py` to check your work and
`kata hint 4` when stuck.
"""

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

NUM_CLASSES = 10
SERVE_TAG = "serve"
PREDICT_METHOD = "tensorflow/serving/predict"


# --- create_model ------------------------------------------------------------


def create_model(x):
    """The tutorial's CNN on the placeholder `x`, returning [None, 10] logits: as in exercise 1.

    Bring your exercise 1 version: the same layers and no others, the same
    2,830 parameters (glorot uniform kernels, zero biases, made with
    tf.compat.v1.get_variable), each kernel in the tutorial's layout ([in,
    out] for a dense one, not transposed: the harness sets and reads weights
    by shape), 'VALID' pools, no softmax, the batch dimension left open,
    every op built from `x` in the graph it belongs to.
    """
    raise NotImplementedError("exercise 4, create_model: read its docstring, then run `kata hint 4 create_model`")


# --- save --------------------------------------------------------------------


def save(sess, export_dir, x, y, y_pred, acc):
    """Export the trained model in `sess` so that TF1 and TF2 can both load it.

    Tag 'serve', and two signatures, both with method name
    'tensorflow/serving/predict':
    * 'serving_default': input 'input' (`x`) -> output 'prediction' (`y_pred`)
    * 'evaluate': inputs 'input' (`x`) and 'label' (`y`, one-hot float32
      [None, 10]) -> output 'accuracy' (`acc`)
    Every placeholder an output depends on must be an input of its
    signature. Use tf.compat.v1.saved_model.Builder, writing into
    `export_dir` itself (builder.save() writes the files); do not initialise
    anything (export the session you were given, weights as trained).
    """
    raise NotImplementedError("exercise 4, save: read its docstring, then run `kata hint 4 save`")


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(export_dir, signature_key="serving_default", session=None):
    """Load any export into either world: the bridge.

    Without `session` (TF2): load with `tf.saved_model.load` and return, as
    in exercise 2, {'inputs': {key: tf.TensorSpec}, 'outputs': {key:
    tf.TensorSpec}, 'function': `loaded.signatures[signature_key]` itself,
    'loaded': the loaded object}, whatever the export (TF1 or TF2, any
    names). A TF1 export's structured_outputs are graph tensors, not specs:
    describe each with tf.TensorSpec.from_tensor.

    With `session` (TF1): load with `tf.compat.v1.saved_model.loader.load`
    (tag 'serve') into it and return {key: tf.Tensor of session.graph} for
    the inputs and outputs of the signature `signature_key`, found through
    the signature, as in exercise 1. The harness calls this inside
    `session.graph.as_default()`.
    """
    raise NotImplementedError("exercise 4, load_signature_tensors: read its docstring, then run `kata hint 4 load_signature_tensors`")


# --- evaluate ----------------------------------------------------------------


def evaluate(signature, images, labels):
    """The accuracy (a Python float in [0, 1]) through the TF2-loaded 'evaluate' signature.

    `signature` is what `load_signature_tensors(export_dir, 'evaluate')`
    returned; `images` are float32 [N, 28, 28, 1], `labels` integer digits
    [N]. Its 'label' input is the graph's one-hot placeholder, so turn the
    labels into one-hot float32 rows first. Return the share of the images
    whose most likely digit is their label.
    """
    raise NotImplementedError("exercise 4, evaluate: read its docstring, then run `kata hint 4 evaluate`")
