"""A request id for every HTTP request (issue 16), so one resident's turn can be followed through the logs of
the API replica, the Rasa server and the action server, and the API's own /v1/answer call it caused.

Taken from ``X-Request-ID`` when the caller sent a sane one (nginx and the Ingress controller set it at the edge;
the action server passes the turn's id on), else generated. It is bound to the request's log lines
(api/json_logs.py), sent on to Rasa by api/rasa_client.py (header and message metadata), echoed in the response
header, and ends with one access line per request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.json_logs import request_id_var

HEADER = "X-Request-ID"
# Anything else (too long, spaces, control characters) is replaced: the id goes into headers and log lines.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Probes and scrapes every few seconds would drown the access log; they are logged at DEBUG.
_QUIET = frozenset({"/healthz", "/metrics", "/lb-health"})

access_log = logging.getLogger("minsheng.access")


def request_id_from(value: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    return value if value and _SANE.match(value) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Outermost middleware: binds the id before anything else runs and logs the request once it is answered."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(HEADER.lower().encode())
        request_id = request_id_from(sent.decode("latin-1") if sent else None)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, sending)
        except BaseException:
            failed = True  # the error handler outside us answers; api/errors.py adds the header there
            raise
        finally:
            path = scope.get("path", "")
            method = scope.get("method", "GET")
            access_log.log(
                logging.DEBUG if path in _QUIET else logging.INFO,
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "route": getattr(scope.get("route"), "path", None),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            # Left bound when the request failed: the 500 handler and uvicorn's traceback line, which run after
            # us in the same task, then carry the id too.
            if not failed:
                request_id_var.reset(token)
