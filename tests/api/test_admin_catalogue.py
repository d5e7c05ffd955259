"""Catalogue editor over HTTP: the real app, real Redis (own db/prefix), its own data dir."""

import copy
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.main import create_app
from knowledge.settings import Settings

BASE = "/v1/admin/catalogue"
PRECONCEPTION_CASE = "广西户籍、计划怀孕 → 孕前优生健康服务"
SHANTYTOWN_PROFILE = {"hukou_region": "guangxi", "urban_rural": "urban", "housing_status": "own"}


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory):
    return Settings(
        data_dir=tmp_path_factory.mktemp("catalogue-editing"),  # edits never leak into other tests
        redis_url="redis://127.0.0.1:6379/7",
        redis_prefix=f"catalogue-{uuid.uuid4().hex[:8]}",
        login_rate_limit="100/minute",
        demo=True,  # the published development tokens are fine in tests (loopback)
    )


@pytest.fixture(scope="module")
def client(app_settings):
    auth = AuthStore(app_settings)
    auth.add_user("cat-op", "operator-pass-1", "operator")
    auth.add_user("cat-admin", "admin-pass-123", "admin")
    with TestClient(create_app(app_settings)) as c:
        yield c
    for key in auth.redis.scan_iter(f"{app_settings.redis_prefix}:*"):
        auth.redis.delete(key)


def _bearer(client, user: str, password: str) -> dict[str, str]:
    r = client.post("/v1/auth/login", json={"username": user, "password": password, "want_token": True})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
def admin(client):
    return _bearer(client, "cat-admin", "admin-pass-123")


@pytest.fixture(scope="module")
def operator(client):
    return _bearer(client, "cat-op", "operator-pass-1")


def _status(client, service_id: str, profile: dict) -> str:
    r = client.post("/v1/entitlements/check", json={"profile": profile, "services": [service_id]})
    assert r.status_code == 200, r.text
    body = r.json()
    return next(k for k in ("eligible", "needs_info", "not_eligible") if body[k])


def _revision_count(client, admin) -> int:
    return len(client.get(f"{BASE}/revisions", headers=admin).json())


def test_list_and_get_entries(client, admin):
    index = client.get(f"{BASE}/services", headers=admin).json()
    assert index["count"] == 136 and index["revision"].startswith("r")
    assert {"id": "gx-shantytown", "file": "guangxi.yaml"}.items() <= next(
        s for s in index["services"] if s["id"] == "gx-shantytown"
    ).items()
    got = client.get(f"{BASE}/services/gx-shantytown", headers=admin).json()
    assert got["entry"]["eligibility"][0]["when"] == "urban_rural == 'urban'"
    assert client.get(f"{BASE}/services/gx-nope", headers=admin).status_code == 404


def test_validate_reports_problems_and_every_case(client, admin):
    entry = client.get(f"{BASE}/services/gx-shantytown", headers=admin).json()["entry"]
    ok = client.post(f"{BASE}/services/gx-shantytown/validate", json=entry, headers=admin).json()
    assert ok["problems"] == [] and ok["broken_cases"] == [] and len(ok["cases"]) >= 40
    bad = copy.deepcopy(entry)
    bad["eligibility"][0]["when"] = "salary > 3000"
    bad["citations"][0]["quote"] = "规划里没有这句话的原文"
    report = client.post(f"{BASE}/services/gx-shantytown/validate", json=bad, headers=admin).json()
    assert any("unknown profile field 'salary'" in p for p in report["problems"])
    assert any("not verbatim" in p for p in report["problems"])


