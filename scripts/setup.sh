#!/usr/bin/env bash
# Create .venv and install jupyter-apolo (with its labextension build) plus the test extras.
# Idempotent: a second run only re-checks. Needs python3 (>=3.10), node (>=20.19) and git.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PATH="$PWD/.venv/bin:$PATH"  # the labextension build calls jupyter-builder from the venv
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# jupyterlab first: hatch-jupyter-builder runs its jlpm to build the labextension.
.venv/bin/python -m pip install -q "jupyterlab>=4.2,<5" hatchling hatch-jupyter-builder hatch-nodejs-version editables
.venv/bin/python -m pip install -q --no-build-isolation -e ".[test]"
.venv/bin/jupyter labextension list 2>&1 | grep -q "jupyter-apolo.*enabled.*OK" \
  || { echo "setup: the jupyter-apolo labextension is not enabled" >&2; .venv/bin/jupyter labextension list >&2; exit 1; }
