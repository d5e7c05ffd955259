"""A fake of WeChat's API server for the tests and local demos (these machines cannot reach WeChat).

What the channel uses, with WeChat's real request and answer shapes (HTTP 200 and a JSON ``errcode`` always):

- ``GET  /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` → ``{"access_token", "expires_in"}``,
  or 40002 invalid grant_type, 41002 appid missing, 40013 invalid appid, 41004 appsecret missing,
  40125 invalid appsecret.
- ``POST /cgi-bin/message/custom/send?access_token=…`` ``{"touser", "msgtype": "text", "text": {"content"}}`` →
  ``{"errcode": 0, "errmsg": "ok"}``, or 41001 access_token missing, 40001 invalid credential (a token that
  was revoked, e.g. by another fetch), 42001 access_token expired, 44002 empty post data, 47001 data format
  error, 40003 invalid openid, 40008 invalid message type, 45002 content size out of limit (2048 bytes),
  45015 response out of time limit or subscription is canceled (a resident past the 48-hour window).
- ``POST /cgi-bin/menu/create?access_token=…`` WeChat's menu JSON → ok, or 40016 / 40017 / 40018 / 40019.

As on WeChat, fetching a new token does not end the previous one at once (it stays valid a grace period);
``revoke_tokens()`` ends them (WeChat's 40001), ``expire_tokens()`` lets them run out (42001). Run it with
``minsheng wechat fake-api`` to watch what a local stack sends.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TEXT_LIMIT_BYTES = 2048


def _err(code: int, message: str) -> dict[str, Any]:
    rid = "-".join(secrets.token_hex(4) for _ in range(3))
    return {"errcode": code, "errmsg": f"{message} rid: {rid}"}


OK = {"errcode": 0, "errmsg": "ok"}


class FakeWeChat(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        expires_in: int = 7200,
        on_send: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.app_id, self.app_secret, self.expires_in = app_id, app_secret, expires_in
        self.tokens: dict[str, float] = {}  # valid token → expiry (monotonic)
        self.revoked: set[str] = set()
        self.token_requests = 0
        self.token_delay = 0.0  # seconds the token endpoint takes (concurrent fetchers overlap)
        self.sent: list[dict[str, Any]] = []  # accepted 客服消息: {"touser", "content", "at"}
        self.refused: list[dict[str, Any]] = []  # {"touser", "errcode"}
        self.menus: list[dict[str, Any]] = []
        self.closed_window: set[str] = set()  # OpenIDs that get 45015
        self.reject_tokens = False  # every token answered 40001 (another system keeps fetching new ones)
        self.on_send = on_send
        self.changed = threading.Condition()
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/cgi-bin/"

    def start(self) -> FakeWeChat:
        threading.Thread(target=self.serve_forever, daemon=True, name="fake-wechat").start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    # --- what the tests steer and read -----------------------------------------------------------------
    def revoke_tokens(self) -> None:
        with self.changed:
            self.revoked |= set(self.tokens)
            self.tokens.clear()

    def expire_tokens(self) -> None:
        with self.changed:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def wait_for(self, condition: Callable[[FakeWeChat], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True

    def texts_to(self, openid: str) -> list[str]:
        with self.changed:
            return [m["content"] for m in self.sent if m["touser"] == openid]

    # --- the endpoints --------------------------------------------------------------------------------
    def token(self, query: dict[str, str]) -> dict[str, Any]:
        time.sleep(self.token_delay)
        with self.changed:
            self.token_requests += 1
            self.changed.notify_all()
            if query.get("grant_type") != "client_credential":
                return _err(40002, "invalid grant_type")
            if not query.get("appid"):
                return _err(41002, "appid missing")
            if query["appid"] != self.app_id:
                return _err(40013, "invalid appid")
            if not query.get("secret"):
                return _err(41004, "appsecret missing")
            if query["secret"] != self.app_secret:
                return _err(40125, "invalid appsecret")
            token = secrets.token_urlsafe(96)[:128]
            self.tokens[token] = time.monotonic() + self.expires_in
            return {"access_token": token, "expires_in": self.expires_in}

    def _token_error(self, query: dict[str, str]) -> dict[str, Any] | None:
        token = query.get("access_token")
        if not token:
            return _err(41001, "access_token missing")
        if self.reject_tokens or token in self.revoked or token not in self.tokens:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if self.tokens[token] <= time.monotonic():
            return _err(42001, "access_token expired")
        return None

    def custom_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        with self.changed:
            try:
                if error := self._token_error(query):
                    return error
                if not body:
                    return _err(44002, "empty post data")
                try:
                    data = json.loads(body.decode("utf-8"))
                except ValueError:
                    return _err(47001, "data format error")
                touser = data.get("touser") if isinstance(data, dict) else None
                if not isinstance(touser, str) or not touser:
                    return _err(40003, "invalid openid")
                if data.get("msgtype") != "text":
                    return _err(40008, "invalid message type")
                content = (data.get("text") or {}).get("content")
                if not isinstance(content, str) or not content:
                    return _err(47001, "data format error")
                if len(content.encode("utf-8")) > TEXT_LIMIT_BYTES:
                    return _err(45002, "content size out of limit")
                if touser in self.closed_window:
                    self.refused.append({"touser": touser, "errcode": 45015})
                    return _err(45015, "response out of time limit or subscription is canceled")
                message = {"touser": touser, "content": content, "at": time.monotonic()}
                self.sent.append(message)
            finally:
                self.changed.notify_all()
        if self.on_send:
            self.on_send(message)
        return OK

    def menu_create(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        with self.changed:
            if error := self._token_error(query):
                return error
            try:
                menu = json.loads(body.decode("utf-8"))
            except ValueError:
                return _err(47001, "data format error")
            buttons = menu.get("button") if isinstance(menu, dict) else None
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                return _err(40016, "invalid button size")
            for button in buttons:
                subs = button.get("sub_button") or []
                if len(subs) > 5:
                    return _err(40023, "invalid sub button size")
                if not 0 < len(str(button.get("name", "")).encode()) <= 16:
                    return _err(40018, "invalid button name size")
                for item in subs or [button]:
                    if subs and not 0 < len(str(item.get("name", "")).encode()) <= 60:
                        return _err(40018, "invalid button name size")
                    if item.get("type") not in ("click", "view", "miniprogram", "scancode_push"):
                        return _err(40017, "invalid button type")
                    if item["type"] == "click" and not 0 < len(str(item.get("key", "")).encode()) <= 128:
                        return _err(40019, "invalid button key size")
            self.menus.append(menu)
            self.changed.notify_all()
            return OK


class _Handler(BaseHTTPRequestHandler):
    server: FakeWeChat

    def _query(self) -> tuple[str, dict[str, str]]:
        url = urlparse(self.path)
        return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path, query = self._query()
        if path == "/cgi-bin/token":
            self._answer(self.server.token(query))
        else:
            self._answer(_err(40066, "invalid url"))

    def do_POST(self) -> None:  # noqa: N802
        path, query = self._query()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/cgi-bin/message/custom/send":
            self._answer(self.server.custom_send(query, body))
        elif path == "/cgi-bin/menu/create":
            self._answer(self.server.menu_create(query, body))
        else:
            self._answer(_err(40066, "invalid url"))

    def _answer(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json; encoding=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass  # request lines carry the AppSecret and tokens