def test_publish_is_served_at_once_audited_and_reaches_other_replicas(client, admin, app_settings):
    other_replica = TestClient(create_app(app_settings))
    with other_replica:
        assert _status(client, "gx-shantytown", SHANTYTOWN_PROFILE) == "eligible"
        assert _status(other_replica, "gx-shantytown", SHANTYTOWN_PROFILE) == "eligible"
        got = client.get(f"{BASE}/services/gx-shantytown", headers=admin).json()
        entry = got["entry"]
        entry["eligibility"].append(
            {"when": "housing_status == 'housing_difficulty'", "because": "住房困难", "cite": 0}
        )
        r = client.put(
            f"{BASE}/services/gx-shantytown",
            json=entry,
            params={"note": "只给住房困难的居民", "base_revision": got["revision"]},
            headers=admin,
        )
        assert r.status_code == 200, r.text
        revision = r.json()["revision"]
        assert revision["author"] == "cat-admin" and revision["parent"] == got["revision"]
        assert _status(client, "gx-shantytown", SHANTYTOWN_PROFILE) == "not_eligible"  # no restart
        deadline = time.monotonic() + 5  # the other replica re-reads the pointer at most once a second
        while _status(other_replica, "gx-shantytown", SHANTYTOWN_PROFILE) != "not_eligible":
            assert time.monotonic() < deadline, "the other replica never saw the new revision"
            time.sleep(0.2)
    history = client.get(f"{BASE}/revisions", headers=admin).json()
    assert history[0]["id"] == revision["id"] and history[0]["current"] and not history[1]["current"]
    audit = client.get(
        "/v1/admin/audit", params={"action": "catalogue.publish", "target": "gx-shantytown"}, headers=admin
    ).json()
    assert audit and audit[0]["actor"] == "cat-admin" and revision["id"] in audit[0]["detail"]
    assert len(audit[0]["before"]["eligibility"]) == 1 and len(audit[0]["after"]["eligibility"]) == 2


def test_edit_that_breaks_cases_is_409_and_changes_nothing(client, admin):
    entry = client.get(f"{BASE}/services/gx-preconception-check", headers=admin).json()["entry"]
    before = _revision_count(client, admin)
    entry["eligibility"][0]["when"] = "planning_pregnancy == false"
    report = client.post(f"{BASE}/services/gx-preconception-check/validate", json=entry, headers=admin).json()
    assert PRECONCEPTION_CASE in [c["name"] for c in report["broken_cases"]]
    r = client.put(f"{BASE}/services/gx-preconception-check", json=entry, headers=admin)
    assert r.status_code == 409
    broken = {c["name"]: c for c in r.json()["broken_cases"]}
    check = broken[PRECONCEPTION_CASE]["checks"][0]
    assert (check["expected"], check["actual"]) == ("eligible", "not_eligible")
    assert _revision_count(client, admin) == before
    profile = {"hukou_region": "guangxi", "planning_pregnancy": True}
    assert _status(client, "gx-preconception-check", profile) == "eligible"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "code"),
    [
        ("put", "/services/gx-nope", {"json": {"id": "gx-nope"}}, 404),
        ("put", "/services/gx-shantytown", {"json": ["not", "an", "object"]}, 422),
        ("put", "/services/gx-shantytown", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
        ("post", "/services/gx-shantytown/validate", {"json": "entry"}, 422),
        ("put", "/services/gx-shantytown", {"json": {"id": "gx-shantytown", "name": "x"}}, 409),
        ("put", "/services/gx-shantytown", {"json": {"id": "gx-shantytown"}, "params": {"base_revision": "../../etc"}}, 409),
        ("post", "/services", {"json": {"id": "gx-shantytown"}}, 409),
        ("get", "/services/gx-nope", {}, 404),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(client, admin, method, path, kwargs, code):
    before = _revision_count(client, admin)
    headers = {**admin, **kwargs.pop("headers", {})}
    r = client.request(method, BASE + path, headers=headers, **kwargs)
    assert r.status_code == code, r.text
    if code == 409:
        assert r.json()["problems"]
    assert _revision_count(client, admin) == before


def test_add_a_new_service(client, admin):
    quote = "为棚户区居民提供实物安置或货币补偿"
    entry = {
        "id": "gx-test-added",
        "name": "测试新增服务",
        "region": "guangxi",
        "category": "住有所居",
        "audience": "城镇棚户区居民",
        "what_you_get": "实物安置或货币补偿",
        "citations": [{"source": "000_c3d117fd37f079a7.txt", "quote": quote}],
    }
    assert client.put(f"{BASE}/services/gx-test-added", json=entry, headers=admin).status_code == 404
    r = client.post(f"{BASE}/services", json=entry, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["revision"]["action"] == "add"
    assert client.get("/v1/services/gx-test-added").json()["citations"][0]["quote"] == quote
    assert client.post(f"{BASE}/services", json=entry, headers=admin).status_code == 409


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/services"),
        ("get", "/services/gx-shantytown"),
        ("post", "/services/gx-shantytown/validate"),
        ("put", "/services/gx-shantytown"),
        ("post", "/services"),
        ("get", "/revisions"),
    ],
)
def test_anonymous_is_401_and_operator_is_403(client, operator, method, path):
    anonymous = TestClient(client.app)
    assert anonymous.request(method, BASE + path, json={}).status_code == 401
    assert client.request(method, BASE + path, json={}, headers=operator).status_code == 403
