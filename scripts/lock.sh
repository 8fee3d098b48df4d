#!/usr/bin/env bash
# Pins every dependency, with hashes, from pyproject.toml:
#   requirements.lock      what the image installs (Dockerfile)
#   requirements-dev.lock  what `make install` installs (the dev extra too)
#
#   scripts/lock.sh             add what pyproject.toml gained; keep every other pin
#   scripts/lock.sh --upgrade   move every pin to the newest release that fits
#
# pip-tools resolves against the package index with pip (no other download); run it
# after changing dependencies in pyproject.toml, and commit both files. `make install`
# fails (pip check) when pyproject.toml asks for something the lock lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
[[ -x "$PYTHON" ]] || { echo "lock: $PYTHON missing; run make install first" >&2; exit 1; }
"$PYTHON" -m pip install -q "pip-tools>=7.4"

compile() {
  # --allow-unsafe pins pip/setuptools too: --require-hashes refuses any unpinned package.
  "$PYTHON" -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-trusted-host --no-emit-find-links "$@" pyproject.toml
}
compile --output-file requirements.lock "$@"
compile --extra dev --output-file requirements-dev.lock "$@"
echo "lock: wrote requirements.lock and requirements-dev.lock" >&2
