"""Structured logs (issue 16): one JSON object per line, with the request id of the turn, personal data masked.

Used by the API processes and by the action server (actions/server.py), so it needs only the standard library
and knowledge/privacy.py (the Rasa venv has neither FastAPI nor our dependencies; the action server's image
copies these two modules). One line looks like

    {"ts": "2026-12-01T17:45:21.123Z", "level": "info", "logger": "minsheng.access", "msg": "POST /v1/chat 200",
     "request_id": "3f9c…", "method": "POST", "route": "/v1/chat", "status": 200, "duration_ms": 812.4}

``request_id`` is whatever ``request_id_var`` holds where the record was made: the API's middleware
(api/request_id.py) and the action server bind it per request; a line outside any request has none.
Everything a line says is masked with knowledge.privacy.mask — the message, string fields, the traceback — so
an ID or phone number a resident typed never reaches a log in clear, whatever a library chose to log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

from knowledge.privacy import mask, mask_data

# The request being served by this task/thread (asyncio tasks and the threadpool copy the context).
request_id_var: ContextVar[str | None] = ContextVar("minsheng_request_id", default=None)

# LogRecord's own attributes: everything else on a record came from ``extra=`` and is a field of the line.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_MARK = "_minsheng_json_handler"  # tags our handler, so configuring twice replaces it instead of adding one


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in line and not key.startswith("_"):
                line[key] = mask_data(value) if isinstance(value, str | list | tuple | dict) else value
        if record.exc_info:
            line["exc"] = mask(self.formatException(record.exc_info))
        elif record.stack_info:
            line["stack"] = mask(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of writing (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns it
        pass


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Root logger → one handler on stderr (JSON lines, or plain text with ``fmt="text"`` for a developer's
    terminal). uvicorn's and Sanic's loggers drop their own handlers and propagate to it, so every line of the
    process has one format. Idempotent: a second call (the tests build many apps) replaces the handler."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    setattr(handler, _MARK, True)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
        handler.addFilter(_with_request_id)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sanic.root", "sanic.error", "sanic.access"):
        other = logging.getLogger(name)
        other.handlers.clear()
        other.propagate = True
    # httpx logs every request at INFO with its full URL — Rasa's auth token is a query parameter there; our
    # own lines say what matters (api/rasa_client.py), so only its warnings get through.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _with_request_id(record: logging.LogRecord) -> bool:
    record.request_id = getattr(record, "request_id", None) or request_id_var.get() or "-"
    record.msg, record.args = mask(record.getMessage()), None
    return True
