"""Conversation state against the real Redis (own db and key prefix)."""

import uuid

import pytest

from api.conversations import ConversationStore, Feedback, HistoryEntry
from knowledge.settings import Settings


@pytest.fixture
def store():
    settings = Settings(
        redis_url="redis://127.0.0.1:6379/6", redis_prefix=f"test-{uuid.uuid4().hex[:8]}", history_limit=10
    )
    s = ConversationStore(settings)
    yield s
    for key in s.redis.scan_iter(f"{settings.redis_prefix}:*"):
        s.redis.delete(key)


def test_history_is_bounded_and_expires(store):
    for i in range(15):
        store.append("s1", HistoryEntry(role="user", text=f"m{i}"))
    entries = store.history("s1")
    assert [e.text for e in entries] == [f"m{i}" for i in range(5, 15)]
    assert 0 < store.redis.ttl(f"{store.p}:chat:s1") <= store.settings.session_ttl_seconds


def test_undelivered_message_is_marked_not_duplicated(store):
    first = store.start_delivery("s2", HistoryEntry(role="user", text="你好"))
    assert [(e.text, e.delivered) for e in store.history("s2")] == [("你好", False)]  # on its way
    store.delivery_failed("s2", first)  # the dialogue server was down
    retry = store.start_delivery("s2", HistoryEntry(role="user", text="你好"))
    assert retry == first  # the resend is the same message, not a second one
    store.delivered("s2", retry)
    assert [(e.id, e.text, e.delivered) for e in store.history("s2")] == [(first, "你好", True)]
    again = store.start_delivery("s2", HistoryEntry(role="user", text="你好"))  # delivered: a new message
    assert again != first and [e.delivered for e in store.history("s2")] == [True, False]
    store.delivered("s2", again)
    store.delivery_failed("s2", again)  # too late: a delivered message never turns undelivered
    assert [e.delivered for e in store.history("s2")] == [True, True]


def test_tickets_open_once_and_close(store):
    t1 = store.open_ticket("s3", "转人工", {"age": 70})
    assert store.open_ticket("s3", "again", {}).id == t1.id  # asking twice queues once
    assert store.active_ticket("s3").id == t1.id
    assert [t.id for t in store.list_tickets("open")] == [t1.id]
    store.close_ticket(t1, by="op1")
    assert store.active_ticket("s3") is None and store.list_tickets("open") == []
    assert store.get_ticket(t1.id).status == "closed" and store.list_tickets("all")[0].closed_by == "op1"


def test_tracker_epochs(store):
    assert store.rasa_sender("s4") == ("s4", 0)
    store.count_turn("s4")
    store.count_turn("s4")
    assert store.rasa_sender("s4") == ("s4", 2)
    assert store.next_epoch("s4") == "s4~1"
    assert store.rasa_sender("s4") == ("s4~1", 0)


def test_feedback_is_kept(store):
    store.add_feedback(Feedback(session_id="s5", rating="down", comment="没用"))
    assert store.feedback()[-1].comment == "没用"


def test_closed_tickets_expire_after_the_retention_and_open_ones_stay(store):
    kept = store.open_ticket("s6", "转人工", {})
    done = store.open_ticket("s7", "转人工", {})
    assert store.redis.ttl(f"{store.p}:ticket:{kept.id}") == -1  # open: kept until someone closes it
    store.close_ticket(done, by="op1")
    ttl = store.redis.ttl(f"{store.p}:ticket:{done.id}")
    assert 0 < ttl <= store.settings.handoff_retention_days * 86400
    store.save_ticket(store.get_ticket(done.id))  # a later save keeps the expiry
    assert 0 < store.redis.ttl(f"{store.p}:ticket:{done.id}") <= ttl
    # past the retention: Redis has dropped the ticket; the listing forgets its id too
    store.redis.delete(f"{store.p}:ticket:{done.id}")
    store.redis.zadd(f"{store.p}:tickets:closed", {done.id: 0})
    assert [t.id for t in store.list_tickets("all")] == [kept.id]
    assert store.redis.zrange(f"{store.p}:tickets:all", 0, -1) == [kept.id]
    assert store.redis.zcard(f"{store.p}:tickets:closed") == 0
