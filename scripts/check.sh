#!/usr/bin/env bash
# Lint, format check and types, as CI runs them before the tests (.ci/run). Fix with:
#   .venv/bin/ruff format archive tests scripts migrations && .venv/bin/ruff check --fix archive tests scripts migrations
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
PATHS=(archive tests scripts migrations setup.py)
"$BIN/ruff" format --check "${PATHS[@]}"
"$BIN/ruff" check "${PATHS[@]}"
"$BIN/mypy"   # files and strictness from pyproject.toml: archive/, strict
echo "check: format, lint and types clean" >&2
