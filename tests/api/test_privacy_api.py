"""Personal data typed by a resident never rests in clear: Redis, the Rasa request, logs and API responses hold
masks only; an operator handling the hand-off may reveal one value, audited.

The real app and real Redis; Rasa is a fake REST server recording what the gateway sends it (the real
Rasa tracker is checked in tests/e2e/test_privacy_stack.py).
"""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest
import redis
from fastapi.testclient import TestClient

from api.audit import AuditLog
from api.auth import AuthStore
from api.conversations import ConversationStore, Feedback, Unanswered
from api.main import create_app
from knowledge.privacy import id_check_char
from knowledge.settings import Settings

ID_17 = "45010319880521753"
ID_NUMBER = ID_17 + id_check_char(ID_17)  # made up, with a valid check character
ID_MASK = "*" * 14 + ID_NUMBER[-4:]
PHONE = "13912345678"
PHONE_MASK = "139****5678"
CLEAR = (ID_NUMBER, PHONE, "139 1234 5678", ID_17)


@pytest.fixture(scope="module")
def app_settings(settings, ingested, fake_rasa):
    return Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"privacy-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{fake_rasa.server_port}",
            "rasa_servers": 1,
        }
    )


@pytest.fixture(scope="module")
def client(app_settings):
    auth = AuthStore(app_settings)
    auth.add_user("priv-op", "operator-pass-1", "operator")
    auth.add_user("priv-op2", "operator-pass-2", "operator")
    auth.add_user("priv-admin", "admin-pass-123", "admin")
    with TestClient(create_app(app_settings)) as c:
        yield c
    for key in auth.redis.scan_iter(f"{app_settings.redis_prefix}:*"):
        auth.redis.delete(key)


def staff(client, user, password) -> tuple[TestClient, dict[str, str]]:
    """A separate browser-like client signed in with a cookie; the CSRF header it must send on writes."""
    c = TestClient(client.app)
    r = c.post("/v1/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def redis_dump(settings: Settings) -> dict[str, str]:
    """Every key under the app's prefix with its whole value as text."""
    r = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    out = {}
    for key in r.scan_iter(f"{settings.redis_prefix}:*"):
        kind = r.type(key)
        if kind == "string":
            value = r.get(key)
        elif kind == "list":
            value = "\n".join(r.lrange(key, 0, -1))
        elif kind == "hash":
            value = json.dumps(r.hgetall(key), ensure_ascii=False)
        elif kind == "zset":
            value = json.dumps(r.zrange(key, 0, -1), ensure_ascii=False)
        elif kind == "set":
            value = json.dumps(sorted(r.smembers(key)), ensure_ascii=False)
        else:
            value = ""
        out[key] = value
    return out


def assert_no_clear(text: str, where: str) -> None:
    for value in CLEAR:
        assert value not in text, f"{value} in clear in {where}"


@pytest.fixture(scope="module")
def conversation(client, app_settings, fake_rasa):
    """A resident who types an ID and a phone number, is declined once, gives feedback, asks for a human and
    keeps typing personal data while the operator has the conversation."""
    sid = f"priv-{uuid.uuid4().hex[:8]}"
    handler = _Capture()
    logging.getLogger().addHandler(handler)
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        said = client.post(
            "/v1/chat",
            json={"session_id": sid, "message": f"我的身份证号{ID_NUMBER}，电话{PHONE}，低保怎么申请"},
        )
        assert said.status_code == 200, said.text
        declined = client.post(
            "/v1/chat",
            json={"session_id": sid, "message": f"我身份证{ID_NUMBER}，帮我查下邻居家是不是低保户"},
        )
        assert declined.json()["messages"][0]["kind"] == "refuse"
        fb = client.post(
            "/v1/feedback", json={"session_id": sid, "rating": "down", "comment": "没用，请打 139 1234 5678"}
        )
        assert fb.status_code == 200, fb.text
        refused = client.post(  # as the action server asks: its refusals go to the insights
            "/v1/answer",
            json={"question": f"我的电话{PHONE}，火星移民补贴怎么领"},
            headers={"X-Minsheng-Internal-Token": app_settings.internal_token},
        )
        assert refused.status_code == 200 and refused.json()["kind"] == "refuse", refused.text
        ticket = client.post(
            "/v1/handoff/tickets",
            json={
                "session_id": sid,
                "reason": f"居民要求回电 {PHONE}",
                "profile": {"hukou_region": "guangxi", "note": f"身份证 {ID_NUMBER}"},
            },
            headers={"X-Minsheng-Internal-Token": app_settings.internal_token},
        )
        assert ticket.status_code == 200, ticket.text
        during = client.post(
            "/v1/chat", json={"session_id": sid, "message": f"我再说一遍，身份证{ID_NUMBER}，手机{PHONE}"}
        )
        assert during.status_code == 200 and during.json()["messages"] == []
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)
    return {"sid": sid, "ticket": ticket.json()["id"], "logs": handler.lines}


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# --------------------------------------------------------------------------------------- masked everywhere
def test_rasa_only_receives_masks(conversation, fake_rasa):
    sent = "\n".join(fake_rasa.messages)
    assert_no_clear(sent, "the message sent to Rasa")
    assert ID_MASK in sent and PHONE_MASK in sent


