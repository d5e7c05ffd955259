"""Async calls from the action server to the Minsheng API."""

from typing import Any

import aiohttp

from actions.settings import settings
from api.json_logs import request_id_var


class ApiError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the API's HTTP status; None when it did not answer at all


async def _post(path: str, payload: dict[str, Any], internal: bool = False) -> dict[str, Any]:
    headers = {"X-Minsheng-Internal-Token": settings.internal_token} if internal else {}
    if request_id := request_id_var.get():  # the turn's id (actions/server.py): one id across the API's logs
        headers["X-Request-ID"] = request_id
    timeout = aiohttp.ClientTimeout(total=settings.api_timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(settings.api_url + path, json=payload, headers=headers) as response,
        ):
            body = await response.json()
            if response.status >= 400:
                raise ApiError(f"{path}: {response.status} {body}", response.status)
            return body
    except aiohttp.ClientError as exc:
        raise ApiError(f"{path}: {exc}") from exc


async def answer(
    question: str,
    region: str | None = None,
    last_query: str | None = None,
    context_region: str | None = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "question": question[:500],
        "region": region,
        "context": {"last_query": last_query, "region": context_region},
    }
    if as_of:  # the operator console asks "按2024年的规定" through the chat metadata
        body["as_of"] = as_of
    return await _post("/v1/answer", body, internal=True)  # not rate-limited; refusals reach the insights


async def check(
    profile: dict[str, Any], services: list[str] | None = None, region: str | None = None
) -> dict[str, Any]:
    return await _post(
        "/v1/entitlements/check", {"profile": profile, "services": services or None, "region": region}
    )


async def hints(messages: list[str], region: str | None) -> dict[str, Any]:
    result = await _post(
        "/v1/profile/hints", {"messages": [m[:500] for m in messages[-50:]], "region": region}
    )
    return result.get("profile") or {}


async def normalize(field: str, text: str) -> dict[str, Any]:
    return await _post("/v1/profile/normalize", {"field": field, "text": text[:200]})


async def open_ticket(session_id: str, reason: str, profile: dict[str, Any]) -> dict[str, Any]:
    return await _post(
        "/v1/handoff/tickets",
        {"session_id": session_id, "reason": reason[:500], "profile": profile},
        internal=True,
    )


async def feedback(session_id: str, rating: str, comment: str | None) -> dict[str, Any]:
    return await _post(
        "/v1/feedback", {"session_id": session_id, "rating": rating, "comment": comment}, internal=True
    )
