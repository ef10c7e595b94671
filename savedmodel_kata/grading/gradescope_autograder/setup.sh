#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; the zip's files are
# in /autograder/source. The kata gets a virtual environment of its own (Gradescope's own
# python3 stays untouched, and Ubuntu 24.04's PEP 668 is no obstacle), pinned to the versions
# in requirements.txt, and the reference models are trained into the image once, so that a
# submission is not slowed by training them.
#
# For a local rehearsal: AUTOGRADER_ROOT moves /autograder; KATA_SETUP_OFFLINE=1 installs
# nothing from the network: the environment sees the packages of the Python that runs the
# rehearsal (KATA_SETUP_PYTHON, default python3; a virtual environment's too) and the kata's
# source folder, through .pth files, so no build step (and no setuptools or wheel) is needed.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
source_dir="$root/source"
venv="$root/venv"

if [ "${KATA_SETUP_OFFLINE:-}" = "1" ]; then
    host_python="${KATA_SETUP_PYTHON:-python3}"
    "$host_python" -m venv --without-pip "$venv"
    site_dir="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$source_dir" > "$site_dir/00-kata-source.pth"
    "$host_python" -c 'import site, sys; print("\n".join(p for p in sys.path if p.endswith("-packages")))' \
        > "$site_dir/01-rehearsal-packages.pth"
else
    if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            python3-venv python3-pip
    fi
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$source_dir/savedmodel_kata/grading/gradescope_autograder/requirements.txt"
    "$venv/bin/python" -m pip install --quiet --no-deps "$source_dir"
fi

# Train the reference models into the image's cache (about a minute).
KATA_CACHE_DIR="$root/cache" KATA_ROOT="$source_dir" "$venv/bin/python" -m savedmodel_kata dev warm-cache
# Readable by the grading, writable by nobody else: no submission can change what the
# reference reads (a cache another user may write to is not used).
chmod -R go-w,a+rX "$root/cache"
