#!/usr/bin/env bash
# README command 1: set up what is missing, build the default knowledge base on first run, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/minsheng up "$@"
