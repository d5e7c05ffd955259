#!/usr/bin/env bash
# README command 2: set up what is missing, then run the whole test suite (real model, Chroma, Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# Browser tests: Debian's Chromium (Playwright drives it; no browser download) and axe-core from npm.
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$missing fonts-noto-cjk"  # Chinese glyphs in screenshots
if [ -n "$missing" ]; then
  echo "[setup] installing$missing"
  # shellcheck disable=SC2086
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null
fi
if [ -f web/package.json ] && [ ! -f web/node_modules/axe-core/axe.min.js ]; then
  (cd web && npm install --no-audit --no-fund --silent)
fi
.venv/bin/ruff check knowledge api actions tests scripts
.venv/bin/ruff format --check knowledge api actions tests scripts
.venv/bin/minsheng catalogue validate
.venv/bin/python -m pytest -p no:cacheprovider "$@"
