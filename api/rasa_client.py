"""Client for Rasa's REST channel (the widget never talks to Rasa directly).

With several Rasa servers (settings.rasa_servers) each request goes to the one with the fewest requests in
flight: a Rasa process works on one turn at a time, so spreading turns is what lets a second process use the
second core. Conversations are not pinned to a server — trackers and locks live in Redis.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import httpx

from knowledge.settings import Settings

# Rasa's bookkeeping slots: carrying them into a new tracker would resurrect a finished form step.
_RASA_INTERNAL_SLOTS = frozenset({"requested_slot", "session_started_metadata"})


class RasaUnavailable(Exception):
    """No Rasa server answered (down, starting, or timed out)."""


class _Server:
    def __init__(self, url: str, timeout: float):
        # Transport retries cover connection failures only, so a message is never delivered twice.
        self.client = httpx.Client(base_url=url, timeout=timeout, transport=httpx.HTTPTransport(retries=2))
        self.in_flight = 0


class RasaClient:
    def __init__(self, settings: Settings):
        self._servers = [_Server(url, settings.rasa_timeout_seconds) for url in settings.rasa_urls]
        self._token = settings.rasa_token
        self._lock = threading.Lock()
        self._turn = itertools.count()  # rotates the starting point among equally busy servers

    def _by_load(self) -> list[_Server]:
        with self._lock:
            start = next(self._turn) % len(self._servers)
            rotated = self._servers[start:] + self._servers[:start]
            return sorted(rotated, key=lambda server: server.in_flight)  # stable: ties keep the rotation

    def _request(
        self, method: str, path: str, params: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send to the least busy server; a server that cannot be reached is skipped (nothing reached it)."""
        params = {"token": self._token, **(params or {})}
        error: Exception | None = None
        for server in self._by_load():
            with self._lock:
                server.in_flight += 1
            try:
                response = server.client.request(method, path, params=params, **kwargs)
                response.raise_for_status()
                return response
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = exc
            except httpx.HTTPError as exc:  # it may have processed the message: never resend elsewhere
                raise RasaUnavailable(str(exc)) from exc
            finally:
                with self._lock:
                    server.in_flight -= 1
        raise RasaUnavailable(str(error))

    def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        response = self._request(
            "POST",
            "/webhooks/rest/webhook",
            json={"sender": sender, "message": message, "metadata": metadata or {}},
        )
        return response.json()

    def tracker_state(self, sender: str) -> tuple[dict[str, Any], bool]:
        """The conversation's filled slots and whether a form is running."""
        tracker = self._request(
            "GET", f"/conversations/{sender}/tracker", params={"include_events": "NONE"}
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
