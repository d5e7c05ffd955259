"""Issue 14, finding 7 (contract): one error model everywhere, declared in the OpenAPI schema for every status
an operation returns.

Before: error bodies had `detail` as a string while the schema said array (FastAPI's HTTPValidationError), and
401/403/404/409/413/415/429 were undeclared. Now every error is ``{"detail": str, "code": str}`` (api/errors.py)
— validation, typed knowledge errors, HTTPExceptions from routes and dependencies, the body limit's 413, the
rate limits' 429 — and the schema says so. tests/api/test_fuzz_schemathesis.py checks the same on generated
requests; this file names the cases.
"""

from __future__ import annotations

import uuid

import pytest
import redis
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.errors import ErrorBody
from api.main import create_app
from knowledge.settings import Settings

ERROR_REF = "#/components/schemas/ErrorBody"
STAFF = ("/v1/operator/", "/v1/admin/")


@pytest.fixture(scope="module")
def app_settings(settings, ingested, fake_rasa):
    return Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"contract-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{fake_rasa.server_port}",
            "rasa_servers": 1,
        }
    )


@pytest.fixture(scope="module")
def client(app_settings):
    auth = AuthStore(app_settings)
    auth.add_user("contract-op", "operator-pass-1", "operator")
    auth.add_user("contract-admin", "admin-pass-123", "admin")
    with TestClient(create_app(app_settings)) as c:
        yield c
    r = redis.Redis.from_url(app_settings.redis_url)
    for key in r.scan_iter(f"{app_settings.redis_prefix}:*"):
        r.delete(key)


@pytest.fixture(scope="module")
def openapi(client) -> dict:
    return client.get("/openapi.json").json()


def _operations(openapi: dict):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    ErrorBody.model_validate(body)  # the one model: detail and code are strings
    assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["code"], str)
    assert set(body) <= set(ErrorBody.model_fields), body
    if code:
        assert body["code"] == code, body
    return body


# --- the schema ------------------------------------------------------------------------------------------


def test_every_error_status_in_the_schema_is_the_one_error_model(openapi):
    assert "HTTPValidationError" not in openapi["components"]["schemas"]  # FastAPI's detail-as-array model
    error = openapi["components"]["schemas"]["ErrorBody"]
    assert error["properties"]["detail"]["type"] == "string" and set(error["required"]) == {"detail", "code"}
    for path, method, operation in _operations(openapi):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (method, path, status)


def test_each_operation_declares_the_statuses_it_can_return(openapi):
    for path, method, operation in _operations(openapi):
        statuses = set(operation["responses"])
        if path.startswith(STAFF) or path in ("/v1/auth/logout", "/v1/auth/me"):
            assert {"401", "403"} <= statuses, (method, path)  # not signed in / wrong role or CSRF
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= statuses, (
                method,
                path,
            )  # unparseable, the body limit, validation
        if "{" in path or operation.get("parameters"):
            assert "422" in statuses, (method, path)
    responses = {(m, p): set(o["responses"]) for p, m, o in _operations(openapi)}
    assert "401" in responses[("post", "/v1/handoff/tickets")]  # internal token
    for path in ("/v1/chat", "/v1/search", "/v1/answer", "/v1/feedback", "/v1/auth/login"):
        assert "429" in responses[("post", path)], path
        assert "Retry-After" in openapi["paths"][path]["post"]["responses"]["429"]["headers"]
    assert "429" not in responses[("get", "/v1/chat/{session_id}/history")]  # the limits count POSTs only
    assert {"404", "409"} <= responses[("post", "/v1/operator/tickets/{ticket_id}/reply")]
    assert {"409", "413", "415", "422"} <= responses[("post", "/v1/admin/documents")]
    assert {"404", "409"} <= responses[("put", "/v1/admin/catalogue/services/{service_id}")]
    assert "404" in responses[("get", "/v1/services/{service_id}")]
    assert "503" in responses[("post", "/v1/chat")]


def test_event_streams_are_declared_as_streams(openapi):
    for path in ("/v1/chat/{session_id}/events", "/v1/operator/events"):
        assert "text/event-stream" in openapi["paths"][path]["get"]["responses"]["200"]["content"], path


# --- the answers -----------------------------------------------------------------------------------------


def test_validation_errors(client):
    body = assert_error(client.post("/v1/search", json={"query": ""}), 422, "validation_error")
    assert body["errors"] and body["errors"][0]["loc"] == ["body", "query"]
    assert_error(
        client.post("/v1/search", content=b"{", headers={"content-type": "application/json"}),
        422,
        "validation_error",
    )
    assert_error(client.get("/v1/services", params={"region": "mars"}), 422, "validation_error")


def test_dates_are_iso_strings_as_the_schema_says(client):
    """Found by the fuzzer: pydantic read numbers as Unix timestamps (0 → 1970-01-01) where the schema says
    ``format: date``; such requests were answered as if they asked about 1970."""
    for as_of in (0, "0", "-1.25e-57"):
        body = assert_error(client.post("/v1/search", json={"query": "低保", "as_of": as_of}), 422)
        assert "ISO" in body["detail"]
    staff = TestClient(client.app)  # its own cookie jar: the shared client stays anonymous
    r = staff.post(
        "/v1/auth/login",
        json={"username": "contract-admin", "password": "admin-pass-123", "want_token": True},
    )
    admin = {"Authorization": f"Bearer {r.json()['token']}"}
    assert_error(staff.get("/v1/admin/audit", params={"since": "-1.25e-57"}, headers=admin), 422)
    assert (
        staff.get("/v1/admin/audit", params={"since": "2024-06-01T08:00:00"}, headers=admin).status_code
        == 200
    )


def test_errors_raised_in_routes_and_dependencies(client, app_settings):
    assert_error(client.get("/v1/services/no-such-service"), 404, "not_found")  # a typed knowledge error
    assert_error(client.get("/v1/sources/no-such.txt/context", params={"start": 0, "end": 1}), 404)
    r = client.get("/v1/operator/tickets")
    assert_error(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert_error(client.post("/v1/handoff/tickets", json={"session_id": "x"}), 401)  # no internal token
    staff = TestClient(client.app)
    login = staff.post("/v1/auth/login", json={"username": "contract-op", "password": "operator-pass-1"})
    assert login.status_code == 200
    assert_error(staff.post("/v1/auth/logout"), 403, "forbidden")  # a cookie session without the CSRF token
    assert_error(staff.get("/v1/admin/audit"), 403, "forbidden")  # wrong role
    assert_error(staff.get("/v1/operator/tickets/nope"), 404, "not_found")
    assert_error(
        client.post("/v1/auth/login", json={"username": "contract-op", "password": "wrong-password"}),
        401,
        "unauthenticated",
    )


def test_the_body_limit_answers_in_the_same_model(client, app_settings):
    big = b'{"query": "' + b"x" * app_settings.max_body_bytes + b'"}'
    body = assert_error(
        client.post("/v1/search", content=big, headers={"content-type": "application/json"}), 413, "too_large"
    )
    assert "上限" in body["detail"]


def test_unknown_routes_and_methods(client):
    assert_error(client.get("/v1/no-such-route"), 404, "not_found")
    assert_error(client.delete("/v1/search"), 405, "method_not_allowed")
