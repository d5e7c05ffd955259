# syntax=docker/dockerfile:1.7
# Minsheng action server: rasa-sdk serving actions/ on :5055 (`rasa run actions` without Rasa itself).
#   docker build -f deploy/docker/actions.Dockerfile -t minsheng-actions .      (from the repo root)
# actions/settings.py uses pydantic 1's BaseSettings (the Rasa venv pins pydantic 1.10); rasa-sdk does
# not depend on pydantic, so it is installed explicitly.

ARG PYTHON_IMAGE=python:3.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG RASA_SDK_VERSION=3.6.2
RUN pip install "rasa-sdk==${RASA_SDK_VERSION}" "aiohttp>=3.9,<4" "pydantic>=1.10,<2" \
 && pip check

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="minsheng-actions" \
      org.opencontainers.image.description="民生服务助手 Minsheng Rasa action server"
RUN groupadd --system --gid 10001 minsheng \
 && useradd --system --uid 10001 --gid minsheng --home-dir /home/minsheng --create-home \
            --shell /usr/sbin/nologin minsheng
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY actions ./actions
# JSON logs with the request id, personal data masked (actions/server.py): two stdlib-only modules of the API.
COPY api/__init__.py api/json_logs.py ./api/
COPY knowledge/__init__.py knowledge/privacy.py ./knowledge/
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/entrypoint.sh
COPY --chmod=0644 deploy/docker/healthcheck.py /usr/local/bin/healthcheck.py

# MINSHENG_API_URL and MINSHENG_INTERNAL_TOKEN come from the deployment (compose / k8s).
# MINSHENG_REQUIRED_SECRETS names variables, it holds no secret.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SANIC_HOST=0.0.0.0 \
    MINSHENG_REQUIRED_SECRETS="MINSHENG_INTERNAL_TOKEN"

USER 10001:10001
EXPOSE 5055
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "/usr/local/bin/healthcheck.py", "http://127.0.0.1:5055/health", "--expect", "status=ok"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
# rasa-sdk's app serving actions/ (`python -m rasa_sdk --actions actions -p 5055`) with JSON logs and the
# turn's request id: actions/server.py.
CMD ["python", "-m", "actions.server", "-p", "5055"]
