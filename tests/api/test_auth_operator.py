"""Staff auth and the operator API with the real app and real Redis (no Rasa needed for these paths)."""

import uuid

import pytest
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.conversations import ConversationStore
from api.main import create_app
from knowledge.settings import Settings


@pytest.fixture(scope="module")
def staff_settings(settings, ingested):
    return Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"auth-{uuid.uuid4().hex[:8]}",
            "login_rate_limit": "5/minute",
        }
    )


@pytest.fixture(scope="module")
def client(staff_settings):
    auth = AuthStore(staff_settings)
    auth.add_user("op1", "operator-pass-1", "operator")
    auth.add_user("ad1", "admin-pass-123", "admin")
    with TestClient(create_app(staff_settings)) as c:
        yield c
    for key in auth.redis.scan_iter(f"{staff_settings.redis_prefix}:*"):
        auth.redis.delete(key)


def login(client, user="op1", password="operator-pass-1", want_token=False):
    r = client.post("/v1/auth/login", json={"username": user, "password": password, "want_token": want_token})
    assert r.status_code == 200, r.text
    return r.json()


def test_passwords_are_hashed(staff_settings, client):
    user = AuthStore(staff_settings).get_user("op1")
    assert user.password_hash.startswith("$argon2") and "operator-pass-1" not in user.password_hash


def test_wrong_password_and_rate_limit(staff_settings):
    with TestClient(create_app(staff_settings)) as c:
        codes = [
            c.post("/v1/auth/login", json={"username": "nobody", "password": "wrong-pass"}).status_code
            for _ in range(7)
        ]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]


def test_cookie_session_needs_csrf_for_changes(client, staff_settings):
    creds = login(client)
    assert client.get("/v1/auth/me").json() == {"username": "op1", "role": "operator"}
    ticket = ConversationStore(staff_settings).open_ticket("csrf-session", "转人工", {"age": 40})
    assert client.post(f"/v1/operator/tickets/{ticket.id}/reply", json={"text": "您好"}).status_code == 403
    ok = client.post(
        f"/v1/operator/tickets/{ticket.id}/reply",
        json={"text": "您好"},
        headers={"X-CSRF-Token": creds["csrf_token"]},
    )
    assert ok.status_code == 200 and ok.json()["role"] == "operator"


def test_operator_reply_and_close_resume_the_bot(client, staff_settings):
    creds = login(client)
    headers = {"X-CSRF-Token": creds["csrf_token"]}
    store = ConversationStore(staff_settings)
    ticket = store.open_ticket("resident-1", "转人工", {"hukou_region": "guangxi"})
    assert any(t["id"] == ticket.id for t in client.get("/v1/operator/tickets").json())
    view = client.get(f"/v1/operator/tickets/{ticket.id}").json()
    assert view["ticket"]["profile"] == {"hukou_region": "guangxi"}
    client.post(
        f"/v1/operator/tickets/{ticket.id}/reply", json={"text": "请问您在哪个城市？"}, headers=headers
    )
    history = client.get("/v1/chat/resident-1/history").json()
    assert history["handoff_active"] and history["entries"][-1]["role"] == "operator"
    closed = client.post(f"/v1/operator/tickets/{ticket.id}/close", headers=headers).json()
    assert closed["status"] == "closed" and closed["closed_by"] == "op1"
    assert not client.get("/v1/chat/resident-1/history").json()["handoff_active"]
    assert (
        client.post(
            f"/v1/operator/tickets/{ticket.id}/reply", json={"text": "x"}, headers=headers
        ).status_code
        == 409
    )


def test_bearer_token_works_without_csrf(client, staff_settings):
    assert login(client, "ad1", "admin-pass-123")["token"] is None  # browsers keep it in the HttpOnly cookie
    token = login(client, "ad1", "admin-pass-123", want_token=True)["token"]
    r = TestClient(client.app).get("/v1/operator/tickets", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_source_context_for_citation_panel(client, source_text):
    gx = "000_c3d117fd37f079a7.txt"
    start = source_text[gx].index("免费提供孕前优生健康检查和婚前医学检查")
    body = client.get(f"/v1/sources/{gx}/context", params={"start": start, "end": start + 19}).json()
    assert body["quote"] == "免费提供孕前优生健康检查和婚前医学检查"
    assert body["before"].startswith("提升优生优生服务水平") and body["after"]
    assert body["valid_from"] == "2021-01-01"
    assert client.get(f"/v1/sources/{gx}/context", params={"start": 10, "end": 5}).status_code == 422
    assert client.get("/v1/sources/nope.txt/context", params={"start": 0, "end": 5}).status_code == 404
