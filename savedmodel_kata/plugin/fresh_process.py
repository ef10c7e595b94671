"""Reloading an export the way a server would: in another Python process, knowing nothing.

The process is started once per test run (TensorFlow's import is the cost)
and serves every reload of the run. It runs isolated (`python -I`), in an
empty folder, with a script that imports only TensorFlow and NumPy: the
student's and the reference's modules cannot be imported there, so an export
that needs them (or anything else of its surroundings) fails. Exports reach
it after being moved to another path (`relocate`), so an export that points
at where it was written fails too.

A request names the export, the API to load it with (`tf1`: a session and
`loader.load`; `tf2`: `tf.saved_model.load`), a signature, the inputs to feed
(saved as .npy files) and the outputs to fetch; the answer is an .npz file
of those outputs, or the error the process met.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import numpy as np

from savedmodel_kata.kinds.base import Export

REPLY_TIMEOUT_SECONDS = 300

SERVER = r"""
import gc, json, os, sys, traceback
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
tf.get_logger().setLevel("ERROR")
gc.freeze()  # TensorFlow's own objects: out of every later garbage collection

def tf1(export, signature, feeds, fetch):
    session = tf.compat.v1.Session(graph=tf.Graph())
    with session, session.graph.as_default():
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], export)
        found = meta_graph.signature_def[signature]
        tensor = session.graph.get_tensor_by_name
        # A session may feed any tensor: the tutorial's labels are listed as an output.
        named = {**found.outputs, **found.inputs}
        feed = {tensor(named[key].name): value for key, value in feeds.items()}
        return session.run({key: tensor(found.outputs[key].name) for key in fetch}, feed)

def tf2(export, signature, feeds, fetch):
    function = tf.saved_model.load(export).signatures[signature]
    outputs = function(**{key: tf.constant(value) for key, value in feeds.items()})
    return {key: outputs[key].numpy() for key in fetch}

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    try:
        feeds = {key: np.load(path) for key, path in request["feeds"].items()}
        load = {"tf1": tf1, "tf2": tf2}[request["api"]]
        values = load(request["export"], request["signature"], feeds, request["fetch"])
        values = {key: np.asarray(value) for key, value in values.items()}
        # Strings come back as object arrays, which only a pickle holds: bytes hold them too.
        values = {k: v.astype(bytes) if v.dtype == object else v for k, v in values.items()}
        np.savez(request["out"], **values)
        reply = {"ok": True}
    except Exception as error:
        lines = str(error).strip().splitlines() or [""]
        reply = {"error": f"{type(error).__name__}: " + "\n".join(lines[:8])}
    print(json.dumps(reply), flush=True)
"""


def _forward_lines(stream: IO[str], replies: queue.Queue[str]) -> None:
    for line in stream:
        replies.put(line)
    replies.put("")  # the process ended


class FreshProcessError(AssertionError):
    """The export could not be reloaded or run in the fresh process; the message says how."""


class FreshProcess:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kata-fresh-"))
        (self.folder / "reload_server.py").write_text(SERVER)
        self.process: subprocess.Popen[str] | None = None
        self.ready = False
        self.replies: queue.Queue[str] = queue.Queue()
        self.requests = 0

    def _start(self) -> subprocess.Popen[str]:
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("KATA_", "PYTHON"))
        }
        return subprocess.Popen(
            [sys.executable, "-I", str(self.folder / "reload_server.py")],
            cwd=self.folder,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> subprocess.Popen[str]:
        """Start the process now (its TensorFlow import overlaps whatever runs next)."""
        if self.process is None or not self.running():
            self.process = self._start()
            self.ready = False  # until its first line says it imported TensorFlow
            self.replies = queue.Queue()
            # A reader thread: a hung process costs a timeout, not the run (and, unlike
            # select, it works on every platform).
            threading.Thread(
                target=_forward_lines, args=(self.process.stdout, self.replies), daemon=True
            ).start()
        return self.process

    def _reply(self) -> dict[str, Any]:
        try:
            line = self.replies.get(timeout=REPLY_TIMEOUT_SECONDS)
        except queue.Empty:
            line = ""
        if not line:
            self.close()
            raise FreshProcessError(
                "the fresh Python process reloading the export died or hung "
                f"(no answer within {REPLY_TIMEOUT_SECONDS} s)"
            )
        return json.loads(line)

    def request_folder(self) -> Path:
        """A new folder for one request's files (the caller removes it)."""
        self.requests += 1
        work = self.folder / f"request-{self.requests}"
        work.mkdir()
        return work

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request, a JSON line, once the process has said it is ready; its reply."""
        process = self.start()
        if not self.ready:
            self.ready = self._reply().get("ready", False)
        assert process.stdin is not None  # started with stdin=PIPE
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        return self._reply()

    def run(
        self,
        export_dir: Path,
        api: str,
        signature: str,
        feeds: dict[str, np.ndarray],
        fetch: list[str],
    ) -> dict[str, np.ndarray]:
        """The outputs `fetch` of `signature`, fed `feeds`, in the fresh process."""
        work = self.request_folder()
        paths = {}
        for key, value in feeds.items():
            paths[key] = str(work / f"{key}.npy")
            np.save(paths[key], value)
        outputs_file = work / "outputs.npz"
        request = {
            "export": str(export_dir),
            "api": api,
            "signature": signature,
            "feeds": paths,
            "fetch": list(fetch),
            "out": str(outputs_file),
        }
        try:
            reply = self.ask(request)
            if "error" in reply:
                how = "a TF1 session" if api == "tf1" else "tf.saved_model.load"
                raise FreshProcessError(
                    f"reloaded with {how} in a fresh Python process (the export moved to another "
                    f"path, your code not importable), signature {signature!r} failed:\n"
                    f"  {reply['error']}"
                )
            with np.load(outputs_file) as outputs:
                return {key: outputs[key] for key in fetch}
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def relocate(export: Export, destination: Path) -> Export:
    """Move an export (and its .keras file) under `destination`; where it was written is gone."""
    destination.mkdir(parents=True, exist_ok=True)
    directory = destination / export.directory.name
    shutil.move(str(export.directory), directory)
    keras_file = None
    if export.keras_file is not None:
        keras_file = destination / export.keras_file.name  # where it is, if it was written
        if export.keras_file.exists():
            shutil.move(str(export.keras_file), keras_file)
    return Export(directory, keras_file)
