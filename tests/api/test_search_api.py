"""The search API over a real index (real model, real Chroma)."""

import pytest
from fastapi.testclient import TestClient

from api.main import create_app


@pytest.fixture(scope="module")
def client(settings, ingested):
    with TestClient(create_app(settings)) as c:
        yield c


def test_healthz_reports_the_index(client, ingested):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["index_version"]


def test_preconception_question_puts_the_box_item_in_top3(client, source_text):
    r = client.post("/v1/search", json={"query": "准备要孩子了，孕前检查免费吗"})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert len(hits) == 5
    item = next(h for h in hits[:3] if h["section"] == "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务")
    assert source_text[item["source"]][item["start"] : item["end"]] == item["quote"]
    assert item["title"] == "《广西公共服务“十四五”规划》" and item["region"] == "guangxi"
    assert item["valid_from"] == "2021-01-01" and item["valid_to"] == "2025-12-31"
    assert {"text", "quote", "source", "title", "region", "section", "start", "end", "score"} <= item.keys()


def test_region_filter_via_api(client):
    hits = client.post("/v1/search", json={"query": "低保", "region": "ningxia", "top_k": 8}).json()["hits"]
    assert len(hits) == 8 and {h["region"] for h in hits} == {"ningxia"}


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "问题不能为空"),
        ({"query": "问" * 501}, "query"),
        ({"query": "低保", "region": "sichuan"}, "region"),
        ({"query": "低保", "top_k": 0}, "top_k"),
        ({"query": "低保", "top_k": 51}, "top_k"),
        ({"query": "低保", "top_k": "5"}, "top_k"),
        ({"query": 123}, "query"),
        ({}, "缺少字段 query"),
        ({"query": "低保", "foo": 1}, "不认识的字段 foo"),
    ],
)
def test_bad_input_gets_a_readable_422(client, payload, needle):
    r = client.post("/v1/search", json=payload)
    assert r.status_code == 422
    assert needle in r.json()["detail"]


def test_malformed_json_is_a_422(client):
    r = client.post("/v1/search", content=b'{"query": "low', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]


def test_openapi_is_served(client):
    assert "/v1/search" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_search_as_of_a_date_inside_the_plans_period(client):
    r = client.post("/v1/search", json={"query": "孕前优生健康检查", "as_of": "2024-06-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["as_of"] == "2024-06-01" and body["hits"]
    assert {h["status"] for h in body["hits"]} == {"in_force"}
    today = client.post("/v1/search", json={"query": "孕前优生健康检查"}).json()
    assert {h["status"] for h in today["hits"]} == {"ended"}  # both shipped plans ended on 2025-12-31


@pytest.mark.parametrize("bad", ["not-a-date", "2024-13-01", 20240601])
def test_search_with_a_bad_as_of_is_422(client, bad):
    r = client.post("/v1/search", json={"query": "孕前优生健康检查", "as_of": bad})
    assert r.status_code == 422 and "as_of" in r.text


def test_answers_name_the_period_and_say_it_has_ended(client):
    r = client.post("/v1/answer", json={"question": "广西孕前优生健康检查免费吗"})
    body = r.json()
    assert body["kind"] == "answer"
    assert "2021—2025年" in body["text"] and "规划期已结束" in body["text"]
    assert all(c["valid_from"] == "2021-01-01" and c["valid_to"] == "2025-12-31" for c in body["citations"])
    earlier = client.post(
        "/v1/answer", json={"question": "广西孕前优生健康检查免费吗", "as_of": "2024-06-01"}
    )
    assert "2021—2025年" in earlier.json()["text"] and "规划期已结束" not in earlier.json()["text"]


def test_entitlements_say_which_documents_they_rest_on(client):
    r = client.post(
        "/v1/entitlements/check", json={"profile": {"planning_pregnancy": True}, "region": "guangxi"}
    )
    body = r.json()
    assert r.status_code == 200 and body["sources"]
    assert body["sources"][0]["period"] == "2021—2025年" and body["sources"][0]["status"] == "ended"
