"""Request body bounds: an ASGI middleware that never buffers a body to decide.

Every request body is limited to MINSHENG_MAX_BODY_BYTES (64 KB: the JSON bodies of the API); the admin
document uploads (POST /v1/admin/documents, POST /v1/admin/documents/{doc_id}/replace) to the upload cap of
knowledge/converters.py plus the multipart framing around the file. A declared Content-Length over the limit is
answered 413 at once, without reading the body; a chunked body is counted as it arrives and refused as soon as
it passes the limit. The 413 says the limit in words, in the API's one error model (api/errors.py):
{"detail": "请求体超过 64 KB 上限 …", "code": "too_large"}.

(FastAPI's own ``max_body_size`` replaces every response to an oversized Content-Length with a plain-text
"Content Too Large", which the widget could not show; hence this small middleware.)
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from knowledge.converters import MAX_UPLOAD_BYTES

# The file itself is checked against MAX_UPLOAD_BYTES by the upload route (with its own message); the body may
# carry a little more: boundaries, part headers, the form's other fields.
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 256 * 1024
UPLOAD_PATHS = re.compile(r"^/v1/admin/documents(/[^/]+/replace)?/?$")


def too_large_message(limit: int) -> str:
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return f"请求体超过 {size} 上限 (request body too large: limit {limit} bytes)"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An HTTPException, so FastAPI's body parsing
    lets it through (anything else becomes a 400) and the exception handlers answer with its message."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int = UPLOAD_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, scope: Scope) -> int:
        if scope["method"] == "POST" and UPLOAD_PATHS.match(scope["path"]):
            return self.max_upload_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await error_response(413, too_large_message(limit))(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # read outside a route (no exception handler on the way): answer here
            if started:
                raise
            await error_response(413, exc.detail)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
