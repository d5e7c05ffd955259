"""The cluster's load balancer (api/load_balancer.py) in front of small stand-in replicas on loopback: round
robin with no affinity, Server-Sent Events passed through as they happen (not buffered), a stopped replica
skipped without failing a request (bodies replayed), a replica dying mid-request → 503 with a Chinese message
and Retry-After, and every replica down → the same 503."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from api.load_balancer import create_app


class Served:
    """An ASGI app on an ephemeral loopback port, in a thread."""

    def __init__(self, app):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def replica(name: str, release: threading.Event) -> Starlette:
    async def who(_: Request) -> JSONResponse:
        return JSONResponse({"replica": name})

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "replica": name,
                "body": (await request.body()).decode(),
                "forwarded_for": request.headers.get("x-forwarded-for"),
            }
        )

    async def events(_: Request) -> StreamingResponse:
        async def stream():
            yield b"event: ready\ndata: {}\n\n"
            while not release.is_set():  # the second event only once the client has seen the first
                await asyncio.sleep(0.02)
            yield f"event: message\ndata: {name}\n\n".encode()

        return StreamingResponse(stream(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/who", who),
            Route("/echo", echo, methods=["POST"]),
            Route("/events", events),
        ]
    )


@pytest.fixture
def cluster():
    release = threading.Event()
    a, b = Served(replica("a", release)), Served(replica("b", release))
    lb = Served(create_app([a.url, b.url], connect_timeout=1.0))
    yield a, b, lb, release
    release.set()
    for served in (lb, a, b):
        served.stop()


def test_round_robin_without_affinity(cluster):
    _, _, lb, _ = cluster
    with httpx.Client(base_url=lb.url) as http:
        seen = [http.get("/who").json()["replica"] for _ in range(6)]
        assert sorted(seen) == ["a", "a", "a", "b", "b", "b"] and seen[0] != seen[1]
        echoed = http.post("/echo", content="低保怎么申请").json()
    assert echoed["body"] == "低保怎么申请" and echoed["forwarded_for"] == "127.0.0.1"


def test_server_sent_events_are_streamed_not_buffered(cluster):
    _, _, lb, release = cluster
    with (
        httpx.Client(base_url=lb.url, timeout=httpx.Timeout(10, read=10)) as http,
        http.stream("GET", "/events") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "event: ready"  # arrived while the replica still holds the stream open
        release.set()
        rest = [line for line in lines if line]
    assert rest[:1] == ["data: {}"] and rest[1] == "event: message" and rest[2] in ("data: a", "data: b")


def test_a_stopped_replica_is_skipped_and_no_request_fails(cluster):
    a, b, lb, _ = cluster
    b.stop()
    with httpx.Client(base_url=lb.url) as http:
        replies = [http.post("/echo", content=f"第{i}轮") for i in range(6)]
    assert [r.status_code for r in replies] == [200] * 6
    assert [r.json()["replica"] for r in replies] == ["a"] * 6
    assert [r.json()["body"] for r in replies] == [f"第{i}轮" for i in range(6)]  # bodies replayed on a


def test_every_replica_down_is_a_503_the_widget_retries(cluster):
    a, b, lb, _ = cluster
    a.stop()
    b.stop()
    with httpx.Client(base_url=lb.url) as http:
        r = http.post("/echo", content="你好")
    assert r.status_code == 503 and r.headers["retry-after"] == "1" and "请稍后重试" in r.json()["detail"]


def test_a_replica_dying_mid_request_is_a_503_not_a_retry():
    """The request reached it (it may have been handled), so it is not replayed elsewhere."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept_and_drop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()  # request read, no answer: the process died

    threading.Thread(target=accept_and_drop, daemon=True).start()
    lb = Served(create_app([f"http://127.0.0.1:{port}"]))
    try:
        with httpx.Client(base_url=lb.url) as http:
            r = http.post("/v1/chat", json={"session_id": "s1", "message": "你好"})
        assert r.status_code == 503 and "请稍后重试" in r.json()["detail"]
    finally:
        lb.stop()
        listener.close()
