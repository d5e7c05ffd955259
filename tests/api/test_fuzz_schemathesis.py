"""Issue 14, fuzzing in CI: a bounded schemathesis run over the whole API, in process (ASGI, no server), as an
anonymous caller, an operator and an admin. It fails on any 5xx and on any answer the OpenAPI schema does not
describe (status code, content type, headers, body), and on schema-violating input the API accepts.

The app runs on a scratch copy of the test data dir (its own index, library and catalogue revisions) and its own
Redis prefix, so uploads, edits, deletions and version switches the fuzzer tries cannot touch other tests. The
live event streams (SSE) never end and are not fuzzed; staff runs do not sign themselves out. Bounded:
derandomized, FUZZ_EXAMPLES cases per operation and generation mode.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
import redis
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth import AuthStore
from api.main import create_app
from knowledge.settings import Settings

FUZZ_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
STREAMS = r"/events$"  # server-sent events: an endless stream, not a request/answer
PASSWORD = "fuzz-password-1"
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI fails on code changes, not on luck
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_settings(settings, ingested, fake_rasa, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("fuzz-data") / "data"
    shutil.copytree(settings.data_dir, scratch, ignore=shutil.ignore_patterns("*.lock"))
    return Settings(
        **{
            **settings.model_dump(),
            "data_dir": scratch,
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"fuzz-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{fake_rasa.server_port}",
            "rasa_servers": 1,
        }
    )


@pytest.fixture(scope="module")
def client(fuzz_settings):
    """The app with its lifespan running for the whole module (set-up calls go through this client)."""
    auth = AuthStore(fuzz_settings)
    auth.add_user("fuzz-op", PASSWORD, "operator")
    auth.add_user("fuzz-admin", PASSWORD, "admin")
    with TestClient(create_app(fuzz_settings)) as c:
        yield c
    r = redis.Redis.from_url(fuzz_settings.redis_url)
    for pattern in (f"{fuzz_settings.redis_prefix}:*", f"LIMITS:LIMITER/{fuzz_settings.redis_prefix}/*"):
        for key in r.scan_iter(pattern):
            r.delete(key)


def lifespan_run_elsewhere(app):
    """The app for schemathesis: its lifespan is the client fixture's, so schemathesis' own start and stop (its
    pytest plugin stops it after every test) are answered here and never reach the app."""

    async def asgi(scope, receive, send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return asgi


@pytest.fixture(scope="module")
def api_schema(client):
    return schemathesis.openapi.from_asgi("/openapi.json", lifespan_run_elsewhere(client.app))


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    body = {"username": username, "password": PASSWORD, "want_token": True}
    r = client.post("/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def fuzz(schema, headers: dict[str, str] | None = None, known: dict[str, str] | None = None):
    """Every operation of ``schema``, positive and negative cases; then, where a path names something that
    exists (``known``: path parameter → a real id), positive cases on it too, so the fuzzer gets past the 404s.
    Returns (cases sent, failures)."""
    sent, failures = 0, []
    known = known or {}
    for result in schema.get_all_operations():
        operation = result.ok()
        real = {name: value for name, value in known.items() if "{" + name + "}" in operation.path}
        runs = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if real and operation.method.upper() != "DELETE":  # deleting the one real thing ends the run
            runs.append((GenerationMode.POSITIVE, real))
        for mode, path_parameters in runs:

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            def run(case) -> None:
                nonlocal sent
                sent += 1
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:  # nothing to negate (no parameters, no body)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all operations tried, all reported
                label = f"{operation.label} [{mode.value}{' on ' + str(path_parameters) if path_parameters else ''}]"
                failures.append(f"{label}: {exc}")
    return sent, failures


def test_anonymous(api_schema, client):
    """Everything, as nobody: the public routes do real work, the staff and internal ones must say 401."""
    known = {
        "service_id": client.get("/v1/services").json()["services"][0]["id"],
        "event": client.get("/v1/life-events").json()[0]["id"],
        "source": next(iter(client.app.state.source_texts)),
    }
    sent, failures = fuzz(api_schema.exclude(path_regex=STREAMS), known=known)
    assert not failures, "\n\n".join(failures)
    assert sent > 300


def test_operator(api_schema, client, fuzz_settings):
    ticket = client.post(
        "/v1/handoff/tickets",
        json={"session_id": "fuzz-resident", "reason": "转人工"},
        headers={"X-Minsheng-Internal-Token": fuzz_settings.internal_token},
    )
    assert ticket.status_code == 200, ticket.text
    schema = api_schema.include(path_regex=r"^/v1/(operator/|auth/me$)").exclude(path_regex=STREAMS)
    sent, failures = fuzz(schema, _bearer(client, "fuzz-op"), known={"ticket_id": ticket.json()["id"]})
    assert not failures, "\n\n".join(failures)
    assert sent > 60


def test_admin(api_schema, client):
    headers = _bearer(client, "fuzz-admin")
    known = {
        "doc_id": client.get("/v1/admin/documents", headers=headers).json()[0]["doc_id"],
        "service_id": client.get("/v1/services").json()["services"][0]["id"],
    }
    sent, failures = fuzz(api_schema.include(path_regex=r"^/v1/admin/"), headers, known)
    assert not failures, "\n\n".join(failures)
    assert sent > 300
