#!/usr/bin/env bash
# README command 2: set up what is missing, then run the whole test suite (real model, Chroma, Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check knowledge api tests scripts
.venv/bin/minsheng catalogue validate
.venv/bin/python -m pytest -p no:cacheprovider "$@"
