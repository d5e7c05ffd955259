"""Rate limits (issue 14, finding 5) with the default limits: per client on chat/search/answer/feedback, per
conversation on chat/feedback; 429 with Retry-After and a Chinese message; the action server (internal token)
and signed-in staff are not limited; anonymous /v1/answer calls do not fill the admins' insights; the client
address comes from X-Forwarded-For only through a trusted proxy (rate limits and the staff-login limit).

The real app, real Redis (the `limits` library's moving windows); Rasa is a tiny fake REST server. Each test
calls from its own client address (TestClient's `client`), so the windows of one test never touch another's.
"""

from __future__ import annotations

import uuid

import pytest
import redis
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.conversations import ConversationStore
from api.main import create_app
from knowledge.settings import Settings

RATES = (
    "rate_chat",
    "rate_chat_session",
    "rate_search",
    "rate_answer",
    "rate_feedback",
    "rate_feedback_session",
    "login_rate_limit",
)
DEFAULTS = {name: Settings.model_fields[name].default for name in RATES}
PROXY = "198.51.100.7"  # the one trusted reverse proxy of these tests
REFUSED = "桂林这两天天气咋样"  # real-time information: declined, the kind of question insights collect


@pytest.fixture(scope="module")
def limited_settings(settings, ingested, fake_rasa):
    return Settings(
        **{
            **settings.model_dump(),
            **DEFAULTS,  # the shipped limits, not the test suite's generous ones
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"rate-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{fake_rasa.server_port}",
            "rasa_servers": 1,
            "trusted_proxies": [PROXY],
        }
    )


@pytest.fixture(scope="module")
def app(limited_settings):
    auth = AuthStore(limited_settings)
    auth.add_user("rate-op", "operator-pass-1", "operator")
    application = create_app(limited_settings)
    with TestClient(application):  # runs the lifespan once; the clients below share its state
        yield application
    r = redis.Redis.from_url(limited_settings.redis_url)
    for pattern in (
        f"{limited_settings.redis_prefix}:*",
        f"LIMITS:LIMITER/{limited_settings.redis_prefix}/*",
    ):
        for key in r.scan_iter(pattern):
            r.delete(key)


_next = iter(range(1, 250))


def peer(app) -> TestClient:
    """A client from an address no other test uses."""
    return TestClient(app, client=(f"203.0.113.{next(_next)}", 40000))


def _statuses(responses) -> list[int]:
    return [r.status_code for r in responses]


def assert_throttled(r) -> int:
    assert r.status_code == 429, r.text
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60
    detail = r.json()["detail"]
    assert detail.startswith(f"请求太频繁，请 {wait} 秒后再试。"), detail
    return wait


def test_the_shipped_defaults():
    assert DEFAULTS["rate_chat"] == "30/minute" and DEFAULTS["rate_chat_session"] == "20/minute"
    assert DEFAULTS["rate_search"] == "30/minute" and DEFAULTS["rate_answer"] == "20/minute"
    assert DEFAULTS["rate_feedback"] == "30/minute" and DEFAULTS["rate_feedback_session"] == "10/minute"


def test_sixty_searches_in_a_few_seconds_from_one_client(app):
    c = peer(app)
    responses = [c.post("/v1/search", json={"query": "低保怎么申请", "top_k": 1}) for _ in range(60)]
    statuses = _statuses(responses)
    assert statuses[:30] == [200] * 30
    assert statuses[30:] == [429] * 30
    assert_throttled(responses[-1])
    other = peer(app)  # another resident is not affected
    assert other.post("/v1/search", json={"query": "低保怎么申请", "top_k": 1}).status_code == 200


def test_chat_is_limited_per_conversation(app):
    c = peer(app)
    sid = f"rate-{uuid.uuid4().hex[:8]}"
    statuses = _statuses(
        c.post("/v1/chat", json={"session_id": sid, "message": f"第{i}条"}) for i in range(21)
    )
    assert statuses == [200] * 20 + [429]
    assert_throttled(c.post("/v1/chat", json={"session_id": sid, "message": "再试"}))
    # the same client in another conversation is still under its own (per-client) limit
    assert c.post("/v1/chat", json={"session_id": sid + "b", "message": "你好"}).status_code == 200


def test_chat_is_limited_per_client_across_conversations(app):
    c = peer(app)
    statuses = _statuses(
        c.post("/v1/chat", json={"session_id": f"rc-{uuid.uuid4().hex[:8]}", "message": "你好"})
        for _ in range(31)
    )
    assert statuses == [200] * 30 + [429]


def test_a_throttled_turn_is_not_stored(app, limited_settings):
    c = peer(app)
    sid = f"rate-{uuid.uuid4().hex[:8]}"
    for i in range(20):
        assert c.post("/v1/chat", json={"session_id": sid, "message": f"第{i}条"}).status_code == 200
    assert c.post("/v1/chat", json={"session_id": sid, "message": "多出来的一条"}).status_code == 429
    texts = [e.text for e in ConversationStore(limited_settings).history(sid)]
    assert "多出来的一条" not in texts and len([t for t in texts if t.startswith("第")]) == 20