def test_redis_holds_masks_only(conversation, app_settings):
    p = app_settings.redis_prefix
    dump = redis_dump(app_settings)
    kept_apart = {k for k in dump if k.startswith(f"{p}:pii:{conversation['sid']}:")}
    for key, value in dump.items():
        if key not in kept_apart:
            assert_no_clear(value, key)
    history = dump[f"{p}:chat:{conversation['sid']}"]
    assert ID_MASK in history and PHONE_MASK in history
    assert PHONE_MASK in dump[f"{p}:unanswered"] and ID_MASK in dump[f"{p}:unanswered"]
    assert PHONE_MASK in dump[f"{p}:feedback"]
    ticket = dump[f"{p}:ticket:{conversation['ticket']}"]
    assert PHONE_MASK in ticket and ID_MASK in ticket
    # the values as typed: one key each, expiring within the reveal window
    r = redis.Redis.from_url(app_settings.redis_url, decode_responses=True)
    assert kept_apart and {json.loads(dump[k])["value"] for k in kept_apart} >= {ID_NUMBER, PHONE}
    assert all(0 < r.ttl(k) <= app_settings.pii_reveal_ttl_seconds for k in kept_apart)


def test_logs_hold_no_clear_values(conversation):
    assert_no_clear("\n".join(conversation["logs"]), "the logs")


def test_history_shows_masks_with_refs(client, conversation):
    history = client.get(f"/v1/chat/{conversation['sid']}/history").json()
    assert_no_clear(json.dumps(history, ensure_ascii=False), "GET history")
    first = history["entries"][0]
    assert first["role"] == "user" and ID_MASK in first["text"] and PHONE_MASK in first["text"]
    assert [m["kind"] for m in first["masked"]] == ["id_card", "mobile"]
    for m in first["masked"]:
        assert first["text"][m["start"] : m["end"]] == m["masked"]


def test_insights_show_masks(client, conversation):
    admin, _ = staff(client, "priv-admin", "admin-pass-123")
    body = admin.get("/v1/admin/insights").json()
    text = json.dumps(body, ensure_ascii=False)
    assert_no_clear(text, "GET /v1/admin/insights")
    assert ID_MASK in text and PHONE_MASK in text


def test_operator_transcript_is_masked(client, conversation):
    op, _ = staff(client, "priv-op", "operator-pass-1")
    view = op.get(f"/v1/operator/tickets/{conversation['ticket']}").json()
    assert_no_clear(json.dumps(view, ensure_ascii=False), "the operator transcript")
    assert PHONE_MASK in view["ticket"]["reason"] and ID_MASK in view["ticket"]["profile"]["note"]
    assert view["ticket"]["profile"]["hukou_region"] == "guangxi"


# --------------------------------------------------------------------------------------- reveal
def _refs(client, conversation) -> dict[str, str]:
    entries = client.get(f"/v1/chat/{conversation['sid']}/history").json()["entries"]
    return {m["kind"]: m["ref"] for m in entries[0]["masked"]}


