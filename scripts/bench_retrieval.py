"""Retrieval benchmark: cold ingest, unchanged re-ingest, query latency (in-process and HTTP), peak RSS.

Run: .venv/bin/python scripts/bench_retrieval.py [--questions ../shared/eval/dev_questions.jsonl]
Prints numbers; asserts nothing (targets live in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from knowledge.ingest import ingest
from knowledge.retrieval import Retriever
from knowledge.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
FALLBACK = [
    "准备要孩子了，孕前检查免费吗",
    "银川的公租房谁能申请",
    "低保户看病有救助吗",
    "养老服务网络分几级",
    "退役军人安置",
]


def percentiles(samples_ms: list[float]) -> str:
    q = statistics.quantiles(samples_ms, n=100)
    return f"p50 {statistics.median(samples_ms):.1f} ms, p95 {q[94]:.1f} ms, max {max(samples_ms):.1f} ms (n={len(samples_ms)})"


def load_questions(path: Path) -> list[str]:
    if path.exists():
        return [
            json.loads(line)["question"]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    return FALLBACK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = load_questions(args.questions)

    with tempfile.TemporaryDirectory(prefix="minsheng-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        t = time.perf_counter()
        cold = ingest(settings)
        print(
            f"cold ingest: {time.perf_counter() - t:.1f} s ({cold.chunk_count} chunks, {cold.embedded} embedded, model load included)"
        )
        t = time.perf_counter()
        again = ingest(settings)
        print(
            f"unchanged re-ingest: {time.perf_counter() - t:.2f} s (changed={again.changed}, embedded={again.embedded})"
        )
        t = time.perf_counter()
        forced = ingest(settings, force=True)
        print(f"forced re-ingest from cache: {time.perf_counter() - t:.2f} s (embedded={forced.embedded})")

        retriever = Retriever(settings)
        retriever.search("预热", top_k=5)
        samples: list[float] = []
        for _ in range(args.rounds):
            for q in questions:
                retriever.embedder._queries.clear()  # measure uncached query embedding
                t = time.perf_counter()
                retriever.search(q, top_k=5)
                samples.append((time.perf_counter() - t) * 1000)
        print(f"in-process query (uncached embedding): {percentiles(samples)}")
        cached: list[float] = []
        for q in questions:
            t = time.perf_counter()
            retriever.search(q, top_k=5)
            cached.append((time.perf_counter() - t) * 1000)
        print(f"in-process query (repeat question, cached embedding): {percentiles(cached)}")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS (bench process: ingest + retriever): {rss_mb:.0f} MB")

        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            # demo mode on loopback (development tokens); one client sends every query: no rate limit in reach
            env={
                **os.environ,
                "MINSHENG_DATA_DIR": tmp,
                "MINSHENG_DEMO": "1",
                "MINSHENG_RATE_SEARCH": "100000/minute",
            },
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                for _ in range(600):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                client.post("/v1/search", json={"query": "预热"})
                http: list[float] = []
                for q in questions:  # each question once: the server's query-embedding cache stays cold
                    t = time.perf_counter()
                    r = client.post("/v1/search", json={"query": q, "top_k": 5})
                    http.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
            print(f"HTTP POST /v1/search: {percentiles(http)}")
            status = Path(f"/proc/{server.pid}/status").read_text()
            hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
            print(f"API server peak RSS: {int(hwm.split()[1]) / 1024:.0f} MB")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
