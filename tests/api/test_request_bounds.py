"""Request body bounds (issue 14, finding 3): JSON bodies up to 64 KB, the document uploads up to the upload cap;
larger bodies get 413 with a readable message, decided by Content-Length or while a chunked body streams in,
never by buffering the body first. The real app and real Redis."""

from __future__ import annotations

import json
import uuid

import anyio
import pytest
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.body_limit import UPLOAD_BODY_BYTES
from api.main import create_app
from knowledge.converters import MAX_UPLOAD_BYTES
from knowledge.settings import Settings

KB = 1024


@pytest.fixture(scope="module")
def bounds_settings(settings, ingested):
    return Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"bounds-{uuid.uuid4().hex[:8]}",
            "rasa_url": "http://127.0.0.1:9",  # nothing listens: no request here may reach the dialogue
            "rasa_servers": 1,
        }
    )


@pytest.fixture(scope="module")
def client(bounds_settings):
    auth = AuthStore(bounds_settings)
    auth.add_user("bounds-admin", "admin-pass-123", "admin")
    with TestClient(create_app(bounds_settings)) as c:
        yield c
    for key in auth.redis.scan_iter(f"{bounds_settings.redis_prefix}:*"):
        auth.redis.delete(key)


@pytest.fixture(scope="module")
def admin(client):
    r = client.post(
        "/v1/auth/login", json={"username": "bounds-admin", "password": "admin-pass-123", "want_token": True}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_default_json_limit_is_64_kb():
    assert Settings.model_fields["max_body_bytes"].default == 64 * KB


def test_chat_with_100_kb_of_metadata_is_413(client):
    body = {"session_id": "bounds-1", "message": "你好", "metadata": {"channel": "x" * (100 * KB)}}
    r = client.post("/v1/chat", json=body)
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == "请求体超过 64 KB 上限 (request body too large: limit 65536 bytes)"


@pytest.mark.parametrize("path", ["/v1/search", "/v1/answer", "/v1/feedback", "/v1/auth/login"])
def test_every_json_route_refuses_a_body_over_64_kb(client, path):
    r = client.post(
        path, content=b'{"query": "' + b"a" * (64 * KB) + b'"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert "64 KB" in r.json()["detail"]


def test_a_body_just_under_the_limit_reaches_validation(client):
    r = client.post("/v1/search", json={"query": "低保", "pad": "x" * (60 * KB)})
    assert r.status_code == 422  # read and validated: the unknown field is refused, not the size


def _post_asgi(
    app, path: str, chunks: int, chunk_size: int, content_length: int | None
) -> tuple[int, dict, int]:
    """POST straight to the ASGI app, the body offered in chunks; returns (status, body, chunks the app read)."""
    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("192.0.2.10", 1234),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        if read >= chunks:
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": b"x" * chunk_size, "more_body": read < chunks}

    async def send(message: dict) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), read


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(client):
    status, body, read = _post_asgi(client.app, "/v1/chat", 1600, 64 * KB, content_length=100 * 1024 * KB)
    assert status == 413 and "64 KB" in body["detail"]
    assert read == 0  # not one byte of the 100 MB was taken in


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(client):
    status, body, read = _post_asgi(client.app, "/v1/search", 1600, 16 * KB, content_length=None)
    assert status == 413 and "64 KB" in body["detail"]
    assert read == 5  # 80 KB: the fifth 16 KB chunk crossed 64 KB; the other 1,595 were never read


def test_uploads_may_be_larger_than_64_kb(client, admin):
    text = ("第一章 总则\n\n" + "为辖区内常住居民提供服务。\n" * 8000).encode()
    assert len(text) > 100 * KB
    r = client.post(
        "/v1/admin/documents",
        files={"file": ("big.txt", text, "text/plain")},
        data={"meta": "not json"},
        headers=admin,
    )
    assert r.status_code == 422, r.text  # past the body limit; refused for its metadata, nothing stored


def test_an_upload_over_the_cap_is_413(client, admin):
    assert UPLOAD_BODY_BYTES > MAX_UPLOAD_BYTES
    data = b"a" * (MAX_UPLOAD_BYTES + 1024 * KB)  # 21 MB
    for path in ("/v1/admin/documents", "/v1/admin/documents/gx-plan/replace"):
        r = client.post(
            path, files={"file": ("big.txt", data, "text/plain")}, data={"meta": "{}"}, headers=admin
        )
        assert r.status_code == 413, r.text
        assert "20 MB" in r.json()["detail"], r.text


def test_the_upload_limit_applies_to_the_upload_routes_only(client, admin):
    r = client.post(
        "/v1/admin/catalogue/services",
        content=b"{" + b" " * (100 * KB) + b"}",
        headers={**admin, "content-type": "application/json"},
    )
    assert r.status_code == 413, r.text
