"""Client for Rasa's REST channel (the widget never talks to Rasa directly).

With several Rasa servers (settings.rasa_servers) each request goes to the one with the fewest requests in
flight: a Rasa process works on one turn at a time, so spreading turns is what lets a second process use the
second core. Conversations are not pinned to a server — trackers and locks live in Redis.

Each request carries the request id of the turn (api/request_id.py) as ``X-Request-ID`` and, for a message, in
its metadata too: Rasa keeps the metadata with the user event and hands it to the action server, which sends the
id on to the API (actions/server.py). Each round trip is timed into the ``round_trip`` histogram
(minsheng_rasa_request_duration_seconds, api/metrics.py).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import httpx
from prometheus_client import Histogram

from api.json_logs import request_id_var
from knowledge.settings import Settings

log = logging.getLogger(__name__)

# Rasa's bookkeeping slots: carrying them into a new tracker would resurrect a finished form step.
_RASA_INTERNAL_SLOTS = frozenset({"requested_slot", "session_started_metadata"})


class RasaUnavailable(Exception):
    """No Rasa server answered (down, starting, or timed out)."""


class _Server:
    def __init__(self, url: str, timeout: float):
        # Transport retries cover connection failures only, so a message is never delivered twice.
        self.client = httpx.Client(base_url=url, timeout=timeout, transport=httpx.HTTPTransport(retries=2))
        self.url = url
        self.in_flight = 0


class RasaClient:
    def __init__(self, settings: Settings, round_trip: Histogram | None = None):
        self._servers = [_Server(url, settings.rasa_timeout_seconds) for url in settings.rasa_urls]
        self._round_trip = round_trip
        self._token = settings.rasa_token
        self._lock = threading.Lock()
        self._turn = itertools.count()  # rotates the starting point among equally busy servers

    def _by_load(self) -> list[_Server]:
        with self._lock:
            start = next(self._turn) % len(self._servers)
            rotated = self._servers[start:] + self._servers[:start]
            return sorted(rotated, key=lambda server: server.in_flight)  # stable: ties keep the rotation

    def _request(
        self, endpoint: str, method: str, path: str, params: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send to the least busy server; a server that cannot be reached is skipped (nothing reached it).
        ``endpoint`` names the call for the round-trip histogram (a fixed label, not the path)."""
        params = {"token": self._token, **(params or {})}
        request_id = request_id_var.get()
        headers = {"X-Request-ID": request_id} if request_id else {}
        error: Exception | None = None
        for server in self._by_load():
            with self._lock:
                server.in_flight += 1
            started, outcome = time.perf_counter(), "error"
            try:
                response = server.client.request(method, path, params=params, headers=headers, **kwargs)
                response.raise_for_status()
                outcome = "ok"
                return response
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                outcome, error = "unreachable", exc
            except httpx.HTTPError as exc:  # it may have processed the message: never resend elsewhere
                raise RasaUnavailable(str(exc)) from exc
            finally:
                with self._lock:
                    server.in_flight -= 1
                self._observe(server, endpoint, outcome, time.perf_counter() - started)
        raise RasaUnavailable(str(error))

    def _observe(self, server: _Server, endpoint: str, outcome: str, seconds: float) -> None:
        if self._round_trip is not None:
            self._round_trip.labels(server=server.url, endpoint=endpoint, outcome=outcome).observe(seconds)
        log.log(
            logging.INFO if outcome != "ok" or endpoint == "webhook" else logging.DEBUG,
            "rasa %s %s in %.0f ms on %s",
            endpoint,
            outcome,
            seconds * 1000,
            server.url,
            extra={"rasa_server": server.url, "rasa_endpoint": endpoint, "outcome": outcome},
        )

    def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        metadata = dict(metadata or {})
        if request_id := request_id_var.get():
            metadata["request_id"] = request_id  # kept with the user event; the action server reads it there
        response = self._request(
            "webhook",
            "POST",
            "/webhooks/rest/webhook",
            json={"sender": sender, "message": message, "metadata": metadata},
        )
        return response.json()

    def tracker_state(self, sender: str) -> tuple[dict[str, Any], bool]:
        """The conversation's filled slots and whether a form is running."""
        tracker = self._request(
            "tracker", "GET", f"/conversations/{sender}/tracker", params={"include_events": "NONE"}
        ).json()
        slots = {
            name: value
            for name, value in (tracker.get("slots") or {}).items()
            if value is not None and name not in _RASA_INTERNAL_SLOTS
        }
        return slots, bool((tracker.get("active_loop") or {}).get("name"))

    def set_slots(self, sender: str, slots: dict[str, Any]) -> None:
        """Seed a (new) conversation with slots: how a rotated tracker keeps what the resident told us."""
        events = [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
        if events:
            self._request(
                "tracker_events",
                "POST",
                f"/conversations/{sender}/tracker/events",
                params={"include_events": "NONE"},
                json=events,
            )

    def is_ready(self) -> bool:
        """Every Rasa server has its model loaded."""
        try:
            return all(
                server.client.get("/status", params={"token": self._token}, timeout=2).status_code == 200
                for server in self._servers
            )
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        for server in self._servers:
            server.client.close()
