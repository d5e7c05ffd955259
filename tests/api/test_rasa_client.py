"""How the gateway spreads turns over several Rasa servers (fake REST servers; the real ones are in tests/e2e)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from api.rasa_client import RasaClient, RasaUnavailable
from knowledge.settings import Settings


class FakeRasa(ThreadingHTTPServer):
    """Answers the REST webhook after `delay` seconds with `status`, counting what it received."""

    def __init__(self, port: int, delay: float = 0.0, status: int = 200):
        self.delay, self.status, self.received, self.queries = delay, status, [], []
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FakeRasa

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.queries.append(parse_qs(urlparse(self.path).query))
        self._reply({"slots": {"region": "ningxia"}, "active_loop": {}})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append(body["sender"])
        time.sleep(self.server.delay)
        self._reply([{"recipient_id": body["sender"], "text": f"from {self.server.server_port}"}])

    def _reply(self, payload: object) -> None:
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args: object) -> None:
        pass


def _consecutive_free_ports(count: int) -> int:
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        sockets = []
        try:
            for port in range(first, first + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no consecutive free ports")


@pytest.fixture
def ports() -> int:
    return _consecutive_free_ports(2)


@contextmanager
def serving(first_port: int, *servers: FakeRasa) -> Iterator[RasaClient]:
    """The fake servers running, and a gateway client for two Rasa servers from `first_port`."""
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    client = RasaClient(
        Settings(rasa_url=f"http://127.0.0.1:{first_port}", rasa_servers=2, rasa_timeout_seconds=5)
    )
    try:
        yield client
    finally:
        client.close()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_settings_list_consecutive_ports():
    assert Settings(rasa_url="http://127.0.0.1:7000", rasa_servers=3).rasa_urls == [
        "http://127.0.0.1:7000",
        "http://127.0.0.1:7001",
        "http://127.0.0.1:7002",
    ]
    assert Settings(rasa_url="http://rasa:5005", rasa_servers=1).rasa_urls == ["http://rasa:5005"]


def test_concurrent_turns_are_spread_over_the_servers(ports):
    a, b = FakeRasa(ports, delay=0.3), FakeRasa(ports + 1, delay=0.3)
    with serving(ports, a, b) as client:
        threads = [threading.Thread(target=client.send, args=(f"s{i}", "你好")) for i in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.02)  # each starts while the earlier ones are still in flight
        for t in threads:
            t.join()
    assert len(a.received) == 2 and len(b.received) == 2  # the least busy server gets the next turn


def test_a_server_that_cannot_be_reached_is_skipped(ports):
    live = FakeRasa(ports + 1)  # nothing listens on the first port
    with serving(ports, live) as client:
        assert client.tracker_state("s0") == ({"region": "ningxia"}, False)  # first in turn: the dead server
        for i in range(3):
            assert client.send(f"s{i}", "你好") == [{"recipient_id": f"s{i}", "text": f"from {ports + 1}"}]
    assert live.received == ["s0", "s1", "s2"]
    assert live.queries[0]["include_events"] == ["NONE"]  # the request reached the next server whole


def test_a_server_error_is_not_resent_to_another_server(ports):
    healthy, failing = FakeRasa(ports, delay=0.5), FakeRasa(ports + 1, status=500)
    with serving(ports, healthy, failing) as client:
        busy = threading.Thread(target=client.send, args=("busy", "你好"))
        busy.start()  # occupies the first server, so the next turn goes to the second one
        time.sleep(0.1)
        with pytest.raises(RasaUnavailable):
            client.send("s1", "你好")  # Rasa may have processed it: delivering it twice would repeat the turn
        busy.join()
    assert failing.received == ["s1"] and healthy.received == ["busy"]


def test_no_server_reachable_is_unavailable(ports):
    with serving(ports) as client:
        with pytest.raises(RasaUnavailable):
            client.send("s", "你好")
        assert not client.is_ready()
