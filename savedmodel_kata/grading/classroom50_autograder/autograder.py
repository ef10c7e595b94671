"""Classroom 50's entrypoint for the SavedModel kata (the bundle's autograder.py).

Classroom 50's runner.py runs this with its own interpreter (the assignment's
runtime.python), no arguments, in the student's checkout, with
CLASSROOM50_BUNDLE_DIR naming this folder, inside the grade job's 15
minutes. It must leave ./result.json (classroom50/result/v1) and may leave
./release-body.md; a non-zero exit would become the runner's own error
result, so it always exits 0 and always writes a result of its own: the
kata's grade, or what stopped the grading (an unsupported Python, a failed
install, the time limit, a crash) with every function at 0.

Only the standard library is used here: the kata (TensorFlow) is installed
into a virtual environment of its own, from the bundle's harness/, and the
result is rendered there by savedmodel_kata.grading.classroom50.

For a rehearsal: KATA_SETUP_OFFLINE=1 installs nothing from the network (the
environment sees the packages of the Python running this, and the harness,
through .pth files, as gradescope_autograder/setup.sh does);
KATA_CLASSROOM50_BUDGET sets the seconds this may take.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import venv
from pathlib import Path

BUNDLE = Path(os.environ.get("CLASSROOM50_BUNDLE_DIR") or Path(__file__).resolve().parent)
CHECKOUT = Path.cwd()
RESULT = CHECKOUT / "result.json"
RELEASE_BODY = CHECKOUT / "release-body.md"
# Seconds kept back from the budget: for the kata to stop its workers and report, then render.
REPORT_MARGIN_SECONDS = 60
STOP_GRACE_SECONDS = 20
LOG_TAIL_LINES = 25


class NotGraded(Exception):
    """The grading could not happen or finish: the message says why, for the student."""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity() -> dict:
    """result.json's fields that name the submission (the runner checks commit, release and
    review but does not stamp them; it overwrites owner, assignment_type and datetime)."""
    env = os.environ.get
    sha = env("GITHUB_SHA", "")
    repository = env("GITHUB_REPOSITORY", "")
    server = env("GITHUB_SERVER_URL", "https://github.com")
    commit = env("COMMIT_URL") or (f"{server}/{repository}/commit/{sha}" if sha else "unknown")
    submission = env("SUBMISSION_TAG", "")
    return {
        "schema": "classroom50/result/v1",
        "classroom": env("CLASSROOM", ""),
        "assignment": env("ASSIGNMENT", ""),
        "owner": env("OWNER") or env("USERNAME") or env("GITHUB_ACTOR") or "unknown",
        "assignment_type": env("ASSIGNMENT_TYPE") or "individual",
        "submission": submission,
        "commit": commit,
        "release": env("RELEASE_URL") or submission or "unknown",
        "review": env("REVIEW_URL") or commit,
        "datetime": now(),
        "graded_at": now(),
    }


def not_graded(config: dict, reason: str) -> None:
    """A result of the autograder's own: every function at 0 of its points, and the reason."""
    tests = [
        {"test-name": f["test-name"], "passed": False, "score": 0, "max-score": f["max-score"]}
        for f in config.get("functions", [])
    ]
    result = dict(identity())
    result.update(
        score=0,
        tests=tests,
        kata={"grading": "not graded", "reason": reason},
    )
    result["max-score"] = sum(t["max-score"] for t in tests)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    RELEASE_BODY.write_text(
        "### The SavedModel kata: not graded\n\n"
        + reason
        + "\n\nEvery function scores 0 for this push; the job log has the details.\n"
    )
    print(f"autograder: not graded: {reason}")


def log_tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


def run_logged(command: list, log: Path, deadline: float, **options) -> int | None:
    """Run `command`, its output to the job log and to `log`; stop its whole process group
    at `deadline` (SIGTERM, then SIGKILL). Returns its exit status, None when stopped."""
    with log.open("ab") as saved:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            **options,
        )  # fmt: skip

        def copy() -> None:
            for line in iter(process.stdout.readline, b""):
                saved.write(line)
                sys.stdout.buffer.write(line)
                sys.stdout.flush()

        reader = threading.Thread(target=copy, daemon=True)
        reader.start()
        stopped = False
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stopped = True
            for sent, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 5)):
                try:
                    os.killpg(process.pid, sent)
                except OSError:
                    break
                try:
                    process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        reader.join(timeout=5)
    return None if stopped else process.returncode


