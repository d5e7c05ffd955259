"""WeChat's server API through wechatpy's client: access token, 客服消息 (message/custom/send), menu.

The access token is shared by every API replica: cached in Redis (``{p}:wx:token:{appid}``) until a while before
it expires, and fetched by one replica at a time (a Redis lock; the others wait for its result). That matters:
each fetch makes WeChat retire the previous token, so replicas fetching on their own would keep invalidating
each other's. Errors are handled, never raised into a resident's turn:

- 40001 / 40014 / 42001 (token invalid, not the latest, expired): fetch a new one and retry once;
- 45015 (the resident has not written in 48 hours, or unfollowed), 45047 (too many replies): logged, given up;
- anything else, network failures included: logged, given up.

Secrets (AppSecret, access tokens) travel in query strings: the logs of this module, wechatpy, requests and
urllib3 are filtered so that none is ever written, and error messages are redacted before they are logged.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage

from knowledge.settings import Settings, WeChatAccount

logger = logging.getLogger(__name__)
T = TypeVar("T")

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid credential, invalid access_token, access_token expired
OUT_OF_WINDOW = 45015  # response out of time limit or subscription is canceled
HTTP_TIMEOUT = 5.0
LOCK_SECONDS = 15
WAIT_SECONDS = 10.0
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

_SECRET = re.compile(r"((?:secret|access_token|appsecret)=)[^&\s'\"]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``secret=…`` and ``access_token=…`` replaced, wherever they appear (URLs in errors and debug logs)."""
    return _SECRET.sub(r"\1***", text)


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logging module's business
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _RedactSecrets()
for _name in ("urllib3.connectionpool", "wechatpy", "wechatpy.client.base", "requests", __name__):
    logging.getLogger(_name).addFilter(_FILTER)


class WeChatApiError(Exception):
    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


class _TimeoutSession(requests.Session):
    """wechatpy fetches the token without a timeout: every request here has one."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = HTTP_TIMEOUT
        return super().request(*args, **kwargs)


class _Client(WeChatClient):
    """wechatpy's client with its API base from settings and its access token from the shared cache."""

    def __init__(self, account: WeChatAccount, base_url: str, tokens: AccessTokens):
        super().__init__(account.app_id, account.app_secret, session=MemoryStorage(), auto_retry=False)
        self.API_BASE_URL = base_url
        self._http = _TimeoutSession()
        self._tokens = tokens
        self._used = threading.local()

    def fetch_access_token(self) -> dict[str, Any]:
        # wechatpy 1.8 has WeChat's token URL fixed here; the rest of its API uses API_BASE_URL
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    @property
    def access_token(self) -> str:  # type: ignore[override]
        token = self._tokens.get()
        self._used.token = token  # which token a call used, so a 40001 retires that one and no newer one
        return token

    @property
    def last_token(self) -> str | None:
        return getattr(self._used, "token", None)


class AccessTokens:
    """The account's access token in Redis; one fetcher at a time across replicas."""

    def __init__(self, settings: Settings, account: WeChatAccount, client: redis.Redis):
        self.redis = client
        self.key = f"{settings.redis_prefix}:wx:token:{account.app_id}"
        self.lock = f"{settings.redis_prefix}:wx:token-lock:{account.app_id}"
        self.fetch: Callable[[], dict[str, Any]] = lambda: {}
        self._release = client.register_script(_RELEASE)

    def get(self) -> str:
        return self.redis.get(self.key) or self.refresh(stale=None)

    def refresh(self, stale: str | None) -> str:
        """A token other than ``stale``: someone else's fresh one, or one this replica fetches under the lock."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            current = self.redis.get(self.key)
            if current and current != stale:
                return current
            me = uuid.uuid4().hex
            if self.redis.set(self.lock, me, nx=True, ex=LOCK_SECONDS):
                try:
                    current = self.redis.get(self.key)
                    if current and current != stale:
                        return current
                    return self._fetch_and_store()
                finally:
                    self._release(keys=[self.lock], args=[me])
            if time.monotonic() > deadline:
                raise WeChatApiError(None, "timed out waiting for another replica to fetch the access token")
            time.sleep(0.05)

    def _fetch_and_store(self) -> str:
        result = self.fetch()
        token = result["access_token"]
        expires_in = int(result.get("expires_in") or 7200)
        # kept until a while before WeChat's expiry: refreshed before any request could meet an expired one
        keep = max(1, expires_in - min(300, max(1, expires_in // 5)))
        self.redis.set(self.key, token, ex=keep)
        logger.info("WeChat access token refreshed (valid %s s, cached %s s)", expires_in, keep)
        return token

    def forget(self) -> None:
        self.redis.delete(self.key)


class WeChatApi:
    """One account's API. Calls return what WeChat answered, or None when they failed (logged)."""

    def __init__(self, settings: Settings, account: WeChatAccount, client: redis.Redis):
        self.account = account
        self.tokens = AccessTokens(settings, account, client)
        self.client = _Client(account, settings.wechat_api_base_url, self.tokens)
        self.tokens.fetch = self.client.fetch_access_token

    @property
    def usable(self) -> bool:
        return bool(self.account.app_id and self.account.app_secret)

    def call(self, what: str, fn: Callable[[WeChatClient], T]) -> T:
        """Run ``fn`` with a valid token; on a token error fetch a new one and retry once. Raises WeChatApiError."""
        if not self.usable:
            raise WeChatApiError(None, f"account {self.account.name!r} has no AppID/AppSecret configured")
        for attempt in (1, 2):
            try:
                return fn(self.client)
            except WeChatClientException as exc:
                errcode = int(exc.errcode) if exc.errcode is not None else None
                if errcode in TOKEN_ERRORS and attempt == 1:
                    logger.info(
                        "WeChat %s: token rejected (%s); fetching a new one and retrying", what, errcode
                    )
                    self._refresh_after_rejection()
                    continue
                raise WeChatApiError(errcode, redact(str(exc.errmsg))) from None
            except requests.RequestException as exc:
                raise WeChatApiError(None, redact(f"{type(exc).__name__}: {exc}")) from None
            except (ValueError, KeyError) as exc:  # a token answer without access_token, or not JSON
                raise WeChatApiError(
                    None, redact(f"unexpected answer: {type(exc).__name__}: {exc}")
                ) from None
        raise AssertionError("unreachable")

    def _refresh_after_rejection(self) -> None:
        try:
            self.tokens.refresh(stale=self.client.last_token)
        except WeChatClientException as exc:
            raise WeChatApiError(exc.errcode, redact(str(exc.errmsg))) from None
        except requests.RequestException as exc:
            raise WeChatApiError(None, redact(f"{type(exc).__name__}: {exc}")) from None

    def send_text(self, openid: str, content: str) -> bool:
        """One 客服消息; False (logged) when WeChat refused it or could not be reached."""
        try:
            self.call("custom send", lambda c: c.message.send_text(openid, content))
        except WeChatApiError as exc:
            if exc.errcode == OUT_OF_WINDOW:
                logger.warning(
                    "WeChat %s: 客服消息 not delivered (45015: the resident wrote more than 48 hours ago "
                    "or unfollowed); giving up",
                    self.account.name,
                )
            else:
                logger.warning("WeChat %s: 客服消息 not delivered (%s); giving up", self.account.name, exc)
            return False
        return True

    def create_menu(self, menu: dict[str, Any]) -> dict[str, Any]:
        """Replace the account's custom menu. Raises WeChatApiError."""
        return self.call("menu create", lambda c: c.menu.create(menu))
