"""Client for Rasa's REST channel (the widget never talks to Rasa directly)."""

from __future__ import annotations

from typing import Any

import httpx

from knowledge.settings import Settings

# Rasa's bookkeeping slots: carrying them into a new tracker would resurrect a finished form step.
_RASA_INTERNAL_SLOTS = frozenset({"requested_slot", "session_started_metadata"})


class RasaUnavailable(Exception):
    """Rasa did not answer (down, starting, or timed out)."""


class RasaClient:
    def __init__(self, settings: Settings):
        # Transport retries cover connection failures only, so a message is never delivered twice.
        self._client = httpx.Client(
            base_url=settings.rasa_url,
            timeout=settings.rasa_timeout_seconds,
            transport=httpx.HTTPTransport(retries=2),
        )
        self._token = settings.rasa_token

    def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            response = self._client.post(
                "/webhooks/rest/webhook",
                params={"token": self._token},
                json={"sender": sender, "message": message, "metadata": metadata or {}},
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc)) from exc
        return response.json()

    def tracker_state(self, sender: str) -> tuple[dict[str, Any], bool]:
        """The conversation's filled slots and whether a form is running."""
        try:
            response = self._client.get(
                f"/conversations/{sender}/tracker", params={"token": self._token, "include_events": "NONE"}
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc)) from exc
        tracker = response.json()
        slots = {
            name: value
            for name, value in (tracker.get("slots") or {}).items()
            if value is not None and name not in _RASA_INTERNAL_SLOTS
        }
        return slots, bool((tracker.get("active_loop") or {}).get("name"))

    def set_slots(self, sender: str, slots: dict[str, Any]) -> None:
        """Seed a (new) conversation with slots: how a rotated tracker keeps what the resident told us."""
        events = [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
        if not events:
            return
        try:
            response = self._client.post(
                f"/conversations/{sender}/tracker/events",
                params={"token": self._token, "include_events": "NONE"},
                json=events,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc)) from exc

    def is_ready(self) -> bool:
        try:
            return self._client.get("/status", params={"token": self._token}, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()
