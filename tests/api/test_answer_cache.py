"""The answer memo: same question, context, index version and catalogue revision → the same reply, once composed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.answer_cache import AnswerCache
from api.main import create_app
from knowledge.answering import Reply


def test_composes_once_per_key_and_hands_out_copies():
    cache, calls = AnswerCache(maxsize=2), []

    def compose(text: str):
        def run() -> Reply:
            calls.append(text)
            return Reply(kind="answer", text=text)

        return run

    first = cache.get_or_compose(("v1", "q"), compose("a"))
    first.text = "changed by a caller"
    assert cache.get_or_compose(("v1", "q"), compose("b")).text == "a"  # cached, and not the caller's copy
    assert cache.get_or_compose(("v2", "q"), compose("c")).text == "c"  # a new index version is a new key
    assert calls == ["a", "c"] and (cache.hits, cache.misses) == (1, 2)


@pytest.fixture(scope="module")
def client(settings, ingested):
    with TestClient(create_app(settings)) as c:
        yield c


def test_repeated_question_is_served_from_the_memo(client):
    body = {"question": "准备要孩子了，孕前检查免费吗", "region": "guangxi"}
    first = client.post("/v1/answer", json=body).json()
    cache = client.app.state.answer_cache
    hits = cache.hits
    assert client.post("/v1/answer", json=body).json() == first
    assert cache.hits == hits + 1
    follow = client.post("/v1/answer", json={**body, "context": {"last_query": "婚检"}}).json()
    assert cache.hits == hits + 1 and follow["kind"] in ("answer", "clarify", "refuse")
