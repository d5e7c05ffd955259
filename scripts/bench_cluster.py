"""Chat throughput of the cluster mode (issue 16): 1 vs 2 API replicas × 1 vs 2 Rasa servers.

One cluster of its own (api/cluster.py: Chroma server, 2 API replicas behind the balancer, 2 Rasa servers,
the action server; ports from 18000, a fresh Redis prefix, a throw-away data dir). The configurations are made
from it instead of restarting it four times: "1 API" sends the residents straight to api-1 (the action server
still calls the API through the balancer), "2 API" through the balancer; "1 Rasa" is rasa-2 stopped (the
gateway sends every turn to rasa-1), "2 Rasa" both. For each and each load (default 20 and 50 residents
chatting without pause for --seconds), prints turns/s, p50/p95 turn latency, CPU seconds per turn (all
cluster processes), then RSS per process, and ends with
``cluster: sent=… answered=… failed=… lost=… mixed=n/a``.

On a 2-core machine the replicas compete for the same cores, so this shows what scales with cores and what
does not; docs/scale-out.md has a run and what it means for node sizing. Needs the trained Rasa model
(`minsheng up` trains it). About 3 + 8 × seconds/60 minutes.

    .venv/bin/python scripts/bench_cluster.py [--seconds 20] [--sessions 20,50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.cluster import ClusterStack  # noqa: E402
from api.stack import ensure_model  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from scripts.cluster_faults import seeded_data_dir  # noqa: E402

TURNS = ["孕前检查免费吗", "低保怎么申请", "老年人有什么健康服务", "你好", "残疾人有哪些补贴", "谢谢"]
CLOCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes and their children (the Rasa launcher's server, …)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / CLOCK  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_load(url: str, sessions: int, seconds: float, totals: dict[str, int]) -> tuple[int, list[float]]:
    """Residents chatting without pause; a 503 is retried after Retry-After (as the widget does)."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    tag = uuid.uuid4().hex[:6]

    def resident(i: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            n = 0
            while time.monotonic() < stop:
                message = TURNS[n % len(TURNS)]
                n += 1
                with lock:
                    totals["sent"] += 1
                for _ in range(6):
                    t0 = time.perf_counter()
                    try:
                        r = http.post("/v1/chat", json={"session_id": f"bench-{tag}-{i}", "message": message})
                    except httpx.HTTPError:
                        with lock:
                            totals["lost"] += 1
                        break
                    if r.status_code == 200:
                        with lock:
                            totals["answered"] += 1
                            latencies.append(time.perf_counter() - t0)
                        break
                    if r.status_code == 503:
                        with lock:
                            totals["failed"] += 1
                        time.sleep(float(r.headers.get("retry-after", "1")))
                        continue
                    with lock:
                        totals["lost"] += 1
                    break
                else:
                    with lock:
                        totals["lost"] += 1

    threads = [threading.Thread(target=resident, args=(i,), daemon=True) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 180)
    return len(latencies), latencies


def main() -> int:
    parser = argparse.ArgumentParser(description="cluster chat throughput")
    parser.add_argument("--port", type=int, default=18000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sessions", default="20,50")
    args = parser.parse_args()
    loads = [int(x) for x in args.sessions.split(",")]
    p = args.port
    data_dir = seeded_data_dir(False)
    settings = Settings(
        data_dir=data_dir,
        demo=True,
        api_port=p,
        rasa_url=f"http://127.0.0.1:{p + 5}",
        rasa_servers=2,
        action_port=p + 55,
        redis_prefix=f"benchcluster{uuid.uuid4().hex[:8]}",
        **{f"rate_{k}": "1000000/minute" for k in ("chat", "chat_session", "search", "answer")},
    )
    stack = ClusterStack(settings, data_dir / "logs", api_replicas=2, chroma_port=p + 90)
    totals = {"sent": 0, "answered": 0, "failed": 0, "lost": 0}
    try:
        stack.start(ensure_model(print), timeout=900)
        pids = [proc.pid for proc in stack.processes.values()]
        print(
            f"{'API':>3} {'Rasa':>4} {'sessions':>8} {'turns/s':>8} {'p50 s':>6} {'p95 s':>6} {'CPU s/turn':>10}"
        )
        for rasa in (2, 1):
            if rasa == 1:  # RSS with everything loaded and warm, before rasa-2 goes
                rss = {name: rss_mb(proc.pid) for name, proc in stack.processes.items()}
                stack.stop(["rasa-2"])
            for api in (1, 2):
                url = stack.url if api == 2 else stack.api_url("api-1")
                run_load(url, 4, 5, {"sent": 0, "answered": 0, "failed": 0, "lost": 0})  # warm up
                for sessions in loads:
                    cpu0, t0 = cpu_seconds(pids), time.monotonic()
                    answered, latencies = run_load(url, sessions, args.seconds, totals)
                    wall, cpu = time.monotonic() - t0, cpu_seconds(pids) - cpu0
                    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 20 else [float("nan")] * 19
                    print(
                        f"{api:>3} {rasa:>4} {sessions:>8} {answered / wall:>8.1f} {statistics.median(latencies):>6.2f}"
                        f" {q[18]:>6.2f} {cpu / max(1, answered):>10.3f}",
                        flush=True,
                    )
        print(
            "RSS per process after the 2-Rasa runs (MB): "
            + ", ".join(f"{n} {mb:.0f}" for n, mb in rss.items())
        )
        print(
            f"cluster: sent={totals['sent']} answered={totals['answered']} failed={totals['failed']} "
            f"lost={totals['lost']} mixed=n/a",
            flush=True,
        )
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        for key in client.scan_iter(f"{settings.redis_prefix}*"):
            client.delete(key)
    return 0 if totals["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
