"""Two API replicas (issue 16): two apps, each served by its own uvicorn server on loopback, on one Redis
prefix, one Chroma and one shared data dir — what `minsheng up --cluster` and the manifests run.

Whichever replica each side is on: a resident's message during a hand-off, sent through replica A, reaches
an operator's live stream on replica B, and B's reply reaches the resident's stream on A (Redis pub/sub); the
per-conversation rate limit counts the turns sent to both; a document published by a job accepted on A is
seen in B's job view and answered from by B once B serves the new version (the answer memo is keyed by index
version, so B's memo of the old answer is never served after its switch).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
import uuid

import httpx
import pytest
import redis
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from api.auth import AuthStore
from api.main import create_app
from knowledge.ingest import ingest
from knowledge.settings import Settings
from tests.plans import meta_json, plan_text

OPERATOR, ADMIN = ("clusterop", "operator-pass-123"), ("clusteradmin", "admin-pass-1234")


class Replica:
    """One API process: an app and its uvicorn server in a thread, on an ephemeral loopback port."""

    def __init__(self, settings: Settings):
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 180
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "replica did not start"
            time.sleep(0.1)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def login(self, user: tuple[str, str]) -> dict[str, str]:
        # not through self.http: its cookie jar would keep the staff session, and staff are not rate limited
        body = {"username": user[0], "password": user[1], "want_token": True}
        r = httpx.post(f"{self.url}/v1/auth/login", json=body, timeout=60)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(30)


class Stream:
    """An SSE stream read in a thread: events land in a queue as (event, data)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None):
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(60, read=None))
        self.status: int | None = None
        threading.Thread(target=self._read, args=(url, headers or {}), daemon=True).start()
        self.next("ready")  # subscribed: nothing published from now on is missed

    def _read(self, url: str, headers: dict[str, str]) -> None:
        event = "message"
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        self.events.put((event, json.loads(line[5:].strip() or "{}")))
                        event = "message"
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test

    def next(self, event: str, match=lambda data: True, timeout: float = 20) -> dict:
        deadline, seen = time.monotonic() + timeout, []
        while (left := deadline - time.monotonic()) > 0:
            try:
                name, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if name == event and match(data):
                return data
            seen.append(name)
        raise AssertionError(f"no {event!r} event within {timeout} s (saw {seen}; stream: {self.status})")

    def close(self) -> None:
        self._client.close()


