"""What an operator of the cluster reads (issue 16): JSON log lines with a request id that follows the turn to
Rasa, the Rasa round-trip histogram, the index version each answer was composed from, and the deploy/ files that
use them (the Grafana dashboard's metric names, the autoscaler's adapter rules, /metrics kept off the Ingress).

One app with the fake Rasa REST server of tests/conftest.py; a few requests; fast.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from api.chat_messages import merge_rasa_output
from api.errors import api_routes
from api.json_logs import JsonFormatter, request_id_var
from api.main import create_app
from api.rasa_client import RasaClient, RasaUnavailable
from knowledge.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy"
RTT = "minsheng_rasa_request_duration_seconds"


@pytest.fixture(scope="module")
def app_settings(settings, ingested, fake_rasa):
    return Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"obs-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{fake_rasa.server_port}",
            "rasa_servers": 1,
            "log_format": "json",
            "log_level": "INFO",
        }
    )


@pytest.fixture(scope="module")
def client(app_settings):
    with TestClient(create_app(app_settings)) as c:
        yield c
    import redis

    store = redis.Redis.from_url(app_settings.redis_url)
    for key in store.scan_iter(f"{app_settings.redis_prefix}:*"):
        store.delete(key)


def json_lines(text: str) -> list[dict]:
    """Every line the app wrote to stderr must be one JSON object."""
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line[:200]}")
    return parsed


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def total(scraped: dict, name: str, **labels: str) -> float:
    return sum(
        v for (n, lbl), v in scraped.items() if n == name and all((k, w) in lbl for k, w in labels.items())
    )


# --- request id and JSON logs ---------------------------------------------------------------------------------


def test_request_id_comes_back_reaches_rasa_and_is_in_the_json_log_lines(client, fake_rasa, capsys):
    capsys.readouterr()  # what the app logged while starting
    rid = f"test-{uuid.uuid4().hex[:12]}"
    r = client.post(
        "/v1/chat",
        json={"session_id": f"obs-{uuid.uuid4().hex[:6]}", "message": "低保怎么申请，我电话13812345678"},
        headers={"X-Request-ID": rid},
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == rid
    # carried to Rasa: as a header and in the message metadata (which Rasa hands to the action server)
    headers, body = fake_rasa.requests[-1]
    assert {k.lower(): v for k, v in headers.items()}["x-request-id"] == rid
    assert body["metadata"]["request_id"] == rid

    lines = json_lines(capsys.readouterr().err)
    mine = [line for line in lines if line.get("request_id") == rid]
    access = [line for line in mine if line["logger"] == "minsheng.access"]
    assert access and access[0]["route"] == "/v1/chat" and access[0]["status"] == 200, mine
    assert access[0]["duration_ms"] >= 0 and access[0]["method"] == "POST"
    assert any(line["logger"] == "api.rasa_client" and line["outcome"] == "ok" for line in mine), mine
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)


def test_a_missing_or_unusable_request_id_is_replaced_by_a_fresh_one(client):
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    bad = client.get("/healthz", headers={"X-Request-ID": "no spaces please " + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    # an error answer carries it too (the CORS layer exposes it to the widget's page)
    missing = client.get("/v1/services/no-such-service", headers={"X-Request-ID": "err-1"})
    assert missing.status_code == 404 and missing.headers["x-request-id"] == "err-1"


def test_an_unexpected_500_carries_the_request_id_too():
    """The 500 handler runs outside the middleware (Starlette's ServerErrorMiddleware); the id stays bound."""
    from fastapi import FastAPI

    from api import errors
    from api.request_id import RequestIdMiddleware

    app = FastAPI()
    errors.install(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    r = TestClient(app, raise_server_exceptions=False).get("/boom", headers={"X-Request-ID": "rid-500"})
    assert (
        r.status_code == 500
        and r.headers["x-request-id"] == "rid-500"
        and r.json()["code"] == "internal_error"
    )


def test_json_lines_mask_personal_data_and_carry_the_bound_request_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.observability")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id_var.set("rid-mask")
    try:
        logger.warning(
            "resident typed %s and %s",
            "13812345678",
            "110101199003071233",
            extra={"note": "mail me at someone@example.com"},
        )
        try:
            raise ValueError("card 4111111111111111")
        except ValueError:
            logger.exception("failed")
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "rid-mask" and first["level"] == "warning"
    assert "13812345678" not in first["msg"] and "138****5678" in first["msg"]
    assert "110101199003071233" not in first["msg"]
    assert first["note"] == "mail me at s***@example.com"
    assert "4111111111111111" not in second["exc"] and "ValueError" in second["exc"]


# --- Rasa round-trip histogram --------------------------------------------------------------------------------


def test_the_rasa_round_trip_histogram_moves_after_a_chat_turn(client, fake_rasa):
    server = f"http://127.0.0.1:{fake_rasa.server_port}"
    before = samples(client)
    r = client.post("/v1/chat", json={"session_id": f"obs-{uuid.uuid4().hex[:6]}", "message": "你好"})
    assert r.status_code == 200, r.text
    after = samples(client)
    labels = {"server": server, "endpoint": "webhook", "outcome": "ok"}
    assert total(after, f"{RTT}_count", **labels) == total(before, f"{RTT}_count", **labels) + 1
    assert total(after, f"{RTT}_sum", **labels) > total(before, f"{RTT}_sum", **labels)
    assert total(after, f"{RTT}_bucket", le="+Inf", **labels) == total(after, f"{RTT}_count", **labels)


def test_an_unreachable_rasa_server_is_timed_as_unreachable():
    registry = CollectorRegistry()
    histogram = Histogram("rtt", "test", ["server", "endpoint", "outcome"], registry=registry)
    client = RasaClient(
        Settings(rasa_url="http://127.0.0.1:9", rasa_servers=1, rasa_timeout_seconds=1), histogram
    )
    with pytest.raises(RasaUnavailable):
        client.send("s", "你好")
    client.close()
    labels = {"server": "http://127.0.0.1:9", "endpoint": "webhook", "outcome": "unreachable"}
    assert registry.get_sample_value("rtt_count", labels) == 1


# --- the index version an answer was composed from ------------------------------------------------------------


def test_answers_report_the_index_version_they_were_composed_from(client):
    served = client.get("/healthz").json()["index_version"]
    reply = client.post("/v1/answer", json={"question": "孕前优生健康检查免费吗"})
    assert reply.status_code == 200 and reply.json()["index_version"] == served
    again = client.post("/v1/answer", json={"question": "孕前优生健康检查免费吗"})  # from the memo
    assert again.json()["index_version"] == served
    # the action server copies it into the chat message; the gateway keeps it
    [message] = merge_rasa_output(
        [
            {
                "custom": {
                    "kind": "answer",
                    "text": "好",
                    "citations": [],
                    "buttons": [],
                    "index_version": served,
                }
            }
        ]
    )
    assert message.index_version == served


# --- deploy/: dashboard, autoscaling, ingress ------------------------------------------------------------------

_METRIC = re.compile(r"\b((?:minsheng|process)_[a-z_]+)\b")


def exported_names(client: TestClient) -> set[str]:
    client.post("/v1/answer", json={"question": "火星移民补贴怎么申请"})  # a decline, so its counter exists
    return {name for name, _ in samples(client)}


def test_the_grafana_dashboard_uses_only_metrics_the_api_exports(client):
    dashboard = json.loads((DEPLOY / "grafana" / "minsheng-dashboard.json").read_text(encoding="utf-8"))
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    assert used - exported_names(client) == set()
    assert {
        f"{RTT}_bucket",
        "minsheng_chat_turns_total",
        "minsheng_http_request_duration_seconds_bucket",
    } <= used


def test_the_autoscalers_latency_metrics_come_from_exported_histograms(client):
    adapter = yaml.safe_load((DEPLOY / "prometheus-adapter" / "values.yaml").read_text(encoding="utf-8"))
    rules = adapter["rules"]["custom"] + adapter["rules"]["external"]
    exported = exported_names(client)
    for rule in rules:
        assert set(_METRIC.findall(rule["seriesQuery"] + rule["metricsQuery"])) <= exported, rule
    provided = {rule["name"]["as"] for rule in rules}
    hpas = list(yaml.safe_load_all((DEPLOY / "k8s" / "hpa.yaml").read_text(encoding="utf-8")))
    wanted = {
        m[m["type"].lower()]["metric"]["name"]
        for hpa in hpas
        for m in hpa["spec"]["metrics"]
        if m["type"] in ("Pods", "External")
    }
    assert wanted and wanted <= provided
    by_name = {hpa["metadata"]["name"]: {m["type"] for m in hpa["spec"]["metrics"]} for hpa in hpas}
    assert {"Resource", "Pods"} <= by_name["api"] and {"Resource", "External"} <= by_name["rasa"]


def _ingress_matches(path: str, rules: list[tuple[str, str]]) -> bool:
    for rule_path, kind in rules:
        if kind == "Exact" and path == rule_path:
            return True
        if kind == "Prefix" and (
            rule_path == "/" or path == rule_path or path.startswith(rule_path.rstrip("/") + "/")
        ):
            return True
    return False


def test_the_ingress_routes_every_public_path_but_not_metrics(client):
    ingresses = list(yaml.safe_load_all((DEPLOY / "k8s" / "ingress.yaml").read_text(encoding="utf-8")))
    rules = [
        (p["path"], p["pathType"])
        for ing in ingresses
        for rule in ing["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]
    for bad in ("/metrics", "/metrics/", "/metrics/x"):
        assert not _ingress_matches(bad, rules), bad
    app = client.app
    paths = {route.path for route, _ in api_routes(app.router.routes)}
    paths |= {getattr(route, "path", "") for route in app.routes} - {""}
    public = {re.sub(r"\{[^}]+\}", "x", p) for p in paths} - {"/metrics"}
    assert public and not [p for p in public if not _ingress_matches(p, rules)]
    # and the compose entry point refuses it
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert re.search(r"location \^~ /metrics \{\s*return 403;", nginx)


def test_dashboard_file_is_importable_json():
    path = Path(DEPLOY / "grafana" / "minsheng-dashboard.json")
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
