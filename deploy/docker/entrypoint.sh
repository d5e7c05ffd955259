#!/bin/sh
# Shared entrypoint of the Minsheng images: refuse to start with a missing secret, a placeholder from
# deploy/k8s/secret.yaml or deploy/.env.example ("CHANGE-ME…"), or the development defaults that
# knowledge/settings.py and actions/settings.py fall back to. Then run the command unchanged.
# Which variables are required is set per image in MINSHENG_REQUIRED_SECRETS (space separated).
set -eu

for name in ${MINSHENG_REQUIRED_SECRETS:-}; do
  value=""
  eval "value=\${$name:-}"
  case "$value" in
    "")
      echo "entrypoint: $name is not set; refusing to start" >&2; exit 64 ;;
    CHANGE-ME*|minsheng-local-token|minsheng-internal-dev-token)
      echo "entrypoint: $name still has a placeholder/development value; set a real secret" >&2; exit 64 ;;
  esac
done

exec "$@"