@pytest.fixture(scope="module")
def cluster_settings(settings, ingested, fake_rasa, tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("cluster-data")
    with (
        sqlite3.connect(settings.data_dir / "embeddings.sqlite") as src,
        sqlite3.connect(data_dir / "embeddings.sqlite") as dst,
    ):
        src.backup(dst)
    shared = Settings(
        **{
            **settings.model_dump(),
            "data_dir": data_dir,
            "redis_url": "redis://127.0.0.1:6379/9",
            "redis_prefix": f"cluster-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{fake_rasa.server_address[1]}",
            "rasa_servers": 1,
            "rate_chat_session": "5/minute",
        }
    )
    ingest(shared)
    auth = AuthStore(shared)
    auth.add_user(OPERATOR[0], OPERATOR[1], "operator")
    auth.add_user(ADMIN[0], ADMIN[1], "admin")
    yield shared
    client = redis.Redis.from_url(shared.redis_url)
    for key in client.scan_iter(f"{shared.redis_prefix}:*"):
        client.delete(key)


@pytest.fixture(scope="module")
def replicas(cluster_settings):
    a = Replica(cluster_settings)
    try:
        b = Replica(cluster_settings)
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


def open_handoff(replica: Replica, settings: Settings, session_id: str) -> dict:
    r = replica.http.post(
        "/v1/handoff/tickets",
        json={"session_id": session_id, "reason": "想找人工"},
        headers={"X-Minsheng-Internal-Token": settings.internal_token},
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_handoff_messages_cross_replicas_both_ways(replicas, cluster_settings):
    a, b = replicas
    sid = f"cluster-{uuid.uuid4().hex[:8]}"
    operator_stream = Stream(f"{b.url}/v1/operator/events", b.login(OPERATOR))
    resident_stream = Stream(f"{a.url}/v1/chat/{sid}/events")
    try:
        ticket = open_handoff(a, cluster_settings, sid)
        opened = operator_stream.next("ticket_opened", lambda e: e["data"]["session_id"] == sid)
        assert opened["data"]["id"] == ticket["id"]

        # the resident writes through A: the operator on B sees it live
        r = a.http.post("/v1/chat", json={"session_id": sid, "message": "我的低保申请到哪一步了？"})
        assert r.status_code == 200 and r.json()["messages"] == [], r.text
        said = operator_stream.next("resident_message", lambda e: e["data"]["session_id"] == sid)
        assert said["data"]["text"] == "我的低保申请到哪一步了？"

        # the operator answers on B: the resident's stream on A gets it, and so does A's history
        r = b.http.post(
            f"/v1/operator/tickets/{ticket['id']}/reply",
            json={"text": "您好，已转给街道办，三个工作日内回复。"},
            headers=b.login(OPERATOR),
        )
        assert r.status_code == 200, r.text
        heard = resident_stream.next("message")
        assert heard["role"] == "operator" and heard["text"] == "您好，已转给街道办，三个工作日内回复。"
        history = a.http.get(f"/v1/chat/{sid}/history").json()
        assert history["handoff_active"] and history["entries"][-1]["text"] == heard["text"]
    finally:
        operator_stream.close()
        resident_stream.close()


def test_the_conversation_rate_limit_counts_turns_on_every_replica(replicas):
    a, b = replicas
    sid = f"cluster-rate-{uuid.uuid4().hex[:8]}"
    codes = [
        (a if i % 2 == 0 else b).http.post("/v1/chat", json={"session_id": sid, "message": f"第{i}个问题"})
        for i in range(7)
    ]
    # 5 per minute per conversation, wherever the turns land: 3 went to A and 2 to B before the refusals
    assert [r.status_code for r in codes] == [200] * 5 + [429, 429]
    assert all(int(r.headers["retry-after"]) >= 1 and "请求太频繁" in r.json()["detail"] for r in codes[5:])


def test_a_publish_on_one_replica_is_served_by_the_other_without_stale_memo(replicas):
    a, b = replicas
    admin_a, admin_b = a.login(ADMIN), b.login(ADMIN)
    question = {"question": "社区跨副本验证专项服务每年几次，免费吗", "region": "guangxi"}
    before = b.http.post("/v1/search", json={"query": "社区跨副本验证专项服务"}).json()["version"]
    stale = b.http.post("/v1/answer", json=question).json()  # memoised on B under the old version
    assert not any(c["source"].startswith("test-cross-replica") for c in stale["citations"])

    text = plan_text("广西跨副本验证服务规划", "社区跨副本验证专项服务")
    r = a.http.post(
        "/v1/admin/documents",
        files={"file": ("cross.txt", text.encode(), "text/plain")},
        data={"meta": meta_json("test-cross-replica", "《广西跨副本验证服务规划》")},
        headers=admin_a,
    )
    assert r.status_code == 201, r.text
    r = a.http.post(f"/v1/admin/drafts/{r.json()['id']}/publish", headers=admin_a)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 300
    while (job := b.http.get(f"/v1/admin/jobs/{job_id}", headers=admin_b).json())["status"] not in (
        "succeeded",
        "failed",
    ):  # B's console follows the job, wherever it runs
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    assert job["status"] == "succeeded" and job["version"] != before, job

    deadline = time.monotonic() + 60
    while (
        b.http.post("/v1/search", json={"query": "社区跨副本验证专项服务"}).json()["version"]
        != job["version"]
    ):
        assert time.monotonic() < deadline, "replica B never switched to the new version"
        time.sleep(0.2)
    fresh = b.http.post("/v1/answer", json=question).json()
    assert fresh != stale and any(c["source"].startswith("test-cross-replica") for c in fresh["citations"]), (
        fresh
    )


def scrape(replica: Replica) -> dict[tuple[str, tuple], float]:
    r = replica.http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def test_each_replica_exposes_prometheus_metrics(replicas):
    """Runs after the tests above: their turns, refusals and the publish job show in the counters."""
    a, b = replicas
    questions = ["火星移民补贴怎么申请", "孕前优生健康检查免费吗"]
    kinds = [b.http.post("/v1/answer", json={"question": q}).json()["kind"] for q in questions]
    on_a, on_b = scrape(a), scrape(b)

    def total(samples: dict, name: str, **labels) -> float:
        return sum(
            v
            for (n, lbl), v in samples.items()
            if n == name and all((k, w) in lbl for k, w in labels.items())
        )

    # chat turns by reply kind, on both replicas (the rate-limit test sent turns to each)
    assert total(on_a, "minsheng_chat_turns_total") >= 3 and total(on_b, "minsheng_chat_turns_total") >= 2
    # request latency by route template, the refused turns included
    assert total(on_a, "minsheng_http_request_duration_seconds_count", route="/v1/chat", status="200") >= 3
    assert total(on_a, "minsheng_http_request_duration_seconds_count", route="/v1/chat", status="429") >= 1
    assert total(on_b, "minsheng_http_request_duration_seconds_count", route="/v1/answer") >= 2
    # declines by reason: exactly the refusals B gave
    assert total(on_b, "minsheng_declines_total") == kinds.count("refuse") + 0.0
    # shared state: the same index version, the jobs, the hand-off queue, on either replica
    version = b.http.post("/v1/search", json={"query": "低保"}).json()["version"]
    for samples in (on_a, on_b):
        assert samples[("minsheng_index_version_info", (("version", version),))] == 1.0
        assert total(samples, "minsheng_jobs", status="succeeded") >= 1
        assert ("minsheng_handoff_queue_length", ()) in samples
        assert ("minsheng_job_takeovers", ()) in samples
