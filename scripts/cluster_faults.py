"""Fault scenario on the cluster mode (issue 16): a publish job survives the API replica running it.

Starts a cluster of its own on loopback (api/cluster.py: Chroma server, 2 API replicas behind the load
balancer, Redis at MINSHENG_REDIS_URL under a fresh key prefix; no Rasa — the scenario is about jobs), with
a throw-away data dir seeded from var/'s embedding cache. Then, under a steady search load through the
balancer:

  1. uploads a ~100-chunk document and publishes it through the balancer;
  2. SIGKILLs the replica running the job while it is embedding (no shutdown, no lease released);
  3. waits for the other replica to take the job over and finish it (lease: MINSHENG_JOB_LEASE_SECONDS,
     6 s here);
  4. checks the new version is served by the survivor, restarts the killed replica, and checks it too.

Prints each step and ends with one line
``cluster-faults: job=… taken_over_by=… searches sent=… ok=… failed_503=… lost=…`` (lost: a request that got
neither an answer nor a clear 503). Exit status 0 when the job succeeded after a takeover and lost=0.
Takes about 2–4 minutes (two model loads, one Chroma ingest): not in the pytest suite, whose in-process
tests (tests/api/test_jobs_takeover.py, test_cluster_*.py) cover the same logic.

    .venv/bin/python scripts/cluster_faults.py [--keep] [--port 18000]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.auth import AuthStore  # noqa: E402
from api.cluster import ClusterStack  # noqa: E402
from knowledge.settings import REPO_ROOT, Settings  # noqa: E402

CN = "一二三四五六七八九十"
ADMIN = ("faultadmin", "fault-admin-pass-2025")


def big_plan(tag: str) -> str:
    """A plan of 10 chapters × 5 sections with unique wording (nothing in the embedding cache)."""
    parts = [f"广西故障演练服务规划{tag}\n"]
    for c in range(10):
        parts.append(f"第{CN[c]}章 演练任务{tag}{c}\n")
        for s in range(5):
            service = f"故障演练{tag}第{c}{s}项专项服务"
            parts.append(f"第{CN[s]}节 {service}\n")
            parts.append(
                f"为辖区内常住居民免费提供{service}，每年不少于{c + s + 1}次，所需经费由财政保障，"
                f"由县级卫生健康部门会同民政部门组织实施，编号{tag}-{c}-{s}。\n"
            )
            parts.append(
                f"各地要建立{service}台账，按季度公布服务人次和满意度，对困难群众优先安排，"
                f"确保{service}在{2021 + c % 5}年底前覆盖全部乡镇（街道）。\n"
            )
    return "\n".join(parts)


class SearchLoad:
    """Threads searching through the balancer until stopped; counts outcomes."""

    def __init__(self, url: str, threads: int = 4):
        self.url, self.stop_event = url, threading.Event()
        self.sent = self.ok = self.failed_503 = self.lost = 0
        self.lost_examples: list[str] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> SearchLoad:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop_event.is_set():
                try:
                    r = http.post("/v1/search", json={"query": "孕前优生健康检查", "top_k": 3})
                    outcome = (
                        "ok"
                        if r.status_code == 200
                        else "503"
                        if r.status_code == 503
                        else f"{r.status_code}"
                    )
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with self._lock:
                    self.sent += 1
                    if outcome == "ok":
                        self.ok += 1
                    elif outcome == "503":
                        self.failed_503 += 1
                    else:
                        self.lost += 1
                        self.lost_examples.append(outcome)
                time.sleep(0.05)


def seeded_data_dir(keep: bool) -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="minsheng-cluster-faults-"))
    cache = REPO_ROOT / "var" / "embeddings.sqlite"
    if cache.exists():  # the shipped plans then embed nothing
        with sqlite3.connect(cache) as src, sqlite3.connect(data_dir / "embeddings.sqlite") as dst:
            src.backup(dst)
    return data_dir


def main() -> int:
    parser = argparse.ArgumentParser(description="publish job survives a killed API replica")
    parser.add_argument("--port", type=int, default=18000, help="balancer port (replicas on the next ports)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = parser.parse_args()

    data_dir = seeded_data_dir(args.keep)
    settings = Settings(
        data_dir=data_dir,
        demo=True,
        api_port=args.port,
        redis_prefix=f"clusterfaults{uuid.uuid4().hex[:8]}",
        job_lease_seconds=6.0,
        rate_search="100000/minute",
    )
    stack = ClusterStack(
        settings, data_dir / "logs", api_replicas=2, chroma_port=args.port + 90, dialogue=False
    )
    t0 = time.monotonic()
    print(
        f"starting Chroma server, ingest, 2 API replicas and the balancer (logs: {stack.log_dir}) …",
        flush=True,
    )
    result = {"job": "not run", "taken_over_by": "-"}
    ok = False
    try:
        stack.start(None, timeout=600)
        print(f"cluster up in {time.monotonic() - t0:.0f} s at {stack.url}", flush=True)
        AuthStore(stack.settings).add_user(ADMIN[0], ADMIN[1], "admin")
        http = httpx.Client(base_url=stack.url, timeout=60)
        token = http.post(
            "/v1/auth/login", json={"username": ADMIN[0], "password": ADMIN[1], "want_token": True}
        ).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        tag = uuid.uuid4().hex[:6]
        doc_id = f"fault-drill-{tag}"
        meta = (
            f'{{"doc_id": "{doc_id}", "title": "《广西故障演练服务规划{tag}》", "short_title": "故障演练{tag}",'
            ' "region": "guangxi", "period": {"start": 2021, "end": 2025}, "valid_from": "2021-01-01",'
            ' "valid_to": "2025-12-31"}'
        )
        with SearchLoad(stack.url) as load:
            r = http.post(
                "/v1/admin/documents",
                files={"file": (f"{doc_id}.txt", big_plan(tag).encode(), "text/plain")},
                data={"meta": meta},
            )
            r.raise_for_status()
            draft = r.json()
            print(f"draft {draft['id']}: {draft['preview']['chunk_count']} chunks", flush=True)
            job = http.post(f"/v1/admin/drafts/{draft['id']}/publish").json()
            deadline = time.monotonic() + 300
            while True:
                job = http.get(f"/v1/admin/jobs/{job['id']}").json()
                if job["status"] == "running" and job["stage"] == "embed":
                    break
                if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                    raise RuntimeError(f"the job never reached the embedding stage while running: {job}")
                time.sleep(0.1)
            pid = int(job["runner"].split(":")[1])
            victim = next(n for n in stack.api_names() if stack.processes[n].pid == pid)
            print(f"job {job['id']} embedding on {victim} ({job['percent']}%): SIGKILL {victim}", flush=True)
            killed_at = time.monotonic()
            stack.kill(victim)
            while (job := http.get(f"/v1/admin/jobs/{job['id']}").json())["status"] not in (
                "succeeded",
                "failed",
            ):
                if time.monotonic() - killed_at > 600:
                    raise RuntimeError(f"job not finished 10 minutes after the kill: {job}")
                time.sleep(0.2)
            took = time.monotonic() - killed_at
            takeovers = job.get("takeovers", [])
            survivor = next(
                (n for n in stack.api_names() if f":{stack.processes[n].pid}:" in job["runner"]),
                job["runner"],
            )
            result = {"job": job["status"], "taken_over_by": survivor if takeovers else "-"}
            print(
                f"job {job['status']} {took:.1f} s after the kill, on {survivor}; takeovers: "
                + "; ".join(
                    f"{t['from_runner']} → {t['by_runner']} at {t['stage']} {t['percent']}%"
                    for t in takeovers
                ),
                flush=True,
            )
            probe = {"query": f"故障演练{tag}第00项专项服务", "top_k": 3}
            served = httpx.post(f"{stack.api_url(survivor)}/v1/search", json=probe, timeout=60).json()
            survivor_ok = served["version"] == job["version"] and served["hits"][0]["source"].startswith(
                doc_id
            )
            print(f"{survivor} serves {served['version']} with the new document: {survivor_ok}", flush=True)
            stack.start_one(victim)
            stack.wait_ready(300, only=[victim])
            served = httpx.post(f"{stack.api_url(victim)}/v1/search", json=probe, timeout=60).json()
            victim_ok = served["version"] == job["version"] and served["hits"][0]["source"].startswith(doc_id)
            print(
                f"{victim} restarted, serves {served['version']} with the new document: {victim_ok}",
                flush=True,
            )
        ok = job["status"] == "succeeded" and bool(takeovers) and survivor_ok and victim_ok and load.lost == 0
        print(
            f"cluster-faults: job={result['job']} taken_over_by={result['taken_over_by']} "
            f"searches sent={load.sent} ok={load.ok} failed_503={load.failed_503} lost={load.lost}"
            + (f" ({', '.join(sorted(set(load.lost_examples)))})" if load.lost else ""),
            flush=True,
        )
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            import redis

            client = redis.Redis.from_url(settings.redis_url)
            for key in client.scan_iter(f"{settings.redis_prefix}:*"):
                client.delete(key)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
