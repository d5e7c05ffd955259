"""Services, life events and entitlement checks over HTTP (real catalogue, real app)."""

import pytest
from fastapi.testclient import TestClient

from api.main import create_app


@pytest.fixture(scope="module")
def client(settings, ingested):
    with TestClient(create_app(settings)) as c:
        yield c


def test_preconception_is_eligible_with_box4_citation(client, source_text):
    r = client.post(
        "/v1/entitlements/check", json={"profile": {"hukou_region": "guangxi", "planning_pregnancy": True}}
    )
    assert r.status_code == 200
    item = next(x for x in r.json()["eligible"] if x["name"] == "免费孕前优生健康服务")
    cite = item["citations"][0]
    assert cite["section"] == "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务"
    assert source_text[cite["source"]][cite["start"] : cite["end"]] == cite["quote"]
    assert item["reasons"] and item["missing_fields"] == []


def test_ningxia_profile_gets_questions_not_guesses(client):
    body = client.post(
        "/v1/entitlements/check", json={"profile": {"hukou_region": "ningxia"}, "region": "ningxia"}
    ).json()
    assert body["needs_info"] and body["ask_next"]
    for item in body["needs_info"]:
        assert item["missing_fields"] and item["next_question"]
    assert all(x["region"] == "ningxia" for k in ("eligible", "needs_info", "not_eligible") for x in body[k])


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"profile": {"salary": 1}}, "profile.salary"),
        ({"profile": {"age": "35"}}, "profile.age"),
        ({"profile": {"age": 130}}, "profile.age"),
        ({"profile": {"hukou_region": "sichuan"}}, "profile.hukou_region"),
        ({"profile": {"pregnant": "yes"}}, "profile.pregnant"),
        ({"profile": {}, "region": "hebei"}, "region"),
        ({}, "profile"),
    ],
)
def test_bad_profiles_are_422_naming_the_field(client, payload, needle):
    r = client.post("/v1/entitlements/check", json=payload)
    assert r.status_code == 422 and needle in r.json()["detail"]


def test_unknown_service_is_404(client):
    assert (
        client.post("/v1/entitlements/check", json={"profile": {}, "services": ["gx-nope"]}).status_code
        == 404
    )
    assert client.get("/v1/services/gx-nope").status_code == 404


def test_services_filters(client):
    all_nx = client.get("/v1/services", params={"region": "ningxia"}).json()
    assert all_nx["count"] >= 80
    by_alias = client.get("/v1/services", params={"q": "婚检"}).json()["services"]
    assert [s["id"] for s in by_alias] == ["gx-premarital-check"]
    elderly = client.get("/v1/services", params={"category": "老有所养", "region": "guangxi"}).json()[
        "services"
    ]
    assert elderly and all(s["category"] == "老有所养" for s in elderly)
    assert client.get("/v1/services", params={"life_event": "离婚"}).status_code == 422
    detail = client.get("/v1/services/nx-yysy-maternal-health").json()
    assert detail["citations"][0]["section"].startswith("第三章 › 第一节 › 专栏2")


def test_life_events(client):
    events = client.get("/v1/life-events").json()
    assert events[0]["id"] == "结婚" and events[0]["service_counts"]["guangxi"] > 0
    journey = client.get("/v1/life-events/结婚", params={"region": "ningxia"}).json()
    assert [s["event"] for s in journey["stages"]][:3] == ["结婚", "备孕", "怀孕"]
    assert client.get("/v1/life-events/离婚").status_code == 404


def test_a_service_card_says_which_document_and_period_it_rests_on(client):
    body = client.get("/v1/services/gx-preconception-check").json()
    assert body["sources"] and body["sources"][0]["title"] == "《广西公共服务“十四五”规划》"
    assert body["sources"][0]["period"] == "2021—2025年" and body["sources"][0]["status"] == "ended"
