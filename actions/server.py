"""The action server: rasa-sdk's app serving actions/, with JSON logs and the turn's request id (issue 16).

`python -m rasa_sdk --actions actions` would do, except that it logs in colour, one format of its own, and knows
nothing of the request id the API gave the turn. This launcher builds the same app (rasa_sdk.endpoint.create_app)
and adds one request middleware: it takes the id from the action call — the API sent it to Rasa in the message
metadata (api/rasa_client.py), Rasa hands the tracker's latest message to us — and binds it for the call, so
every log line of the call carries it and actions/api_client.py sends it on to the API as ``X-Request-ID``.
One access line per call names the action and how long it took.

    .venv-rasa/bin/python -m actions.server [-p 5055]         (from the repo root; SANIC_HOST as rasa-sdk reads it)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
import zlib
from typing import Any

from rasa_sdk.constants import DEFAULT_SERVER_PORT
from rasa_sdk.endpoint import create_app
from rasa_sdk.utils import number_of_sanic_workers
from sanic import Sanic
from sanic.request import Request

from actions.settings import settings
from api.json_logs import configure_logging, request_id_var

_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # as the API accepts it (api/request_id.py)
access_log = logging.getLogger("minsheng.actions.access")


def request_id_of(action_call: dict[str, Any]) -> str | None:
    """The request id the API put in the turn's message metadata, if it is there and sane."""
    tracker = action_call.get("tracker") or {}
    metadata = (tracker.get("latest_message") or {}).get("metadata") or {}
    value = metadata.get("request_id") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and _SANE.match(value) else None


def _action_call(request: Request) -> dict[str, Any]:
    try:
        if request.headers.get("Content-Encoding") == "deflate":  # as rasa-sdk's webhook reads it
            return json.loads(zlib.decompress(request.body))
        return request.json or {}
    except (ValueError, zlib.error):
        return {}  # the webhook itself answers the malformed body


def build_app(actions_package: str = "actions") -> Sanic:
    app = create_app(actions_package, cors_origins=None)  # rasa-sdk's CLI default: no CORS

    @app.on_request
    async def bind_request_id(request: Request) -> None:
        request.ctx.started = time.perf_counter()
        call = _action_call(request) if request.method == "POST" and request.path == "/webhook" else {}
        request.ctx.action = call.get("next_action")
        header = request.headers.get("x-request-id")
        request_id_var.set(request_id_of(call) or (header if header and _SANE.match(header) else None))

    @app.on_response
    async def log_call(request: Request, response) -> None:
        if request.path == "/health":
            return  # probes every few seconds
        access_log.info(
            "%s %s %s%s",
            request.method,
            request.path,
            response.status,
            f" {request.ctx.action}" if getattr(request.ctx, "action", None) else "",
            extra={
                "action": getattr(request.ctx, "action", None),
                "status": response.status,
                "duration_ms": round((time.perf_counter() - getattr(request.ctx, "started", 0.0)) * 1000, 1),
            },
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Minsheng action server (rasa-sdk)")
    parser.add_argument("-p", "--port", type=int, default=DEFAULT_SERVER_PORT)
    parser.add_argument("--actions", default="actions", help="package with the actions")
    args = parser.parse_args()
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    app = build_app(args.actions)
    host = os.environ.get("SANIC_HOST", "0.0.0.0")  # rasa-sdk's own variable, read as rasa-sdk reads it
    access_log.info("action server on %s:%s", host, args.port)
    app.run(host, args.port, workers=number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main()
