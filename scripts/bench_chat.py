"""Chat benchmark through POST /v1/chat on a real local stack (API → Rasa REST → action server → API).

Prints: stack start-up time, Rasa train time (with --train), turn latency p50/p95 and turns/s for one
session and for 20 concurrent sessions (20 turns each), turn-10 vs turn-300 latency of one long
conversation, RSS of each process. Numbers only; targets live in docs/benchmarks.md.

Run: .venv/bin/python scripts/bench_chat.py [--train] [--long 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from api.stack import Stack, ensure_model
from knowledge.ingest import ingest
from knowledge.settings import Settings

QUESTIONS = [
    "准备要孩子了，孕前检查免费吗",
    "银川的公租房谁能申请",
    "广西呢",
    "要钱吗",
    "我在柳州，老人八十了，社区有养老服务吗",
    "宁夏低保户看病有救助吗",
    "孩子上初中，家里困难，有生活补助吗",
    "失业了能参加免费技能培训吗",
    "谢谢",
    "退伍军人回来有什么安置政策",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    return f"p50 {statistics.median(samples):.0f} ms, p95 {q[94]:.0f} ms (n={len(samples)})"


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (Rasa spawns helpers); processes that ended meanwhile are left out."""
    found, pending = [], [pid]
    while pending:
        p = pending.pop()
        try:
            pending += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
            found.append(p)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def memory_mb(pid: int, field: str = "Rss") -> float:
    """Rss or Pss of a process tree. Pss splits pages shared between processes (TensorFlow's libraries in two Rasa
    servers) among them, so it sums to what the stack really occupies."""
    total = 0
    for p in process_tree(pid):
        lines = _read(f"/proc/{p}/smaps_rollup").splitlines()
        total += sum(int(line.split()[1]) for line in lines if line.startswith(f"{field}:"))
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree."""
    ticks = 0
    for p in process_tree(pid):
        stat = _read(f"/proc/{p}/stat")
        if stat:
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def turn(client: httpx.Client, session: str, text: str) -> float:
    t = time.perf_counter()
    r = client.post("/v1/chat", json={"session_id": session, "message": text})
    r.raise_for_status()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", action="store_true", help="retrain the Rasa model and time it")
    parser.add_argument("--long", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()

    if args.train:
        t = time.perf_counter()
        ensure_model(force=True)
        print(f"rasa train: {time.perf_counter() - t:.0f} s")
    model = ensure_model()

    with tempfile.TemporaryDirectory(prefix="minsheng-chat-bench-") as tmp:
        base = Settings()
        settings = Settings(
            data_dir=Path(tmp),
            api_port=free_port(),
            rasa_url=f"http://127.0.0.1:{free_port()}",
            action_port=free_port(),
            redis_url="redis://127.0.0.1:6379/5",
            redis_prefix=f"bench-{uuid.uuid4().hex[:6]}",
            demo=True,  # loopback, published development tokens
            # every session comes from this one client: limits far above what the benchmark sends
            rate_chat="100000/minute",
            rate_chat_session="100000/minute",
            rate_feedback="100000/minute",
            rate_feedback_session="100000/minute",
        )
        cache = base.data_dir / "embeddings.sqlite"
        if cache.exists():
            shutil.copy2(cache, settings.data_dir / "embeddings.sqlite")
        ingest(settings)
        t = time.perf_counter()
        stack = Stack(settings, settings.data_dir / "logs").start(model, timeout=400)
        print(f"stack start-up (actions + Rasa + API ready): {time.perf_counter() - t:.0f} s")
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=120) as client:
                turn(client, "warmup", "你好")
                one = [turn(client, "bench-one", QUESTIONS[i % len(QUESTIONS)]) for i in range(40)]
                print(f"1 session, 40 turns: {pct(one)}")

                latencies: list[float] = []
                lock = threading.Lock()

                def session_worker(n: int) -> None:
                    with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=120) as c:
                        for i in range(args.turns):
                            ms = turn(c, f"bench-c{n}", QUESTIONS[(n + i) % len(QUESTIONS)])
                            with lock:
                                latencies.append(ms)

                threads = [threading.Thread(target=session_worker, args=(n,)) for n in range(args.sessions)]
                cpu_before = {name: cpu_seconds(proc.pid) for name, proc in stack.processes.items()}
                t = time.perf_counter()
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                wall = time.perf_counter() - t
                print(
                    f"{args.sessions} concurrent sessions × {args.turns} turns: {pct(latencies)}, {len(latencies) / wall:.1f} turns/s"
                )
                per_turn = ", ".join(
                    f"{name} {(cpu_seconds(proc.pid) - cpu_before[name]) / len(latencies) * 1000:.0f} ms"
                    for name, proc in stack.processes.items()
                )
                print(f"  CPU per turn meanwhile: {per_turn}")

                long = [turn(client, "bench-long", QUESTIONS[i % len(QUESTIONS)]) for i in range(args.long)]
                early = statistics.median(long[5:15])
                late = statistics.median(long[-10:])
                print(
                    f"long conversation: median turns 6–15 {early:.0f} ms, last 10 turns (to {args.long}) {late:.0f} ms, ratio {late / early:.2f}"
                )

            for name, proc in stack.processes.items():
                print(
                    f"memory {name}: RSS {memory_mb(proc.pid):.0f} MB, PSS {memory_mb(proc.pid, 'Pss'):.0f} MB"
                )
            pids = [p.pid for p in stack.processes.values()]
            print(
                f"memory whole stack ({len(pids)} processes, {settings.rasa_servers} Rasa servers): "
                f"RSS {sum(memory_mb(p) for p in pids):.0f} MB, PSS {sum(memory_mb(p, 'Pss') for p in pids):.0f} MB"
            )
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
