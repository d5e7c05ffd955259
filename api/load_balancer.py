"""A small round-robin HTTP load balancer for the local cluster (`minsheng up --cluster`, api/cluster.py),
standing in for nginx / the Ingress of deploy/: no affinity, so any request may land on any API replica —
which is what the cluster mode exists to prove.

* Round robin over the replicas; a replica that refuses connections (stopped, killed, restarting) is skipped
  for a few seconds and the request goes to the next one. Nothing reached the dead replica, so this is safe
  for any method: a resident's turn is not lost because a replica died before it arrived.
* A replica that fails *after* the request was sent (killed mid-request) cannot be retried blindly (the turn
  may have been handled): the client gets a 503 with a Chinese message and ``Retry-After``, which the widget
  shows and retries (the chat route de-duplicates a re-sent turn).
* Responses are streamed as they come (Server-Sent Events: operator live queue, resident events), never
  buffered; request bodies are read whole (up to ``MAX_BODY_BYTES``, like nginx's upload location) so a
  request can be replayed on the next replica.
* ``X-Forwarded-For`` / ``-Proto`` are set (the edge overwrites them, like deploy/nginx.conf); the replicas
  believe them because the cluster runs them with ``MINSHENG_TRUSTED_PROXIES=127.0.0.1``.

Built on Starlette, httpx and uvicorn (all project dependencies already):
``python -m api.load_balancer --port 8000 --upstream http://127.0.0.1:8001 --upstream http://127.0.0.1:8002``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 21 * 1024 * 1024  # the document upload cap plus multipart framing (deploy/nginx.conf)
DOWN_SECONDS = 3.0  # a replica that refused a connection is skipped this long
UNAVAILABLE = "服务暂时不可用，请稍后重试。(service temporarily unavailable)"
# Hop-by-hop headers (RFC 9110 §7.6.1) and those the proxy sets itself.
_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
}


class Upstreams:
    """The replicas in round-robin order, skipping those that recently refused a connection."""

    def __init__(self, urls: list[str]):
        if not urls:
            raise ValueError("at least one upstream")
        self.urls = [u.rstrip("/") for u in urls]
        self._next = itertools.cycle(range(len(self.urls)))
        self._down_until: dict[str, float] = {}
        self.sent = dict.fromkeys(self.urls, 0)

    def order(self) -> list[str]:
        """Every replica once, starting at the next in turn; those marked down go last (tried if all are)."""
        start = next(self._next)
        rotated = self.urls[start:] + self.urls[:start]
        now = time.monotonic()
        return sorted(rotated, key=lambda u: self._down_until.get(u, 0.0) > now)

    def down(self, url: str) -> None:
        self._down_until[url] = time.monotonic() + DOWN_SECONDS


def _unavailable() -> JSONResponse:
    return JSONResponse({"detail": UNAVAILABLE}, status_code=503, headers={"Retry-After": "1"})


def create_app(upstream_urls: list[str], connect_timeout: float = 2.0) -> Starlette:
    upstreams = Upstreams(upstream_urls)
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(connect=connect_timeout, read=None, write=60.0, pool=10.0),
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        follow_redirects=False,
    )

    async def proxy(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"detail": "请求体太大 (request body too large)"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"detail": "请求体太大 (request body too large)"}, status_code=413)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        headers += [
            ("x-forwarded-for", request.client.host if request.client else "127.0.0.1"),
            ("x-forwarded-proto", request.url.scheme),
            ("x-forwarded-host", request.headers.get("host", "")),
        ]
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        for upstream in upstreams.order():
            outgoing = client.build_request(request.method, upstream + target, headers=headers, content=body)
            try:
                response = await client.send(outgoing, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                upstreams.down(upstream)  # nothing was sent: the next replica gets the request
                log.warning("upstream %s refused a connection; trying the next", upstream)
                continue
            except httpx.HTTPError as exc:  # sent, no answer (replica died mid-request): maybe handled
                log.warning("upstream %s failed mid-request (%s)", upstream, type(exc).__name__)
                return _unavailable()
            upstreams.sent[upstream] += 1
            return StreamingResponse(
                _relay(response),
                status_code=response.status_code,
                headers={
                    k: v for k, v in response.headers.items() if k.lower() not in _HOP - {"content-length"}
                },
                background=BackgroundTask(response.aclose),
            )
        return _unavailable()

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "upstreams": upstreams.urls, "sent": upstreams.sent})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/lb-health", health, methods=["GET"]),
            Route("/{path:path}", proxy, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.upstreams = upstreams
    return app


async def _relay(response: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream's bytes as they arrive (SSE events included). A replica dying mid-stream ends the
    stream; EventSource clients reconnect, and land on a live replica."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        log.warning("upstream stream ended early (%s)", type(exc).__name__)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", action="append", required=True, help="an API replica's base URL")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream),
        host=args.host,
        port=args.port,
        log_level="warning",
        proxy_headers=False,
        timeout_graceful_shutdown=3,  # open SSE streams never end on their own
    )


if __name__ == "__main__":
    main()
