"""Every route of the app, from its own route table: who may call it.

A route must be listed as public or fall under a protected prefix; anything else fails here, so a new
route cannot ship unclassified. Protected routes must answer 401 to anonymous callers and 403 to the
wrong role, and must not turn away the right role.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.main import create_app
from knowledge.settings import Settings

# (method, path template) anyone may call: the resident side of the product.
PUBLIC = {
    ("GET", "/healthz"),
    ("POST", "/v1/search"),
    ("GET", "/v1/services"),
    ("GET", "/v1/services/{service_id}"),
    ("GET", "/v1/life-events"),
    ("GET", "/v1/life-events/{event}"),
    ("POST", "/v1/entitlements/check"),
    ("GET", "/v1/profile/fields"),
    ("POST", "/v1/profile/normalize"),
    ("POST", "/v1/profile/hints"),
    ("POST", "/v1/answer"),
    ("POST", "/v1/chat"),
    ("GET", "/v1/chat/{session_id}/history"),
    ("GET", "/v1/chat/{session_id}/events"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/sources/{source}/context"),
    ("POST", "/v1/auth/login"),
    # WeChat's servers: every callback is signed with the account's token (api/wechat/protocol.py)
    ("GET", "/wechat/{account}"),
    ("POST", "/wechat/{account}"),
    ("GET", "/wechat/cite/{source}"),  # the citation page WeChat replies link to
}
INTERNAL = {("POST", "/v1/handoff/tickets")}  # the action server, with the shared internal token
PROTECTED = [  # (path prefix, roles allowed)
    ("/v1/admin/", {"admin"}),
    ("/v1/operator/", {"operator", "admin"}),
    ("/v1/auth/", {"operator", "admin"}),  # me, logout
]
STREAMS = {"/v1/operator/events"}  # an allowed caller gets an endless stream: only rejections are probed
SIDE_EFFECT_FREE_SKIP = {("POST", "/v1/auth/logout")}  # would end the session the matrix runs with


@pytest.fixture(scope="module")
def app_settings(settings, ingested):
    return Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"matrix-{uuid.uuid4().hex[:8]}",
        }
    )


@pytest.fixture(scope="module")
def client(app_settings):
    auth = AuthStore(app_settings)
    auth.add_user("matrix-op", "operator-pass-1", "operator")
    auth.add_user("matrix-admin", "admin-pass-123", "admin")
    with TestClient(create_app(app_settings)) as c:
        yield c


def _routes(app) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-probe", path)


def _roles_for(method: str, path: str) -> set[str] | None:
    return next((roles for prefix, roles in PROTECTED if path.startswith(prefix)), None)


def _token(client, username: str, password: str) -> dict[str, str]:
    r = client.post("/v1/auth/login", json={"username": username, "password": password, "want_token": True})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_every_route_is_classified(client):
    routes = _routes(client.app)
    assert len(routes) > 20
    unclassified = [(m, p) for m, p in routes if (m, p) not in PUBLIC | INTERNAL and _roles_for(m, p) is None]
    assert not unclassified, f"routes with no access rule: {unclassified}"
    # public means public on purpose: nothing under a protected prefix may be in the allowlist
    assert not [r for r in PUBLIC if _roles_for(*r) and r != ("POST", "/v1/auth/login")]


def test_protected_routes_reject_anonymous_and_wrong_roles(client):
    staff = {
        "operator": _token(client, "matrix-op", "operator-pass-1"),
        "admin": _token(client, "matrix-admin", "admin-pass-123"),
    }
    anonymous = TestClient(client.app)  # same running app, no cookies
    checked = 0
    for method, path in _routes(client.app):
        roles = _roles_for(method, path)
        if (method, path) in PUBLIC or roles is None:
            continue
        url = _concrete(path)
        r = anonymous.request(method, url, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        for role, headers in staff.items():
            if role in roles:
                if path in STREAMS or (method, path) in SIDE_EFFECT_FREE_SKIP:
                    continue
                r = client.request(method, url, json={}, headers=headers)
                assert r.status_code not in (401, 403), (method, path, role, r.status_code)
            else:
                r = client.request(method, url, json={}, headers=headers)
                assert r.status_code == 403, (method, path, role, r.status_code)
        checked += 1
    assert checked >= 8


def test_internal_routes_need_the_internal_token(client, app_settings):
    for method, path in INTERNAL:
        r = client.request(method, _concrete(path), json={"session_id": "matrix", "reason": "x"})
        assert r.status_code == 401
        r = client.request(
            method,
            _concrete(path),
            json={"session_id": "matrix", "reason": "x"},
            headers={"X-Minsheng-Internal-Token": "wrong"},
        )
        assert r.status_code == 401


def test_public_routes_need_no_login(client):
    anonymous = TestClient(client.app)
    for method, path in sorted(PUBLIC):
        if path.endswith("/events"):
            continue  # endless stream
        r = anonymous.request(method, _concrete(path), json={})
        assert r.status_code not in (401, 403), (method, path, r.status_code)
