"""A class graded on a Dask cluster: `kata grade --class FOLDER --out DIR --cluster ADDRESS`.

The class's tasks (an exercise of one student) are the ones batch.py gives
its local engine; here each is a Dask task. Every Dask worker runs the kata's
own engine (grader.Engine): one grading process per worker thread, kept for
the next task of the same student (a student's code never shares a process
with another student's tests), a student's os._exit or the memory limit
costing only that student, exactly as on one machine.

Workers may be on other machines and share no folder with the client: the
pristine harness, as staged for the class, is shipped once, as bytes, in a
worker plugin that writes it into a workspace of the worker's own; each task
carries its students' exercise files. The findings come back with the
worker's paths already cleaned away (grader.clean), so the client turns them
into the same reports and gradebook, whichever worker graded them.

`--cluster local:N` starts a local cluster of N one-thread workers;
`--cluster tcp://host:8786` uses a running scheduler (docs/instructors.md).
Dask is an optional extra: `pip install 'savedmodel-kata[cluster]'`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

from savedmodel_kata.errors import KataError
from savedmodel_kata.grading.grader import SUBMISSION_TARGET, Engine, Target

try:
    import distributed
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as missing:  # the optional extra
    raise KataError(
        "--cluster needs Dask distributed, an optional extra: "
        "pip install 'savedmodel-kata[cluster]'"
    ) from missing

LOCAL = "local:"
SCHEDULER_WAIT_SECONDS = 20  # a scheduler that is up answers at once
WORKERS_WAIT_SECONDS = 60  # a running cluster's first worker may still be starting
PACKAGE = "savedmodel-kata"

Task = tuple[int, tuple[str, ...]]  # an exercise's number, its students' targets


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: another thread's session may be importing the file."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    partial.write_bytes(data)
    os.replace(partial, path)


class Workspace(WorkerPlugin):
    """On each Dask worker: the harness written once into a workspace of its own, and the
    engines (one grading process each) that grade there, kept from task to task."""

    def __init__(self, harness: dict[str, bytes], time_limit: float):
        self.harness, self.time_limit = harness, time_limit

    def setup(self, worker) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kata-class-", dir=worker.local_directory))
        self.root = self.root.resolve()  # the path grader.clean() takes out of messages
        for relative, data in self.harness.items():
            _write(self.root / relative, data)
        (self.root / SUBMISSION_TARGET).mkdir(exist_ok=True)  # empty, as workspace.build leaves it
        self.harness = {}
        self.lock = threading.Lock()
        self.engines: list[Engine] = []
        self.idle: list[Engine] = []

    def grade(self, exercises: list[int], files: dict[str, dict[str, bytes]]) -> dict[str, Target]:
        for target, named in files.items():
            for name, data in named.items():
                _write(self.root / target / name, data)
        with self.lock:
            if self.idle:
                engine = self.idle.pop()
            else:
                engine = Engine(self.root, 1, self.time_limit, time_budget=None)
                self.engines.append(engine)
        try:
            return engine.run([(number, tuple(files)) for number in exercises], keep_workers=True)
        finally:
            with self.lock:
                if not engine.closed:
                    self.idle.append(engine)

    def teardown(self, worker) -> None:
        for engine in self.engines:
            with contextlib.suppress(Exception):  # the worker is going: end what can be ended
                engine.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _grade_task(plugin: str, exercises: list[int], files: dict[str, dict[str, bytes]]):
    """A Dask task: a student's exercises, one after another by this worker's engine (one
    grading process, one TensorFlow import, for the student)."""
    return distributed.get_worker().plugins[plugin].grade(exercises, files)


def _installed_version() -> str:
    return metadata.version(PACKAGE)


@contextlib.contextmanager
def _client(address: str) -> Iterator[distributed.Client]:
    if address.startswith(LOCAL):
        count = address.removeprefix(LOCAL)
        if not count.isdigit() or int(count) < 1:
            raise KataError(f"--cluster {address}: local:N needs a number of workers, e.g. local:2")
        with (
            distributed.LocalCluster(
                n_workers=int(count), threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(address, timeout=SCHEDULER_WAIT_SECONDS)
    except (OSError, TimeoutError, ValueError) as error:
        raise KataError(f"--cluster {address}: no Dask scheduler answered ({error})") from error
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKERS_WAIT_SECONDS)
        except TimeoutError as error:
            raise KataError(
                f"--cluster {address}: no worker joined in {WORKERS_WAIT_SECONDS} s "
                "(start one on each machine: `dask worker ADDRESS --nthreads 1`)"
            ) from error
        yield client


def _check_versions(client: distributed.Client) -> None:
    mine = _installed_version()
    theirs = client.run(_installed_version)
    wrong = sorted(
        f"{worker} has {version}" for worker, version in theirs.items() if version != mine
    )
    if wrong:
        raise KataError(
            f"the workers need {PACKAGE} {mine}, as installed here: " + "; ".join(wrong)
        )


def _merged(parts: list[Target]) -> Target:
    found = Target()
    for part in parts:
        found.collected.update(part.collected)
        found.finished.update(part.finished)
        for exercise, problems in part.problems.items():
            found.problems.setdefault(exercise, []).extend(problems)
        found.dying.update(part.dying)
        found.ended |= part.ended
    return found


def grade(
    address: str,
    root: Path,
    harness: dict[str, bytes],
    tasks: list[Task],
    *,
    time_limit: float,
    on_done: Callable[[int, tuple[str, ...], dict[str, Target]], None] | None = None,
) -> dict[str, Target]:
    """Every task graded on the cluster at `address` (or `local:N`); the targets' findings.

    `harness`: the workspace's files (path: bytes) but the students'; their files are read
    from `root`/<target>/. `on_done(exercise, targets, findings)` as each task comes back;
    a target's findings are merged in the tasks' order, whatever order they finish in.
    """
    with _client(address) as client:
        _check_versions(client)
        plugin = f"{PACKAGE}-{uuid.uuid4().hex}"  # a run of its own: a fresh workspace
        client.register_plugin(Workspace(harness, time_limit), name=plugin)
        try:
            # The tasks of the same students go as one Dask task, so one worker (one
            # TensorFlow import) grades them: a grading process never serves two students.
            groups: dict[tuple[str, ...], list[int]] = {}
            for index, (_, targets) in enumerate(tasks):
                groups.setdefault(targets, []).append(index)
            futures = {}
            for targets, indices in groups.items():
                files = {
                    target: {path.name: path.read_bytes() for path in (root / target).iterdir()}
                    for target in targets
                }
                numbers = [tasks[i][0] for i in indices]
                future = client.submit(_grade_task, plugin, numbers, files, pure=False)
                futures[future] = (targets, indices)
            parts: dict[str, dict[int, Target]] = {}
            for future in distributed.as_completed(futures):
                targets, indices = futures[future]
                try:
                    found = future.result()
                except distributed.KilledWorker as error:
                    raise KataError(
                        f"{', '.join(targets)}: the Dask workers grading them died ({error}); "
                        "the finished students' reports are written, run again to grade the rest"
                    ) from error
                for target, part in found.items():
                    parts.setdefault(target, {})[indices[0]] = part
                findings = {
                    target: _merged([parts[target][i] for i in sorted(parts[target])])
                    for target in targets
                }
                if on_done:
                    for index in indices:
                        on_done(tasks[index][0], targets, findings)
        finally:
            with contextlib.suppress(Exception):  # a cluster already gone has nothing to end
                client.unregister_worker_plugin(plugin)
    return {target: _merged([p[i] for i in sorted(p)]) for target, p in parts.items()}
