"""Prometheus metrics for whoever runs the cluster (issue 16): ``GET /metrics`` on every API replica.

One registry per app (tests build many apps in one process) and one uvicorn worker per API process — the
deployment's rule anyway (one model per process) — so each replica exposes its own counters and Prometheus
scrapes every replica (pod), summing across them. Nothing here needs prometheus_client's multi-process mode;
running uvicorn with ``--workers`` > 1 would split the counters per worker (don't).

Measured here, without touching the routes:
  minsheng_http_request_duration_seconds{method,route,status}  histogram; route = the route's template
  minsheng_chat_turns_total{kind}       bot messages answered on POST /v1/chat, by message kind
  minsheng_declines_total{reason}       answers declined on POST /v1/answer (the bot asks it every turn)
Observed by api/rasa_client.py:
  minsheng_rasa_request_duration_seconds{server,endpoint,outcome}  histogram; round trip to a Rasa server
      (endpoint webhook = a chat turn, tracker / tracker_events = the tracker rotation; outcome ok, error,
      unreachable) — a chat turn's latency minus this is the API's own share
Of this process (prometheus_client's process collector):
  process_resident_memory_bytes, process_cpu_seconds_total, …   RSS and CPU of the replica
Read from shared state at scrape time (Redis, the retriever):
  minsheng_index_version_info{version}  the index version this replica serves
  minsheng_handoff_queue_length          open hand-offs no operator has taken yet
  minsheng_handoff_oldest_wait_seconds   how long the longest-waiting of them has waited
  minsheng_jobs{status}                  the latest 100 re-index jobs by status (cluster-wide)
  minsheng_job_takeovers                 takeovers recorded in those jobs (a replica died running one)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_OBSERVED_BODIES = {("POST", "/v1/chat"), ("POST", "/v1/answer")}  # small JSON replies, read for the counters


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "minsheng_http_request_duration_seconds",
            "Request latency by route template",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.chat_turns = Counter(
            "minsheng_chat_turns",
            "Bot messages answered on POST /v1/chat, by kind",
            ["kind"],
            registry=self.registry,
        )
        self._state_collector: _StateCollector | None = None
        self.declines = Counter(
            "minsheng_declines",
            "Answers declined on POST /v1/answer, by reason",
            ["reason"],
            registry=self.registry,
        )
        # Observed by api/rasa_client.py around each request to a Rasa server. Rasa works on one turn at a
        # time per process, so this rising while the API's own routes stay fast says: add Rasa replicas.
        self.rasa_rtt = Histogram(
            "minsheng_rasa_request_duration_seconds",
            "Round trip from this API replica to a Rasa server",
            ["server", "endpoint", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)  # RSS and CPU of this replica, for the dashboard

    def watch_state(self, state: Any) -> None:
        """Gauges read from the app's shared state at scrape time (call once the lifespan has built it). A
        lifespan run again on the same app (test harnesses do) replaces the collector instead of doubling it."""
        if self._state_collector is not None:
            self.registry.unregister(self._state_collector)
        self._state_collector = _StateCollector(state)
        self.registry.register(self._state_collector)

    def observe_body(self, method: str, route: str, body: bytes) -> None:
        try:
            reply = json.loads(body)
        except ValueError:
            return
        if route == "/v1/chat":
            for message in reply.get("messages", []) if isinstance(reply, dict) else []:
                self.chat_turns.labels(kind=str(message.get("kind", "unknown"))).inc()
        elif route == "/v1/answer" and isinstance(reply, dict) and reply.get("kind") == "refuse":
            self.declines.labels(reason=str(reply.get("reason") or "unknown")).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector(Collector):
    def __init__(self, state: Any):
        self.state = state

    def collect(self) -> Iterator[Any]:
        state = self.state
        try:
            version = state.retriever.snapshot().version
            info = InfoMetricFamily("minsheng_index_version", "Index version served by this replica")
            info.add_metric([], {"version": str(version)})
            yield info
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because Chroma is away
            log.warning("metrics: index version unknown (%s)", exc)
        try:
            waiting = [t for t in state.conversations.list_tickets("open") if not t.assigned_to]
            now = time.time()
            yield GaugeMetricFamily(
                "minsheng_handoff_queue_length",
                "Open hand-offs no operator has taken yet",
                value=len(waiting),
            )
            yield GaugeMetricFamily(
                "minsheng_handoff_oldest_wait_seconds",
                "Wait of the longest-waiting untaken hand-off",
                value=max((now - t.created_at for t in waiting), default=0.0),
            )
        except Exception as exc:  # noqa: BLE001 - Redis away: no hand-off figures this scrape
            log.warning("metrics: hand-off queue unknown (%s)", exc)
        try:
            jobs = state.jobs.list(100)
            by_status = GaugeMetricFamily(
                "minsheng_jobs", "Latest 100 re-index jobs by status", labels=["status"]
            )
            for status in ("queued", "running", "succeeded", "failed"):
                by_status.add_metric([status], sum(1 for j in jobs if j.status == status))
            yield by_status
            yield GaugeMetricFamily(
                "minsheng_job_takeovers",
                "Takeovers recorded in the latest 100 jobs (a replica died running one)",
                value=sum(len(j.takeovers) for j in jobs),
            )
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: jobs unknown (%s)", exc)


class MetricsMiddleware:
    """Times every HTTP request by route template (unmatched paths share one label: no cardinality blow-up)
    and reads the small JSON bodies of chat and answer replies for the counters."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        chunks: list[bytes] = []
        method = scope.get("method", "GET")

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and (method, scope.get("path")) in _OBSERVED_BODIES:
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.latency.labels(method=method, route=route, status=str(status)).observe(
                time.perf_counter() - started
            )
            if chunks and status == 200:
                self.metrics.observe_body(method, route, b"".join(chunks))
