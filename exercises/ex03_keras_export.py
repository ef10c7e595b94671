"""Exercise 3 — Keras 3: a SavedModel to serve, a .keras file to resume training.

The lesson
----------
Keras 3 keeps two formats apart. A `.keras` file (`model.save('m.keras')`,
`keras.models.load_model`) is for Keras: the architecture, the weights and
the optimizer's state, so training can resume where it stopped. A
SavedModel is for serving: `model.export(dir)` or, to choose the endpoints,
`keras.export.ExportArchive`. Keras 3 will not mix them: `model.save(dir)`
refuses a folder, and `load_model(dir)` refuses a SavedModel.

An ExportArchive tracks the model (so its variables are saved) and adds
endpoints: named tf.functions with an input signature, here 'serve' and
'evaluate'. The first endpoint is also saved as 'serving_default'. Return
dicts from them, so outputs have names. Back in Keras,
`keras.layers.TFSMLayer(dir, call_endpoint='serve')` wraps an endpoint as an
inference-only layer; `tf.saved_model.load(dir)` works too.

Run `pytest exercises/ex03_keras_export.py` to check your work and
`kata hint 3` when stuck.
"""

import keras
import tensorflow as tf

NUM_CLASSES = 10
INPUT_SPEC = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")
LABEL_SPEC = tf.TensorSpec([None], tf.int64, name="label")


# --- create_model ------------------------------------------------------------


def create_model():
    """Return the tutorial's CNN as a new Keras 3 model giving logits.

    Input float32 [batch, 28, 28, 1], output float32 [batch, 10] logits (no
    softmax). The tutorial's layers and no others, 2,830 parameters: Conv2D
    8 (3x3), 16 (3x3) and 4 (1x1), each 'same' padding and ReLU and followed
    by MaxPooling2D(2); Flatten; Dense 32 (ReLU); Dense 10. Keras' defaults
    (glorot uniform kernels, zero biases) are the tutorial's. Each call
    returns a new, untrained model: the harness compiles and trains it.
    """
    raise NotImplementedError("exercise 3, create_model: read its docstring, then run `kata hint 3 create_model`")


# --- save --------------------------------------------------------------------


def save(model, export_dir, keras_file):
    """Write the trained, compiled `model` twice: a SavedModel to serve, a .keras file to resume.

    * `export_dir`: a SavedModel with endpoints 'serve' (input 'input',
      float32 [None, 28, 28, 1] -> output 'prediction', softmax
      probabilities) and 'evaluate' (inputs 'input' and 'label', int64
      [None] -> output 'accuracy', a float32 scalar: the share of the batch's
      images whose most likely digit is their label; each call answers for
      its own batch, nothing is counted across calls). A TFSMLayer passes
      keywords by the endpoint function's argument names: name them as the
      specs. 'serve' is also the export's 'serving_default' (ExportArchive
      aliases the first endpoint added). Use keras.export.ExportArchive; the
      export must work in another process, moved to another folder. Each
      call exports the model it is given (one process may save several).
    * `keras_file` (a path ending in '.keras', wherever it points): the model
      with its optimizer state, as `model.save` writes it.
    """
    raise NotImplementedError("exercise 3, save: read its docstring, then run `kata hint 3 save`")


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(export_dir, endpoint="serve"):
    """Reload one endpoint of the SavedModel in `export_dir` as a Keras layer, with its specs.

    Return a dict with:
    * 'layer': keras.layers.TFSMLayer(export_dir, call_endpoint=endpoint):
      call it with the first input positionally and the others by keyword,
      e.g. layer(images) or layer(images, label=labels); it returns a dict
    * 'inputs' and 'outputs': {key: tf.TensorSpec} of that endpoint, read
      from tf.saved_model.load(export_dir).signatures[endpoint] (never
      assumed: other exports name their endpoints and keys otherwise)
    Every call loads export_dir anew: the folder may have been rewritten
    since an earlier call.
    """
    raise NotImplementedError("exercise 3, load_signature_tensors: read its docstring, then run `kata hint 3 load_signature_tensors`")


# --- evaluate ----------------------------------------------------------------


def evaluate(reloaded, images, labels):
    """The accuracy (a Python float in [0, 1]) through the reloaded 'evaluate' endpoint.

    `reloaded` is what `load_signature_tensors(export_dir, 'evaluate')`
    returned; `images` are float32 [N, 28, 28, 1], `labels` integer digits
    [N] of any integer dtype (the endpoint takes int64). Call its layer on all
    the images, with the labels as the keyword argument 'label', and read
    'accuracy': the share of the images whose most likely digit is their label.
    """
    raise NotImplementedError("exercise 3, evaluate: read its docstring, then run `kata hint 3 evaluate`")
