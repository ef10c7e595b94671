"""Exercise 5 — the serving contract: raw inputs, usable answers, version folders.

The lesson
----------
A served model meets clients, not training loops. A client has raw pixels
(uint8, 0 to 255, [28, 28], no channel axis) or a PNG file; it wants the
digit, how sure the model is, and a word it can show a person. Everything in
between (casting, scaling, decoding, looking up the word) belongs inside the
exported signatures: whatever runs in Python before or after the call stays
behind when the SavedModel leaves your machine, and every client would have
to write it again, each a little differently.

Signatures: `serving_default` takes `pixels` (uint8 [None, 28, 28]) and
`classify_png` takes `png` (string [None]: a batch of PNG files, each one
scalar string of bytes). Both answer with the same three outputs: `digit`
(int64 [None]), `probabilities` (float32 [None, 10]) and `label` (string
[None]).

An asset is a file the model needs at run time: here the human labels, one a
line. Wrap its path in `tf.saved_model.Asset` (a lookup table's
`TextFileInitializer` does it for you) and `tf.saved_model.save` copies the
file into the export's `assets/` folder; when the export is loaded, from any
path, the graph reads the copy. A path written into the graph as a string
points to your machine's file, which the server does not have.

TensorFlow Serving watches a model base folder (`digits/`) and serves the
highest integer-named folder in it (`digits/1/`, `digits/2/`, ...), ignoring
any other name. So an export goes to a new version folder, one above the
highest, and an old version is never overwritten: a server may be serving
it, and it is how you roll back. Compare version numbers as integers: as
strings, '9' sorts after '10'.

`saved_model_cli`, shipped with TensorFlow, inspects and runs an export
without writing code (the tests run both commands on your export):

    saved_model_cli show --all --dir digits/1
    saved_model_cli run --dir digits/1 --tag_set serve \\
        --signature_def serving_default --inputs pixels=three_digits.npy

Run `pytest exercises/ex05_serving.py` to check your work and
`kata hint 5` when stuck.
"""

import os

import numpy as np
import tensorflow as tf

PIXELS_SPEC = tf.TensorSpec([None, 28, 28], tf.uint8, name="pixels")
PNG_SPEC = tf.TensorSpec([None], tf.string, name="png")


# --- create_model ------------------------------------------------------------


def create_model(classifier, labels_file):
    """Wrap a trained `classifier` in a `tf.Module` that serves raw client inputs.

    `classifier` is exercise 2's kind of model: `classifier(x)` maps float32
    [N, 28, 28, 1] images in [0, 1] to float32 [N, 10] logits (the harness
    trains it). `labels_file` is the path of a UTF-8 text file with one human
    label a line: line d (counting from 0) names digit d.

    The module has two `tf.function` methods with an `input_signature`:
    * `classify_pixels(pixels)`: uint8 [None, 28, 28], values 0 to 255;
    * `classify_png(png)`: string [None], each element the bytes of one
      28x28 PNG file, grayscale or colour (decode it to one channel).
    Both preprocess inside the graph as the classifier was trained (uint8 to
    float32, divided by 255 whatever the image's or the batch's brightest
    pixel, a channel axis added) and return a dict:
    * 'digit': int64 [None], the most likely digit;
    * 'probabilities': float32 [None, 10], the softmax of the logits;
    * 'label': string [None], line `digit` of the labels file, the whole
      line (a label may hold spaces).
    The labels are read at run time from the labels file exported as an
    asset (`tf.saved_model.Asset`): the export must answer with them after
    it is moved elsewhere and the original file is deleted, and with the
    edited lines if the file in its `assets/` is edited.
    """
    raise NotImplementedError("exercise 5, create_model: read its docstring, then run `kata hint 5 create_model`")


# --- save --------------------------------------------------------------------


def save(model, base_dir):
    """Export `model` as the next version under `base_dir`; return that version's folder.

    `model` is what `create_model` returned. `base_dir` is a model base
    folder as TensorFlow Serving reads it: version folders named by integers
    ('1', '2', ... '10', ...), and maybe entries with other names, which are
    not versions. Create `base_dir` if it does not exist. Write the export
    into `base_dir/N`, N one more than the highest existing version (compared
    as integers), or 1 if there is none, and return that path as a str. Never
    change, delete or overwrite anything already in `base_dir`, and leave
    nothing else in it.

    The export has two signatures: 'serving_default' is
    `model.classify_pixels` and 'classify_png' is `model.classify_png`.
    """
    raise NotImplementedError("exercise 5, save: read its docstring, then run `kata hint 5 save`")


# --- load_signature_tensors --------------------------------------------------


def load_signature_tensors(base_dir, signature_key="serving_default"):
    """Load the version of `base_dir` a server would serve, and describe one signature.

    The served version is the integer-named folder of `base_dir` with the
    highest number, compared as integers; entries with other names are not
    versions. Raise FileNotFoundError if there is no version. Every call
    looks at the base anew: a version written since an earlier call is the
    one to serve. Load it with `tf.saved_model.load` and return a dict with:
    * 'inputs': {input key: tf.TensorSpec}, read from the signature, e.g.
      {'pixels': TensorSpec([None, 28, 28], tf.uint8)};
    * 'outputs': {output key: tf.TensorSpec}, read from the signature;
    * 'function': the signature's concrete function, `loaded.signatures[signature_key]`
      itself (call it with keywords);
    * 'loaded': the object tf.saved_model.load returned (it owns the
      variables and the table the function reads);
    * 'version': the version loaded, an int.
    """
    raise NotImplementedError("exercise 5, load_signature_tensors: read its docstring, then run `kata hint 5 load_signature_tensors`")


# --- evaluate ----------------------------------------------------------------


def evaluate(signature, images, labels):
    """Return the accuracy, a Python float in [0, 1], through a served signature.

    `signature` is what `load_signature_tensors` returned for a signature
    with one uint8 [None, 28, 28] input (its key may be anything: read it
    from `signature['inputs']`) and a 'digit' output. `images` are what a
    client sends: uint8 [N, 28, 28], 0 to 255; pass them as they are, the
    signature scales them. `labels` are N integer digits, of any integer
    dtype. Return the number of images whose 'digit' equals their label,
    divided by N.
    """
    raise NotImplementedError("exercise 5, evaluate: read its docstring, then run `kata hint 5 evaluate`")
