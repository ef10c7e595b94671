"""Exercise 7 — to the edge: a SavedModel's signatures through LiteRT.

The lesson
----------
A phone or a microcontroller runs no TensorFlow. It runs a LiteRT (formerly
TensorFlow Lite) flatbuffer in the LiteRT interpreter, and this is where a
model gets lost a second time.

Convert from the SavedModel. `tf.lite.TFLiteConverter.from_saved_model(dir)`
keeps every signature: its key ('serving_default', 'evaluate') and its input
and output names ('input', 'label', 'prediction', 'accuracy'), listed again
by `interpreter.get_signature_list()`. Converting a concrete function loses
the keys; `from_keras_model` fails on many Keras 3 models (tensorflow#63867,
keras#18430). Keras 3.13+ also has `model.export(path, format="litert")`,
but this exercise's `save` is given the SavedModel folder, the one artefact
that carries the signatures. Convert to builtin ops only
(`tf.lite.OpsSet.TFLITE_BUILTINS`): a model that needs Select TF ("Flex")
ops converts, then fails at run time in the standalone interpreter
(LiteRT#6458); better that conversion fails, loudly, on your desk.

Run a signature by its key, its tensors by name. The maintained interpreter
is `ai_edge_litert.interpreter.Interpreter` (the `ai-edge-litert` package,
which needs no TensorFlow; `tf.lite.Interpreter` warns it is scheduled for
deletion, and `tflite-runtime` stopped at 2.14).
`interpreter.get_signature_runner(key)` runs one signature by its input
names; tensor indices (`get_input_details()[0]['index']`) belong to the
interpreter's first subgraph, which may be another signature, and change
with every conversion. A runner resizes its inputs to the batch it is given
(the signature's batch dimension is dynamic: -1 in `shape_signature`), so
any batch size runs; `interpreter.resize_tensor_input` is for the first
subgraph only, and refused while a signature runner exists.

Quantization trades size for accuracy: measure both. Dynamic-range
quantization (`converter.optimizations = [tf.lite.Optimize.DEFAULT]`, no
representative dataset) stores large weights as int8 and keeps float
inputs and outputs. LiteRT's documentation marks quantizing in the converter
deprecated in favour of a separate step (`litert-quantizer`); it still works
in TensorFlow 2.21, which this kata pins, because `tf.lite` is to leave
future TensorFlow packages (tensorflow#102071).

Your module is imported on the device: import TensorFlow and Keras inside
the functions that run on your desk (create_model, save), never at the top.

Run `pytest exercises/ex07_litert.py` to check your work and
`kata hint 7` when stuck.
"""

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

NUM_CLASSES = 10


# --- create_model ------------------------------------------------------------


def create_model():
    """Return exercise 3's CNN as a new Keras 3 model giving logits.

    Input float32 [batch, 28, 28, 1], output float32 [batch, 10] logits (no
    softmax). The tutorial's layers and no others, 2,830 parameters: Conv2D
    8 (3x3), 16 (3x3) and 4 (1x1), each 'same' padding and ReLU and followed
    by MaxPooling2D(2); Flatten; Dense 32 (ReLU); Dense 10. Each call
    returns a new, untrained model: the harness compiles and trains it, and
    exports it as a SavedModel for `save`. Import Keras inside this function:
    the module is imported where there is no TensorFlow.
    """
    raise NotImplementedError("exercise 7, create_model: read its docstring, then run `kata hint 7 create_model`")


# --- save --------------------------------------------------------------------


def save(saved_model_dir, tflite_path, quantize=False):
    """Convert the SavedModel in `saved_model_dir` to a LiteRT flatbuffer at `tflite_path`.

    * Every signature of the SavedModel is kept, under its key, with its
      input and output names, dtypes and shapes (a batch dimension of
      None stays dynamic): whatever the SavedModel's keys and names are.
    * Builtin ops only: a SavedModel that needs an op LiteRT has no builtin
      for makes save raise (never Select TF / Flex ops, which the
      standalone interpreter cannot run).
    * quantize=False: float32 throughout, the SavedModel's outputs to
      within float rounding. quantize=True: dynamic-range quantization
      (int8 weights; inputs, outputs and activations stay float32; no
      representative dataset, no float16).
    * Writes the flatbuffer's bytes to `tflite_path`, replacing any file
      there; returns None. Import TensorFlow inside this function.
    """
    raise NotImplementedError("exercise 7, save: read its docstring, then run `kata hint 7 save`")


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(tflite_path, signature_key="serving_default"):
    """Load the flatbuffer at `tflite_path` in LiteRT and describe one signature.

    Return a dict with:
    * 'interpreter': an `ai_edge_litert.interpreter.Interpreter` of the file
      (the maintained interpreter; never tf.lite.Interpreter)
    * 'runner': interpreter.get_signature_runner(signature_key): called
      with the signature's inputs by name (runner(input=images)) it returns
      {output name: numpy array}, for any batch size
    * 'inputs' and 'outputs': {name: (numpy dtype, shape tuple)} of that
      signature, as the flatbuffer declares them (-1 for a dynamic batch)
    Raise KeyError if the flatbuffer has no signature `signature_key`. Every
    call reads the file anew; uses no TensorFlow (only ai_edge_litert and
    numpy).
    """
    raise NotImplementedError("exercise 7, load_signature_tensors: read its docstring, then run `kata hint 7 load_signature_tensors`")


# --- evaluate ----------------------------------------------------------------


def evaluate(loaded, images, labels):
    """The accuracy (a Python float in [0, 1]) of the flatbuffer's 'serving_default' signature.

    `loaded` is what `load_signature_tensors(tflite_path, 'serving_default')`
    returned: its runner maps the input (its one name in loaded['inputs'])
    to 'prediction', softmax probabilities [N, 10]. `images` are float32
    [N, 28, 28, 1] for any N, `labels` integer digits [N] of any integer
    dtype. The share of all the images whose most likely digit is their
    label, counted exactly (correct / N). Uses no TensorFlow.
    """
    raise NotImplementedError("exercise 7, evaluate: read its docstring, then run `kata hint 7 evaluate`")
