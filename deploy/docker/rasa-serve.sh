#!/bin/sh
# Default command of the Rasa image: the same `rasa run` as api/stack.py (through launch_rasa.py, which memoises
# jsonschema validation and event-type lookup), with the same one-thread TensorFlow pools, bound to all interfaces.
# The token comes from the environment (never from the command line of a compose file or pod spec);
# REDIS_PASSWORD is substituted by Rasa itself into the endpoints file (${REDIS_PASSWORD}), and may be
# empty for a Redis without a password, but it must be defined.
set -eu
: "${MINSHENG_RASA_TOKEN:?MINSHENG_RASA_TOKEN must be set}"
export REDIS_PASSWORD="${REDIS_PASSWORD-}"
export TF_INTER_OP_PARALLELISM_THREADS="${TF_INTER_OP_PARALLELISM_THREADS:-1}"
export TF_INTRA_OP_PARALLELISM_THREADS="${TF_INTRA_OP_PARALLELISM_THREADS:-1}"

model="${RASA_SERVE_MODEL:-models/minsheng.tar.gz}"
if [ ! -f "$model" ]; then
  echo "rasa-serve: no model at $PWD/$model (build with TRAIN_MODEL=1 or mount bot/models/minsheng.tar.gz there)" >&2
  exit 66
fi

exec python launch_rasa.py run --enable-api -i 0.0.0.0 -p "${RASA_SERVE_PORT:-5005}" \
  --auth-token "$MINSHENG_RASA_TOKEN" \
  --model "$model" \
  --endpoints "${RASA_SERVE_ENDPOINTS:-/etc/rasa/endpoints.yml}" \
  --credentials credentials.yml \
  "$@"
