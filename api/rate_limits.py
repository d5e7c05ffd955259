"""Rate limits on the resident endpoints: per client address and, where a conversation is named, per session.

The `limits` library with moving windows in Redis, so every API replica counts against the same windows.
Limits come from settings (MINSHENG_RATE_*). Not limited: calls that carry the internal token (the action
server calls /v1/answer and /v1/feedback for every resident, all from one address) and signed-in staff
(operators behind one office address search all day). Over a limit: 429, a Retry-After header and a
Chinese message the widget shows as it is.

The client address is the TCP peer, or what a trusted proxy (MINSHENG_TRUSTED_PROXIES) says in
X-Forwarded-For: api/main.py installs uvicorn's ProxyHeadersMiddleware with that list, so
``request.client`` is already the right address here and in the staff-login limit.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import redis
from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from api.auth import SESSION_COOKIE, AuthStore
from api.deployment import internal_token_ok
from api.errors import ApiError, raises
from knowledge.settings import Settings

logger = logging.getLogger(__name__)

INTERNAL_HEADER = "x-minsheng-internal-token"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Rule:
    per_client: list[RateLimitItem]
    per_session: list[RateLimitItem]


def rules(settings: Settings) -> dict[str, Rule]:
    return {
        "chat": Rule(parse_many(settings.rate_chat), parse_many(settings.rate_chat_session)),
        "search": Rule(parse_many(settings.rate_search), []),
        "answer": Rule(parse_many(settings.rate_answer), []),
        "feedback": Rule(parse_many(settings.rate_feedback), parse_many(settings.rate_feedback_session)),
    }


def too_many_message(seconds: int) -> str:
    return f"请求太频繁，请 {seconds} 秒后再试。(too many requests: retry after {seconds} s)"


class RateLimiter:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.prefix = settings.redis_prefix
        self.rules = rules(settings)
        self._limiter = MovingWindowRateLimiter(RedisStorage(settings.redis_url))

    def check(self, name: str, client: str, session: str | None) -> int | None:
        """Count one request; None when allowed, else the seconds until the window lets one through."""
        rule = self.rules[name]
        windows = [(item, ("client", client)) for item in rule.per_client]
        if session:
            windows += [(item, ("session", session)) for item in rule.per_session]
        try:
            for item, (scope, key) in windows:
                ids = (self.prefix, "rate", name, scope, key)
                if not self._limiter.hit(item, *ids):
                    reset = self._limiter.get_window_stats(item, *ids).reset_time
                    return max(1, math.ceil(reset - time.time()))
        except (redis.RedisError, StorageError, OSError) as exc:
            # Fail open: search and answers work without Redis; chat fails on its own if Redis is gone.
            logger.warning("rate limit %s not checked (%s: %s)", name, type(exc).__name__, exc)
        return None


def is_internal_caller(request: Request) -> bool:
    """The call carries the internal token (our action server)."""
    return internal_token_ok(request.app.state.settings, request.headers.get(INTERNAL_HEADER))


def _staff_token(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:]
    return request.cookies.get(SESSION_COOKIE)


def rate_limited(name: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A route dependency: 429 + Retry-After once the caller is over the `name` limits (POST only)."""

    @raises(
        429, methods=("POST",)
    )  # every route using it declares the 429 and its Retry-After (api/errors.py)
    async def dependency(request: Request) -> None:
        if request.method != "POST" or is_internal_caller(request):
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        session = None
        if limiter.rules[name].per_session:
            try:
                body = await request.json()
            except ValueError:  # malformed JSON: the route answers 422; the client limit still counts
                body = None
            sid = body.get("session_id") if isinstance(body, dict) else None
            session = sid if isinstance(sid, str) and _SESSION_ID.match(sid) else None
        client = request.client.host if request.client else "?"
        token = _staff_token(request)
        auth: AuthStore = request.app.state.auth

        def count() -> int | None:
            try:
                if token and auth.session(token) is not None:
                    return None  # signed-in staff
            except redis.RedisError:
                pass  # counted like anyone else
            return limiter.check(name, client, session)

        wait = await run_in_threadpool(count)
        if wait is not None:
            raise ApiError(429, too_many_message(wait), headers={"Retry-After": str(wait)})

    return dependency