def check_python(config: dict) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    supported = config["supported-pythons"]
    if version not in supported:
        raise NotGraded(
            f"This assignment runs Python {version}, for which TensorFlow 2.21 has no wheel "
            f"(it supports {', '.join(supported)}). The instructor sets the assignment's "
            f'runtime to `"runtime": {{"python": "{config["recommended-python"]}"}}` in '
            "assignments.json and publishes again; the push can then be graded again."
        )


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install(config: dict, harness: Path, work: Path, log: Path, deadline: float) -> Path:
    """The kata in a virtual environment of its own (kept for a second run in the same job:
    a file names what it was installed from); returns its Python."""
    folder = work / "venv"
    requirements = harness / config["requirements"]
    offline = os.environ.get("KATA_SETUP_OFFLINE") == "1"
    digest = hashlib.sha256(
        requirements.read_bytes()
        + (harness / "pyproject.toml").read_bytes()
        + str(harness).encode()
        + (b"offline" if offline else b"")
    ).hexdigest()
    marker = folder / "installed-from"
    if marker.is_file() and marker.read_text() == digest:
        return venv_python(folder)
    shutil.rmtree(folder, ignore_errors=True)
    started = time.monotonic()
    if offline:
        venv.create(folder, with_pip=False)
        site = subprocess.run(
            [str(venv_python(folder)), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        host = [p for p in sys.path if p.endswith("-packages")] + [sysconfig.get_paths()["purelib"]]
        Path(site, "00-kata-source.pth").write_text(f"{harness}\n")
        Path(site, "01-rehearsal-packages.pth").write_text("\n".join(dict.fromkeys(host)) + "\n")
    else:
        venv.create(folder, with_pip=True)
        pip = [str(venv_python(folder)), "-m", "pip", "install", "--disable-pip-version-check",
               "--no-input", "--progress-bar", "off"]  # fmt: skip
        for arguments in (["-r", str(requirements)], ["--no-deps", str(harness)]):
            status = run_logged(pip + arguments, log, deadline)
            if status != 0:
                raise NotGraded(
                    "The kata could not be installed for grading "
                    + ("in time" if status is None else f"(pip exited {status})")
                    + ": the instructor should check the job log."
                )
    marker.write_text(digest)
    print(f"autograder: the kata installed in {time.monotonic() - started:.0f} s")
    return venv_python(folder)


def grade(config: dict, started: float) -> None:
    budget = float(os.environ.get("KATA_CLASSROOM50_BUDGET") or config["budget-seconds"])
    deadline = started + budget
    check_python(config)
    harness = BUNDLE / config["harness"]
    # RUNNER_TEMP is the job's own (emptied between jobs), not the student's checkout.
    work = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / "savedmodel-kata"
    work.mkdir(parents=True, exist_ok=True)
    log = work / "grading.log"
    log.write_bytes(b"")
    python = install(config, harness, work, log, deadline - REPORT_MARGIN_SECONDS)
    out = work / "report"
    shutil.rmtree(out, ignore_errors=True)
    cache = work / "cache"  # fresh each job: no earlier submission's code wrote into it
    cache.mkdir(mode=0o700, exist_ok=True)
    left = deadline - time.monotonic() - REPORT_MARGIN_SECONDS
    if left < 60:
        raise NotGraded(f"Installing the kata left no time to grade ({left:.0f} s).")
    command = [str(python), "-m", "savedmodel_kata", "grade", "--submission", str(CHECKOUT),
               "--pristine", str(harness), "--out", str(out),
               "--time-budget", f"{left:.0f}"]  # fmt: skip
    for number in config["exercises"]:
        command += ["--exercise", str(number)]
    environment = dict(os.environ, KATA_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1")
    for name in ("KATA_ROOT", "PYTHONPATH"):
        environment.pop(name, None)
    status = run_logged(
        command, log, deadline - STOP_GRACE_SECONDS, cwd=str(harness), env=environment
    )
    problems = []
    if status is None:
        problems.append(
            f"the grading did not finish within {budget:.0f} s and was stopped; what it had "
            "graded counts"
        )
    elif status != 0:
        problems.append(f"the grading command exited {status}")
    report = out / "report.json"
    if not report.is_file():
        tail = log_tail(log)
        print(f"autograder: no report; the grading log ends:\n{tail}")
        raise NotGraded(
            "The grading ended without a report ("
            + ("stopped at the time limit" if status is None else f"exit status {status}")
            + "): the instructor should check the job log."
        )
    (work / "identity.json").write_text(json.dumps(identity()))
    render = [str(python), "-m", "savedmodel_kata.grading.classroom50", "--report", str(report),
              "--identity", str(work / "identity.json"), "--out", str(CHECKOUT)]  # fmt: skip
    for problem in problems:
        render += ["--problem", problem]
    # From the harness, as the grading: `python -m` imports from its working directory first,
    # and the checkout holds the student's own copy of the package.
    if run_logged(render, log, time.monotonic() + 60, cwd=str(harness), env=environment) != 0:
        raise NotGraded("The grading's report could not be turned into a result.")
    score = json.loads(RESULT.read_text())
    print(f"autograder: {score['score']} / {score['max-score']} (hundredths of a point)")


def main() -> int:
    started = time.monotonic()

    def stop(signum, frame):
        raise NotGraded("The grading was stopped from outside (the job's time limit?).")

    signal.signal(signal.SIGTERM, stop)
    config = {}
    for path in (RESULT, RELEASE_BODY):  # a student's file, folder or link of these names
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_symlink() or path.exists():  # a link is removed, never written through
            path.unlink()
    try:
        config = json.loads((BUNDLE / "bundle.json").read_text())
        grade(config, started)
    except NotGraded as reason:
        not_graded(config, str(reason))
    except BaseException as error:  # whatever happens, a result of our own, never an error
        print(f"autograder: failed: {error!r}")
        not_graded(config, f"The autograder failed ({type(error).__name__}: {error}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
