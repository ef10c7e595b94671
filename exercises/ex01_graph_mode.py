"""Exercise 1 — Graph mode: export the tutorial's CNN, reload it, lose nothing.

The lesson
----------
A SavedModel is a folder: `saved_model.pb` holds the graph and its
*signatures*, `variables/` holds the trained weights. A signature is a
contract between whoever exports a model and whoever serves it: a name
('serving_default') and, for each input and output, a key you choose
('input', 'prediction', ...) mapped to a tensor of the graph. Whoever loads
the model never needs to know how the graph was built or what its tensors
were called: the signature says.

In TensorFlow 1 style code (here `tf.compat.v1`, run inside a `tf.Graph`),
`simple_save` writes one signature, 'serving_default', under the tag 'serve',
and `loader.load` puts the graph and its weights back into a session and
hands you the signatures. The kata's harness trains the model for you (the
tutorial's loop, `savedmodel_kata.training.train`); you write the four pieces
that decide whether the model survives the trip to disk.

Run `pytest exercises/ex01_graph_mode.py` to check your work and
`kata hint 1` when stuck.
"""

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

NUM_CLASSES = 10
SIGNATURE_KEY = "serving_default"
SERVE_TAG = "serve"


# --- create_model ------------------------------------------------------------


def create_model(x):
    """Build the tutorial's CNN on `x` and return its logits.

    `x` is a float32 placeholder shaped [None, 28, 28, 1]. Return a float32
    tensor shaped [None, 10]: one score per digit, *before* softmax (the
    harness adds the softmax and the loss, which wants raw logits).

    The architecture is the tutorial's, 2,830 trainable parameters in all and
    no other layers: conv 3x3, 8 filters -> pool; conv 3x3, 16 filters ->
    pool; conv 1x1, 4 filters -> pool (each conv with ReLU and 'SAME'
    padding; each pool 2x2, stride 2, 'VALID' padding); flatten to 36 values;
    dense 32 with ReLU; dense 10. Kernels start glorot uniform, biases at
    zero. Keep each kernel in the tutorial's layout, [height, width, in, out]
    for a convolution and [in, out] for a dense layer (not transposed for
    transpose_b): the harness sets and reads weights by shape, to start your
    model where the reference starts. tf.compat.v1.layers is not available
    with Keras 3: make each weight with tf.compat.v1.get_variable. Build
    every op from `x`, in the graph the harness made for it (never a
    tf.Graph of your own). The batch dimension must stay open (None): a
    served model gets batches of any size.
    """
    raise NotImplementedError("exercise 1, create_model: read its docstring, then run `kata hint 1 create_model`")


# --- save --------------------------------------------------------------------


def save(sess, export_dir, x, y, y_pred, acc):
    """Export the trained model in `sess` as a SavedModel in `export_dir`.

    Write tag 'serve' and one signature, 'serving_default' (method
    'tensorflow/serving/predict'), whose input key 'input' maps to `x` and
    whose output keys map 'output' to `y` (the tutorial's label placeholder),
    'prediction' to `y_pred` (softmax probabilities) and 'accuracy' to `acc`.
    Write into `export_dir` itself, which does not exist yet. Export the
    session you were given, weights as trained: do not initialise anything.
    """
    raise NotImplementedError("exercise 1, save: read its docstring, then run `kata hint 1 save`")


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(sess, export_dir):
    """Load the SavedModel in `export_dir` into `sess`; return its signature's tensors.

    Return a dict from the four keys of the 'serving_default' signature
    ('input', 'output', 'prediction', 'accuracy') to the matching tf.Tensor
    of `sess.graph`. Find each tensor through the signature: the exporter
    may have named its tensors anything, so never hard-code 'myInput:0'.
    """
    raise NotImplementedError("exercise 1, load_signature_tensors: read its docstring, then run `kata hint 1 load_signature_tensors`")


# --- evaluate ----------------------------------------------------------------


def evaluate(sess, tensors, images, labels):
    """Return the accuracy of the loaded model on `images` and `labels`.

    `tensors` is what `load_signature_tensors` returned; `images` is float32
    [N, 28, 28, 1]; `labels` are integer digits [N]. Return a Python float in
    [0, 1] (a fraction, not a percentage): the share of all N images whose
    predicted digit is their label. The loaded graph computes it for you: its
    'accuracy' tensor, fed the images and the labels as one-hot rows
    ('output' is the tutorial's label placeholder, [None, 10]).
    """
    raise NotImplementedError("exercise 1, evaluate: read its docstring, then run `kata hint 1 evaluate`")