def test_feedback_is_limited_per_conversation(app):
    c = peer(app)
    sid = f"rate-{uuid.uuid4().hex[:8]}"
    statuses = _statuses(c.post("/v1/feedback", json={"session_id": sid, "rating": "up"}) for _ in range(11))
    assert statuses == [200] * 10 + [429]


def test_the_internal_token_is_not_limited(app, limited_settings):
    c = peer(app)
    internal = {"X-Minsheng-Internal-Token": limited_settings.internal_token}
    body = {"question": "广西孕前优生健康检查免费吗"}
    assert _statuses(c.post("/v1/answer", json=body, headers=internal) for _ in range(25)) == [200] * 25
    sid = f"rate-{uuid.uuid4().hex[:8]}"
    fb = {"session_id": sid, "rating": "down"}
    assert _statuses(c.post("/v1/feedback", json=fb, headers=internal) for _ in range(15)) == [200] * 15
    # the same address without the token: the anonymous limit, untouched by the 25 internal calls
    assert _statuses(c.post("/v1/answer", json=body) for _ in range(21)) == [200] * 20 + [429]
    wrong = {"X-Minsheng-Internal-Token": "not-the-token"}
    assert_throttled(c.post("/v1/answer", json=body, headers=wrong))


def test_signed_in_staff_are_not_limited(app):
    c = peer(app)
    r = c.post(
        "/v1/auth/login", json={"username": "rate-op", "password": "operator-pass-1", "want_token": True}
    )
    assert r.status_code == 200, r.text
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    statuses = _statuses(
        c.post("/v1/search", json={"query": "养老服务", "top_k": 1}, headers=bearer) for _ in range(35)
    )
    assert statuses == [200] * 35
    stale = {"Authorization": "Bearer not-a-session"}
    statuses = _statuses(
        c.post("/v1/search", json={"query": "养老服务", "top_k": 1}, headers=stale) for _ in range(31)
    )
    assert statuses == [200] * 30 + [429]


def test_anonymous_answers_do_not_fill_the_insights(app, limited_settings):
    store = ConversationStore(limited_settings)
    question = REFUSED
    c = peer(app)
    r = c.post("/v1/answer", json={"question": question})
    assert r.status_code == 200 and r.json()["kind"] == "refuse", r.text
    assert question not in [u.question for u in store.unanswered()]
    internal = {"X-Minsheng-Internal-Token": limited_settings.internal_token}
    r = c.post("/v1/answer", json={"question": question}, headers=internal)
    assert r.status_code == 200 and r.json()["kind"] == "refuse", r.text
    assert question in [
        u.question for u in store.unanswered()
    ]  # the action server's call: a resident's question


def test_x_forwarded_for_counts_only_through_a_trusted_proxy(app):
    body = {"question": "广西孕前优生健康检查免费吗"}
    # an untrusted peer rotating X-Forwarded-For is still one client
    c = peer(app)
    statuses = _statuses(
        c.post("/v1/answer", json=body, headers={"X-Forwarded-For": f"192.0.2.{i}"}) for i in range(1, 22)
    )
    assert statuses == [200] * 20 + [429]
    # through the trusted proxy, each forwarded address is its own client ...
    proxy = TestClient(app, client=(PROXY, 40000))
    resident = "192.0.2.200"
    statuses = _statuses(
        proxy.post("/v1/answer", json=body, headers={"X-Forwarded-For": resident}) for _ in range(21)
    )
    assert statuses == [200] * 20 + [429]
    assert proxy.post("/v1/answer", json=body, headers={"X-Forwarded-For": "192.0.2.201"}).status_code == 200
    # ... and the proxy's own address is not the one counted: a spoofed hop in front is ignored too
    spoofed = proxy.post("/v1/answer", json=body, headers={"X-Forwarded-For": f"10.9.9.9, {resident}"})
    assert spoofed.status_code == 429


def test_the_staff_login_limit_uses_the_same_client_address(app):
    attempt = {"username": "rate-op", "password": "wrong-password"}
    c = peer(app)  # untrusted: rotating X-Forwarded-For does not reset the login limit
    statuses = _statuses(
        c.post("/v1/auth/login", json=attempt, headers={"X-Forwarded-For": f"192.0.2.{i}"})
        for i in range(1, 12)
    )
    assert statuses == [401] * 10 + [429]
    refused = c.post("/v1/auth/login", json=attempt)  # finding 7: the login limit says when to try again
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 60 and f"请 {wait} 秒后再试" in refused.json()["detail"]
    proxy = TestClient(app, client=(PROXY, 40000))  # through the proxy: another resident's address, own limit
    r = proxy.post("/v1/auth/login", json=attempt, headers={"X-Forwarded-For": "192.0.2.150"})
    assert r.status_code == 401


def test_limits_are_in_the_openapi_schema(app):
    paths = app.openapi()["paths"]
    for path in ("/v1/chat", "/v1/search", "/v1/answer", "/v1/feedback"):
        assert "429" in paths[path]["post"]["responses"], path
    assert "429" not in paths["/v1/chat/{session_id}/history"]["get"]["responses"]
