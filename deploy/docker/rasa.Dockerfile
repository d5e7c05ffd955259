# syntax=docker/dockerfile:1.7
# Minsheng dialogue server: Rasa 3.6.21 (Python 3.10) serving bot/ on :5005.
#   docker build -f deploy/docker/rasa.Dockerfile -t minsheng-rasa .                   (trains, 2–3 min)
#   docker build -f deploy/docker/rasa.Dockerfile --build-arg TRAIN_MODEL=0 -t minsheng-rasa .
#     → no model inside; mount one at /app/bot/models/minsheng.tar.gz (e.g. the one `minsheng up`
#       trained into bot/models/), or set RASA_SERVE_MODEL to another path.
# The endpoints file (Redis tracker + lock store, action server) is mounted at /etc/rasa/endpoints.yml:
# deploy/rasa/endpoints.yml for compose, the rasa-endpoints ConfigMap in Kubernetes.

ARG PYTHON_IMAGE=python:3.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Resolved against PyPI for Python 3.10 (pip --dry-run): 165 packages, all wheels except four pure-Python
# sdists (docopt, jieba, mattermostwrapper, randomname). The compiler is insurance against a transitive
# pin losing its cp310 wheel; it stays in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG RASA_VERSION=3.6.21
RUN pip install "rasa==${RASA_VERSION}" "jieba==0.42.1"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="minsheng-rasa" \
      org.opencontainers.image.description="民生服务助手 Minsheng Rasa server (REST channel, Redis tracker/lock store)"
RUN groupadd --system --gid 10001 rasa \
 && useradd --system --uid 10001 --gid rasa --home-dir /home/rasa --create-home --shell /usr/sbin/nologin rasa \
 && mkdir -p /app/bot/models /etc/rasa \
 && chown -R rasa:rasa /app/bot
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/entrypoint.sh
COPY --chmod=0755 deploy/docker/rasa-serve.sh /usr/local/bin/rasa-serve
COPY --chmod=0644 deploy/docker/healthcheck.py /usr/local/bin/healthcheck.py
# A default endpoints file so the image starts on its own next to hosts named redis and actions;
# deployments mount theirs over it.
COPY --chmod=0644 deploy/rasa/endpoints.yml /etc/rasa/endpoints.yml

WORKDIR /app/bot
COPY --chown=rasa:rasa bot/config.yml bot/domain.yml bot/credentials.yml bot/launch_rasa.py ./
COPY --chown=rasa:rasa bot/data ./data
COPY --chown=rasa:rasa bot/jieba ./jieba

# MINSHENG_REQUIRED_SECRETS names variables, it holds no secret.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLCONFIGDIR=/tmp/matplotlib \
    MINSHENG_REQUIRED_SECRETS="MINSHENG_RASA_TOKEN"
USER 10001:10001

# Train at build time (same command as api/stack.py: fixed name models/minsheng.tar.gz), drop the
# training cache in the same layer.
ARG TRAIN_MODEL=1
RUN if [ "$TRAIN_MODEL" = "1" ]; then \
      rasa train --fixed-model-name minsheng --out models && rm -rf .rasa && ls -l models/minsheng.tar.gz; \
    else \
      echo "TRAIN_MODEL=$TRAIN_MODEL: no model baked in; mount /app/bot/models/minsheng.tar.gz"; \
    fi

EXPOSE 5005
# Rasa listens only once the model is loaded (≈60 s): /status (token required) answers 200 then.
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD ["python", "/usr/local/bin/healthcheck.py", "http://127.0.0.1:5005/status?token=${MINSHENG_RASA_TOKEN}"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["rasa-serve"]
