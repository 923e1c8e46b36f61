#!/usr/bin/env bash
# Installs adql-gateway with its test dependencies into .venv and runs every check:
# ruff (lint and format), mypy --strict, and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# System tools used by the interop tests (STILTS taplint/tapquery); skipped when present.
if [ -x tests/install_system_tools.sh ]; then
  bash tests/install_system_tools.sh
fi
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
