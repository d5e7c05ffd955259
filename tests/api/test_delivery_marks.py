"""Issue 14, finding 7 (races): concurrent sends on one chat session keep every message's delivery mark right.

Before, the gateway marked "the newest undelivered user entry with this text" after Rasa answered, so with many
turns in flight on one session most answered messages stayed marked undelivered (186 of 199 in the finding).
Now each message is marked by its entry id, atomically in Redis (api/conversations.py).

The real app and real Redis; Rasa is the fake REST server of tests/conftest.py; the concurrency is real: a
thread pool posting through the app's own thread pool.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from fastapi.testclient import TestClient

from api.main import create_app
from knowledge.settings import Settings

SENDS = 200


@pytest.fixture(scope="module")
def client(settings, ingested, fake_rasa):
    app_settings = Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"race-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{fake_rasa.server_port}",
            "rasa_servers": 1,
            "history_limit": 4 * SENDS,  # every turn of the test stays in the history
        }
    )
    with TestClient(create_app(app_settings)) as c:
        yield c
    r = redis.Redis.from_url(app_settings.redis_url)
    for key in r.scan_iter(f"{app_settings.redis_prefix}:*"):
        r.delete(key)


def test_200_concurrent_sends_on_one_session_are_all_marked_delivered(client, fake_rasa):
    sid = f"race-{uuid.uuid4().hex[:8]}"
    # distinct questions, and the same question many times over (a resident tapping a button repeatedly)
    messages = [f"第{i}个问题：低保怎么申请" for i in range(SENDS * 3 // 4)]
    messages += ["公租房谁能申请"] * (SENDS - len(messages))

    def send(text: str) -> int:
        return client.post("/v1/chat", json={"session_id": sid, "message": text}).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(send, messages))
    assert statuses == [200] * SENDS

    entries = client.get(f"/v1/chat/{sid}/history").json()["entries"]
    users = [e for e in entries if e["role"] == "user"]
    undelivered = [u["text"] for u in users if not u["delivered"]]
    assert undelivered == [], f"{len(undelivered)} of {len(users)} answered messages marked undelivered"
    assert sorted(u["text"] for u in users) == sorted(messages)  # each stored once, none overwritten
    assert len({u["id"] for u in users}) == SENDS
    assert sum(e["role"] == "bot" for e in entries) == SENDS  # and every one was answered
