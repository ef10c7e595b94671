"""Lessons for errors students meet often, and keeping messages to a screen.

`advice_for(message)` gives the hint of every known mistake whose pattern
matches an error's text; `shorten` keeps a long error (TensorFlow's can run
to hundreds of lines) to its first lines.
"""

from __future__ import annotations

import re

MAX_MESSAGE_LINES = 12


# Errors students meet often, recognised by their text (a regular expression),
# each with what it means and the call to make instead.
KNOWN_MISTAKES = (
    (
        r"at least 1 reference to internal data in the interpreter",
        "LiteRT refuses resize_tensor_input, allocate_tensors and invoke while a signature "
        "runner of the interpreter holds its tensors, and tensor indices belong to its first "
        "subgraph, which may be another signature. Call the runner with the signature's inputs "
        "by name: loaded['runner'](**{name: images}), the name being the one key of "
        "loaded['inputs'].",
    ),
    (
        r"Invalid filepath extension for saving",
        "Keras 3's model.save writes only a .keras (or .h5) file. For a SavedModel to serve, use "
        "keras.export.ExportArchive (or model.export(export_dir)); for the file, "
        "model.save('name.keras').",
    ),
    (
        r"legacy SavedModel format is not supported by `load_model\(\)`",
        "Keras 3's load_model reads only .keras and .h5 files. Reload a SavedModel endpoint with "
        "keras.layers.TFSMLayer(export_dir, call_endpoint='serve'), or use "
        "tf.saved_model.load(export_dir).",
    ),
    (
        r"could not be found in SavedModel, with available tags",
        "The loader did not find the tags it was given. Tags are a list, ['serve'], not the "
        "string 'serve' (a string is read letter by letter), and must be the tags the export "
        "was written with.",
    ),
    (
        r"depends on a placeholder which is not an input",
        "tf.saved_model.load needs every placeholder an output uses to be an input of its "
        "signature: exercise 4 shows how.",
    ),
    (
        r"refers to an Operation, not a Tensor",
        "A tensor's name ends with its output index, ':0'. The names in a signature's "
        "TensorInfo already have it: pass info.name to get_tensor_by_name as it is.",
    ),
    (
        r"already exists, and isn't empty",
        "SavedModel exporters refuse a folder that already holds files. Write each export once, "
        "into the export_dir you were given, and do not create or fill it beforehand.",
    ),
    (
        r"is neither an attribute of the reloaded SavedModel",
        "TFSMLayer's call_endpoint must be an endpoint the export has (the error lists them): "
        "this kata's Keras exports have 'serve' and 'evaluate'.",
    ),
    (
        r"(accuracy|metric)\S*/(total|count)\S* does not exist"
        r"|uninitialized value \S*/(total|count)",
        "tf.compat.v1.metrics.* keep running counts in local variables, which need "
        "tf.compat.v1.local_variables_initializer() before the first update. The mean of "
        "tf.equal(argmax, labels) needs no variables at all.",
    ),
    (
        r"is not compatible with eager execution",
        "Placeholders exist only in graph mode. TensorFlow 2 code takes tensors (or numpy "
        "arrays) directly; graph-mode code must run inside `with tf.Graph().as_default():`.",
    ),
    (
        r"SavedModel file does not exist at",
        "There is no saved_model.pb in that folder: check the path, and that save() wrote the "
        "SavedModel into export_dir itself.",
    ),
    (
        r"Random ops require a seed to be set when determinism is enabled",
        "The harness seeds the graph it builds your model in: create the variables in that "
        "graph (the default graph while create_model runs), not in a tf.Graph() of your own.",
    ),
    (
        r"Parent directory of \S*variables/variables doesn't exist",
        "A SavedModel is more than a checkpoint: simple_save (or saved_model.Builder) writes "
        "saved_model.pb and variables/ together, into an export_dir that does not exist yet.",
    ),
    (
        r"The name '[^']*' refers to a Tensor which does not exist",
        "That tensor name is not in this graph: the exporter named its tensors otherwise. Take "
        "every name from the signature (signature_def[key].inputs / .outputs, info.name).",
    ),
    (
        r"is not an element of this graph",
        "A tensor of another graph (an earlier session's?): look tensors up in the session's "
        "own graph each time you load, never keep them from an earlier call.",
    ),
    (
        r"Cannot feed value of shape \(\d+,\) for Tensor \S+, which has shape '?\(\?, 10\)",
        "That input is one-hot, [None, 10]: turn integer digits into rows first "
        "(np.eye(10, dtype=np.float32)[labels]).",
    ),
    (
        r"You must feed a value for placeholder tensor '([^']+)'",
        "A tensor this needs depends on a placeholder that was not fed: is a signature key "
        "mapped to the wrong tensor (say 'prediction' to the label placeholder)?",
    ),
    (
        r"Can not cast TensorSpec\(shape=\(\d+, 10\), dtype=tf\.float32, name='label'\)",
        "The 'label' input takes the digits themselves, int64 [N]: not one-hot float rows.",
    ),
    (
        r"Can not cast TensorSpec\(shape=\([^)]*\), dtype=tf\.(?!float32, name='label')",
        "An endpoint takes exactly the dtypes of its input TensorSpecs (see 'inputs'): "
        "convert each argument to its dtype first (tf.constant(value, spec.dtype)).",
    ),
    (
        r"missing a required argument: '(inputs|label)'",
        "A TFSMLayer passes its first argument positionally and the others by keyword: "
        "layer(images) for 'serve', layer(images, label=labels) for 'evaluate'.",
    ),
    (
        r"expected to be a int64 tensor but is a float tensor",
        "The 'label' input takes the digits themselves, int64 [N]: not one-hot float rows.",
    ),
    (
        r"expected to be a float tensor but is a int(32|64) tensor",
        "That input is float32: if it is the graph's one-hot label placeholder, turn the "
        "digits into one-hot float32 rows first (np.eye(10, dtype=np.float32)[labels]).",
    ),
    (
        r"expected to be a float tensor but is a double tensor",
        "That input is float32, not float64: make the array float32 "
        "(np.eye(10, dtype=np.float32), or .astype(np.float32)).",
    ),
    (
        r"expected to be a uint8 tensor but is a (float|double) tensor",
        "That input takes what a client sends, raw uint8 pixels 0 to 255: pass the images as "
        "they are (tf.constant(images, tf.uint8)); the signature scales them itself.",
    ),
    (
        r"expected to be a (\w+) tensor but is a (\w+) tensor",
        "A signature takes exactly the dtypes of its input TensorSpecs (see its 'inputs'): "
        "convert each argument to its dtype first (tf.constant(value, spec.dtype)).",
    ),
    (
        r"too many positional arguments|takes 0 positional arguments",
        "A signature function takes keyword arguments only, named after its input keys: "
        "function(input=images, label=labels).",
    ),
    (
        r"got an unexpected keyword argument|missing required arguments?",
        "Call a signature with exactly its input keys as keyword arguments: they are in its "
        "structured_input_signature[1] (the 'inputs' of what load_signature_tensors returns).",
    ),
)


def advice_for(message: str) -> str:
    """The advice of every known mistake whose pattern matches `message`."""
    return "".join(
        f"\nHint: {advice}" for pattern, advice in KNOWN_MISTAKES if re.search(pattern, message)
    )


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m|\[(?:\d+;)*\d*m(?=\w)")


def shorten(text: str, lines: int = MAX_MESSAGE_LINES) -> str:
    """The first `lines` lines of `text`, indented to follow a label, without terminal colour
    codes and array dumps (Keras and TensorFlow put both in their messages), and how many
    lines were left out."""
    text = ANSI_ESCAPE.sub("", text)
    kept = []
    for line in text.strip().splitlines() or [""]:
        dump = re.search(r"numpy=|array\(\[", line)
        if dump:
            kept.append(line[: dump.start()] + "… (values left out)")
            break
        kept.append(line)
    total = len(text.strip().splitlines())
    if len(kept) > lines:
        kept = kept[:lines]
    if total > len(kept):
        kept.append(f"... ({total - len(kept)} more lines)")
    return "\n  ".join(kept)
