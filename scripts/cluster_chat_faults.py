"""Fault scenario under chat load on the cluster mode (issue 16): nothing a resident sends is lost, and no answer
comes from an older index version once every replica serves the new one.

Starts a cluster of its own on loopback (api/cluster.py): a Redis of its own with persistence on (AOF, fsync
every second; port +79 — the machine's shared Redis is never touched), a Chroma server, 2 API replicas behind
the load balancer, 2 Rasa servers, the action server, and a throw-away data dir seeded from var/'s embedding
cache. Needs the trained Rasa model (`minsheng up` trains it). Then 10 residents chat through the balancer
(scripts/chat_load.py: a 503 re-sent after Retry-After, as the widget does, up to 5 times) while:

  1. the API replica api-1 is SIGKILLed, and restarted;
  2. the Rasa server rasa-1 is SIGKILLed (the gateway sends turns to rasa-2), and restarted;
  3. a new document version is published through the balancer (the job runs on whichever replica claims
     it); once it succeeded, the script waits until every replica serves the new version (their /metrics);
  4. the Chroma server is restarted;
  5. Redis is restarted (SIGTERM: it writes its append-only file; then started again on the same files),
     and the script checks the conversations survived it (keys and a resident's history).

Counts turns sent, answered, failed with a clear 503 (each retried), lost (neither answered nor a 503 with a
Chinese message, or still failing after the retries), and mixed: answered turns whose messages come from two
index versions, or that were sent after every replica served the new version and still come from an older one
(each chat message carries the version its answer was composed from). Ends with one line
``cluster: sent=… answered=… failed=… lost=… mixed=…``; exit status 0 when lost=0, mixed=0 and the publish
succeeded. Takes 6–10 minutes on 2 cores (two Rasa servers load their model, twice for rasa-1).
scripts/bench_cluster.py runs the same scenario after its throughput table.

    .venv/bin/python scripts/cluster_chat_faults.py [--keep] [--port 18000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.auth import AuthStore  # noqa: E402
from api.cluster import ClusterStack  # noqa: E402
from api.stack import ensure_model  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from scripts.chat_load import ChatLoad, VersionBook, served_versions  # noqa: E402
from scripts.cluster_faults import ADMIN, big_plan, seeded_data_dir  # noqa: E402


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def cluster_for(port: int, data_dir: Path, prefix: str, **extra: object) -> ClusterStack:
    """The cluster both scripts run: balancer at ``port``, replicas after it, Rasa at +5/+6, the action server
    at +55, our own Redis at +79 and Chroma at +90."""
    settings = Settings(
        data_dir=data_dir,
        demo=True,
        api_port=port,
        rasa_url=f"http://127.0.0.1:{port + 5}",
        rasa_servers=2,
        action_port=port + 55,
        redis_prefix=f"{prefix}{uuid.uuid4().hex[:8]}",
        **{f"rate_{k}": "1000000/minute" for k in ("chat", "chat_session", "search", "answer")},
        **extra,
    )
    return ClusterStack(
        settings, data_dir / "logs", api_replicas=2, chroma_port=port + 90, redis_port=port + 79
    )


@dataclass
class FaultReport:
    sent: int
    answered: int
    failed: int
    lost: int
    mixed: int
    during_switch: int
    kb_unavailable: int
    job_status: str
    redis_kept: bool  # the conversations (keys, residents' histories) survived the Redis restart
    lost_examples: list[str]

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.mixed == 0 and self.job_status == "succeeded" and self.redis_kept

    def line(self) -> str:
        examples = f" ({'; '.join(sorted(set(self.lost_examples))[:5])})" if self.lost else ""
        return (
            f"cluster: sent={self.sent} answered={self.answered} failed={self.failed} lost={self.lost}"
            f" mixed={self.mixed}{examples}"
        )


def publish(admin: httpx.Client) -> tuple[str, dict]:
    """Upload a ~100-chunk plan and publish it: (doc_id, the job)."""
    tag = uuid.uuid4().hex[:6]
    doc_id = f"fault-chat-{tag}"
    meta = (
        f'{{"doc_id": "{doc_id}", "title": "《广西故障演练服务规划{tag}》", "short_title": "故障演练{tag}",'
        ' "region": "guangxi", "period": {"start": 2021, "end": 2025}, "valid_from": "2021-01-01",'
        ' "valid_to": "2025-12-31"}'
    )
    draft = admin.post(
        "/v1/admin/documents",
        files={"file": (f"{doc_id}.txt", big_plan(tag).encode(), "text/plain")},
        data={"meta": meta},
    ).json()
    return doc_id, admin.post(f"/v1/admin/drafts/{draft['id']}/publish").json()


def admin_client(stack: ClusterStack) -> httpx.Client:
    AuthStore(stack.settings).add_user(ADMIN[0], ADMIN[1], "admin")
    admin = httpx.Client(base_url=stack.url, timeout=60)
    login = {"username": ADMIN[0], "password": ADMIN[1], "want_token": True}
    admin.headers["Authorization"] = f"Bearer {admin.post('/v1/auth/login', json=login).json()['token']}"
    return admin


def history_length(stack: ClusterStack, session_id: str) -> int:
    r = httpx.get(f"{stack.url}/v1/chat/{session_id}/history", timeout=60)
    return len(r.json()["entries"]) if r.status_code == 200 else -1


def run_faults(stack: ClusterStack, log: Callable[[str], None] = step, sessions: int = 10) -> FaultReport:
    """The scenario on a running cluster (with its own Redis: ``redis_port``); returns its counts."""
    if stack.redis_port is None:
        raise ValueError("the fault scenario restarts Redis: the cluster needs its own (redis_port)")
    replicas = [stack.api_url(name) for name in stack.api_names()]
    admin = admin_client(stack)
    book = VersionBook()
    [initial] = served_versions(replicas)
    book.switches.append((time.time(), initial))
    store = redis.Redis.from_url(stack.settings.redis_url, socket_timeout=5)
    with ChatLoad(stack.url, sessions) as load:
        time.sleep(20)
        log(f"steady load: {load.snapshot()}; SIGKILL api-1")
        stack.kill("api-1")
        time.sleep(10)
        log(f"{load.snapshot()}; restarting api-1")
        stack.start_one("api-1")
        stack.wait_ready(300, only=["api-1"])
        log(f"api-1 back: {load.snapshot()}; SIGKILL rasa-1")
        stack.kill("rasa-1")
        time.sleep(15)
        doc_id, job = publish(admin)
        log(f"{load.snapshot()}; publishing {doc_id} (job {job['id']}) from {initial}; restarting rasa-1")
        stack.start_one("rasa-1")
        while (job := admin.get(f"/v1/admin/jobs/{job['id']}").json())["status"] not in (
            "succeeded",
            "failed",
        ):
            time.sleep(0.5)
        if job["status"] == "succeeded":
            book.publish(job["version"])
            switched = book.wait_for(replicas, job["version"])
            log(
                f"job succeeded ({job['version']}); every replica serves it"
                f" {switched - book.published[-1][0]:.1f} s later; {load.snapshot()}"
            )
        else:
            log(f"job failed: {job.get('error')}; {load.snapshot()}")
        time.sleep(20)  # turns answered from the new version only
        log(f"{load.snapshot()}; restarting the Chroma server")
        stack.stop(["chroma"])
        time.sleep(3)
        stack.start_one("chroma")
        stack.wait_ready(120, only=["chroma"])
        log(f"Chroma back: {load.snapshot()}")
        time.sleep(10)
        keys_before = store.dbsize()
        histories = {sid: history_length(stack, sid) for sid in load.sessions[:3]}
        log(f"{load.snapshot()}; restarting Redis ({keys_before} keys; AOF, fsync every second)")
        stack.stop(["redis"])
        time.sleep(3)
        stack.start_one("redis")
        stack.wait_ready(60, only=["redis"])
        keys_after = store.dbsize()
        kept = {sid: history_length(stack, sid) for sid in histories}
        survived = all(kept[sid] >= n > 0 for sid, n in histories.items())
        log(
            f"Redis back: {keys_after} keys (before: {keys_before}); residents' histories before → after:"
            f" {', '.join(f'{histories[s]} → {kept[s]}' for s in histories)} (kept: {survived});"
            f" {load.snapshot()}; waiting for rasa-1"
        )
        stack.wait_ready(600, only=["rasa-1"])
        time.sleep(15)
    counts = load.counts
    mixed, during = book.count(load.turns)
    log(
        f"{len(load.turns)} answered turns, {sum(1 for t in load.turns if t.versions)} of them composed from the"
        f" index; answered from the old version while replicas switched: {during}; "
        f"'knowledge base unavailable, try later' replies (Chroma restart): {counts['kb_unavailable']}"
    )
    return FaultReport(
        sent=counts["sent"],
        answered=counts["answered"],
        failed=counts["failed"],
        lost=counts["lost"],
        mixed=mixed,
        during_switch=during,
        kb_unavailable=counts["kb_unavailable"],
        job_status=job["status"],
        redis_kept=survived and keys_after >= keys_before * 0.9,
        lost_examples=load.lost_examples,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="chat under faults on the cluster mode")
    parser.add_argument("--port", type=int, default=18000, help="balancer port (replicas on the next ports)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = parser.parse_args()

    data_dir = seeded_data_dir(args.keep)
    stack = cluster_for(args.port, data_dir, "clusterchat", job_lease_seconds=6.0)
    report = None
    try:
        model = ensure_model(step)
        step(
            f"starting Redis, Chroma, 2 API replicas, the balancer, 2 Rasa servers, the action server ({stack.log_dir})"
        )
        stack.start(model, timeout=900)
        step(f"cluster up at {stack.url}")
        report = run_faults(stack)
        print(report.line(), flush=True)
    finally:
        stack.stop()  # our own Redis goes with it: nothing to clean in the shared one
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if report and report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
