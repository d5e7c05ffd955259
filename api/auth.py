"""Accounts, sessions, CSRF and login rate limiting for operators and admins.

Passwords: argon2 via pwdlib. Sessions: random tokens in Redis with an expiry, sent as an HttpOnly
cookie (browsers) or a Bearer header (scripts). Cookie-authenticated requests that change something
must echo the CSRF token (double-submit). Logins are rate-limited per username and client with the
`limits` library on Redis.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Literal

import redis
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from pwdlib import PasswordHash
from pydantic import BaseModel, Field

from knowledge.settings import Settings

Role = Literal["operator", "admin"]
ROLES: tuple[str, ...] = ("operator", "admin")
SESSION_COOKIE = "minsheng_session"
CSRF_COOKIE = "minsheng_csrf"
_hasher = PasswordHash.recommended()


class User(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{2,32}$")
    role: Role
    password_hash: str
    created_at: float = Field(default_factory=time.time)


class Session(BaseModel):
    token: str
    csrf_token: str
    username: str
    role: Role
    expires_at: float


class AuthStore:
    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        self.settings = settings
        self.redis = client or redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.p = settings.redis_prefix
        self._limiter = MovingWindowRateLimiter(RedisStorage(settings.redis_url))
        self._login_limit = parse(settings.login_rate_limit)

    # --- users -----------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: Role) -> User:
        if len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        user = User(username=username, role=role, password_hash=_hasher.hash(password))
        self.redis.hset(f"{self.p}:users", username, user.model_dump_json())
        return user

    def get_user(self, username: str) -> User | None:
        raw = self.redis.hget(f"{self.p}:users", username)
        return User.model_validate_json(raw) if raw else None

    def users(self) -> list[User]:
        return [User.model_validate_json(v) for v in self.redis.hgetall(f"{self.p}:users").values()]

    # --- login -----------------------------------------------------------------------------------
    def login_wait(self, username: str, client: str) -> int | None:
        """Count one login attempt: None when allowed, else the seconds until the window lets one through."""
        ids = (self.p, "login", username.lower(), client)
        if self._limiter.hit(self._login_limit, *ids):
            return None
        reset = self._limiter.get_window_stats(self._login_limit, *ids).reset_time
        return max(1, math.ceil(reset - time.time()))

    def authenticate(self, username: str, password: str) -> User | None:
        user = self.get_user(username)
        if user is None:
            _hasher.hash(password)  # same work either way: no timing hint that the name exists
            return None
        return user if _hasher.verify(password, user.password_hash) else None

    def open_session(self, user: User) -> Session:
        ttl = self.settings.session_login_seconds
        session = Session(
            token=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(24),
            username=user.username,
            role=user.role,
            expires_at=time.time() + ttl,
        )
        self.redis.set(f"{self.p}:login:{session.token}", session.model_dump_json(), ex=ttl)
        return session

    def session(self, token: str) -> Session | None:
        raw = self.redis.get(f"{self.p}:login:{token}")
        return Session.model_validate_json(raw) if raw else None

    def close_session(self, token: str) -> None:
        self.redis.delete(f"{self.p}:login:{token}")