def test_reveal_is_for_operators_and_audited(client, conversation, app_settings):
    ticket, refs = conversation["ticket"], _refs(client, conversation)
    url = f"/v1/operator/tickets/{ticket}/reveal"
    assert TestClient(client.app).post(url, json={"ref": refs["id_card"]}).status_code == 401
    op, csrf = staff(client, "priv-op", "operator-pass-1")
    assert op.post(url, json={"ref": refs["id_card"]}).status_code == 403  # cookie session without CSRF
    before = len(AuditLog(app_settings).query(action="ticket.reveal", target=ticket))

    r = op.post(url, json={"ref": refs["id_card"]}, headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json() == {"ref": refs["id_card"], "kind": "id_card", "value": ID_NUMBER}
    assert op.post(url, json={"ref": refs["mobile"]}, headers=csrf).json()["value"] == PHONE

    entries = AuditLog(app_settings).query(action="ticket.reveal", target=ticket)
    assert len(entries) == before + 2
    latest = entries[0]
    assert (latest.actor, latest.role, latest.target) == ("priv-op", "operator", ticket)
    assert latest.after == {"kind": "mobile", "ref": refs["mobile"]}
    assert_no_clear(json.dumps([e.model_dump() for e in entries], ensure_ascii=False), "the audit log")

    assert op.post(url, json={"ref": "0" * 16}, headers=csrf).status_code == 404
    assert op.post(url, json={"ref": "not a ref"}, headers=csrf).status_code == 422
    assert (
        op.post("/v1/operator/tickets/nope/reveal", json={"ref": refs["mobile"]}, headers=csrf).status_code
        == 404
    )


def test_reveal_is_refused_to_another_operator_and_after_close(client, conversation, app_settings):
    ticket, refs = conversation["ticket"], _refs(client, conversation)
    url = f"/v1/operator/tickets/{ticket}/reveal"
    op, csrf = staff(client, "priv-op", "operator-pass-1")
    reply = op.post(
        f"/v1/operator/tickets/{ticket}/reply", json={"text": f"已记下您的号码 {PHONE}"}, headers=csrf
    )
    assert reply.status_code == 200  # the reply assigns the ticket to priv-op
    replies = AuditLog(app_settings).query(action="ticket.reply", target=ticket)
    assert replies and replies[0].after == {"text": f"已记下您的号码 {PHONE_MASK}"}  # audit keeps the mask
    other, other_csrf = staff(client, "priv-op2", "operator-pass-2")
    assert other.post(url, json={"ref": refs["mobile"]}, headers=other_csrf).status_code == 403
    admin, admin_csrf = staff(client, "priv-admin", "admin-pass-123")
    assert admin.post(url, json={"ref": refs["mobile"]}, headers=admin_csrf).json()["value"] == PHONE
    assert op.post(f"/v1/operator/tickets/{ticket}/close", headers=csrf).status_code == 200
    assert op.post(url, json={"ref": refs["mobile"]}, headers=csrf).status_code == 409


# --------------------------------------------------------------------------------------- retention
@pytest.fixture
def store():
    settings = Settings(
        redis_url="redis://127.0.0.1:6379/6",
        redis_prefix=f"test-priv-{uuid.uuid4().hex[:8]}",
        insights_retention_days=30,
        insights_kept=100,
    )
    s = ConversationStore(settings)
    yield s
    for key in s.redis.scan_iter(f"{settings.redis_prefix}:*"):
        s.redis.delete(key)


def test_insight_lists_are_capped_and_expire(store):
    old = time.time() - 31 * 86400
    for i in range(3):
        store.record_unanswered(Unanswered(question=f"旧问题{i}", ts=old + i))
        store.add_feedback(Feedback(session_id="s", rating="down", comment=f"旧{i}", ts=old + i))
    assert store.unanswered() == [] and store.feedback() == []  # older than the retention: not shown
    store.record_unanswered(Unanswered(question="新问题"))
    store.add_feedback(Feedback(session_id="s", rating="up"))
    assert store.redis.llen(f"{store.p}:unanswered") == 1  # the old ones were dropped on write
    assert store.redis.llen(f"{store.p}:feedback") == 1
    for key in ("unanswered", "feedback"):
        assert 29 * 86400 < store.redis.ttl(f"{store.p}:{key}") <= 30 * 86400
    for i in range(150):
        store.record_unanswered(Unanswered(question=f"问题{i}"))
    assert store.redis.llen(f"{store.p}:unanswered") == 100
    assert store.unanswered(limit=1)[0].question == "问题149"


def test_store_masks_every_writer_and_reader(store):
    store.record_unanswered(Unanswered(question=f"电话{PHONE}"))
    store.add_feedback(Feedback(session_id="s", rating="down", question=f"身份证{ID_NUMBER}", comment=PHONE))
    ticket = store.open_ticket("s", f"回电{PHONE}", {"children_ages": [3, 5], "note": ID_NUMBER})
    assert_no_clear(json.dumps(redis_dump(store.settings), ensure_ascii=False), "the store")
    assert store.unanswered()[0].question == f"电话{PHONE_MASK}"
    assert store.feedback()[0].comment == PHONE_MASK
    assert store.get_ticket(ticket.id).profile == {"children_ages": [3, 5], "note": ID_MASK}
    # a record written before masking existed is masked on the way out
    store.redis.rpush(f"{store.p}:unanswered", Unanswered(question=f"旧的 {PHONE}").model_dump_json())
    assert store.unanswered()[-1].question == f"旧的 {PHONE_MASK}"


def test_reveal_window_expires(store):
    entry = store.resident_entry("s9", f"手机{PHONE}")
    ref = entry.masked[0].ref
    assert store.reveal("s9", ref) == ("mobile", PHONE)
    assert store.reveal("other-session", ref) is None  # a ref only opens its own conversation's value
    store.redis.delete(store._pii_key("s9", ref))  # what the TTL does after pii_reveal_ttl_seconds
    assert store.reveal("s9", ref) is None
