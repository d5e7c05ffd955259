"""Client for Rasa's REST channel (the widget never talks to Rasa directly)."""

from __future__ import annotations

from typing import Any

import httpx

from knowledge.settings import Settings


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

    def tracker_slots(self, sender: str) -> dict[str, Any]:
        try:
            response = self._client.get(
                f"/conversations/{sender}/tracker", params={"token": self._token, "include_events": "NONE"}
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc)) from exc
        return response.json().get("slots", {})

    def is_ready(self) -> bool:
        try:
            return self._client.get("/status", params={"token": self._token}, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()
