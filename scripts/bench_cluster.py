"""Chat throughput of the cluster mode (issue 16): 1 vs 2 API replicas × 1 vs 2 Rasa servers, then the fault
scenario, ending with ``cluster: sent=… answered=… failed=… lost=… mixed=…`` over every turn of the run.

One cluster of its own (scripts/cluster_chat_faults.py cluster_for: its own Redis with AOF, a Chroma server,
2 API replicas behind the balancer, 2 Rasa servers, the action server; ports from 18000, a throw-away data dir).
The configurations are made from it instead of restarting it four times: "1 API" sends the residents straight
to api-1 (the action server still calls the API through the balancer), "2 API" through the balancer; "1 Rasa" is
rasa-2 stopped (the gateway sends every turn to rasa-1), "2 Rasa" both. For each and each load (default 20 and 50
residents chatting without pause for --seconds), prints turns/s, p50/p95 turn latency, CPU seconds per turn (all
cluster processes), and the RSS of each API replica and Rasa server at the end of the cell.

Then (unless --no-faults) the fault scenario of scripts/cluster_chat_faults.py on the same cluster: 10 residents
while an API replica and a Rasa server are killed and restarted, a document is published, Chroma and Redis are
restarted. Every answered turn of the run (benchmark and faults) is checked for mixed index versions.

On a 2-core machine the replicas compete for the same cores, so this shows what scales with cores and what
does not; docs/scale-out.md and docs/benchmarks.md have a run and what it means for node sizing. Needs the
trained Rasa model (`minsheng up` trains it). About 3 + 8 × (seconds + 5) / 60 minutes, plus ~7 for the faults.

    .venv/bin/python scripts/bench_cluster.py [--seconds 20] [--sessions 20,50] [--no-faults]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.stack import ensure_model  # noqa: E402
from scripts.chat_load import ChatLoad, Turn, VersionBook, served_versions  # noqa: E402
from scripts.cluster_chat_faults import cluster_for, run_faults, step  # noqa: E402
from scripts.cluster_faults import seeded_data_dir  # noqa: E402

CLOCK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """A process and its descendants (a launcher's server process, …)."""
    out, todo = [], [pid]
    while todo:
        one = todo.pop()
        out.append(one)
        try:
            for task in Path(f"/proc/{one}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes and their reaped children."""
    total = 0.0
    for pid in (p for root in pids for p in tree(root)):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / CLOCK  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_mb(pid: int) -> float:
    total = 0.0
    for one in tree(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def run_cell(url: str, sessions: int, seconds: float) -> tuple[ChatLoad, float]:
    """Residents chatting without pause for ``seconds``; the load and its wall time."""
    started = time.monotonic()
    load = ChatLoad(url, sessions, pause=0.0)
    with load:
        time.sleep(seconds)
    return load, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description="cluster chat throughput, then the fault scenario")
    parser.add_argument("--port", type=int, default=18000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sessions", default="20,50")
    parser.add_argument("--no-faults", action="store_true", help="only the throughput table")
    args = parser.parse_args()
    loads = [int(x) for x in args.sessions.split(",")]
    data_dir = seeded_data_dir(False)
    stack = cluster_for(args.port, data_dir, "benchcluster", job_lease_seconds=6.0)
    totals = {"sent": 0, "answered": 0, "failed": 0, "lost": 0}
    turns: list[Turn] = []
    ok = False
    try:
        stack.start(ensure_model(print), timeout=900)
        replicas = [stack.api_url(name) for name in stack.api_names()]
        book = VersionBook()
        [version] = served_versions(replicas)
        book.switches.append((time.time(), version))
        print(f"cluster up; index version {version}")
        print(
            "| API | Rasa | sessions | turns/s | p50 s | p95 s | CPU s / turn | RSS per API replica MB"
            " | RSS per Rasa server MB |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            flush=True,
        )
        rss: dict[str, float] = {}
        for rasa in (2, 1):
            if rasa == 1:  # RSS of every process, loaded and warm, before rasa-2 goes
                rss = {name: rss_mb(proc.pid) for name, proc in stack.processes.items()}
                stack.stop(["rasa-2"])
            for api in (1, 2):
                url = stack.url if api == 2 else stack.api_url("api-1")
                run_cell(url, 4, 5)  # warm up (not counted)
                for sessions in loads:
                    pids = [proc.pid for proc in stack.processes.values() if proc.poll() is None]
                    cpu0 = cpu_seconds(pids)
                    load, wall = run_cell(url, sessions, args.seconds)
                    cpu = cpu_seconds(pids) - cpu0
                    for key in totals:
                        totals[key] += load.counts[key]
                    turns += load.turns
                    latencies = [t.latency for t in load.turns]
                    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 20 else [float("nan")] * 19
                    api_rss = "/".join(
                        f"{rss_mb(stack.processes[n].pid):.0f}" for n in stack.api_names()[:api]
                    )
                    rasa_rss = "/".join(
                        f"{rss_mb(stack.processes[n].pid):.0f}" for n in stack.rasa_names()[:rasa]
                    )
                    print(
                        f"| {api} | {rasa} | {sessions} | {len(latencies) / wall:.1f} |"
                        f" {statistics.median(latencies):.2f} | {q[18]:.2f} | {cpu / max(1, len(latencies)):.3f} |"
                        f" {api_rss} | {rasa_rss} |",
                        flush=True,
                    )
        print(
            "RSS per process, everything loaded and warm (MB): "
            + ", ".join(f"{n} {mb:.0f}" for n, mb in rss.items())
        )
        bench_mixed, _ = book.count(turns)
        print(
            f"benchmark: sent={totals['sent']} answered={totals['answered']} failed={totals['failed']}"
            f" lost={totals['lost']} mixed={bench_mixed}",
            flush=True,
        )
        mixed = bench_mixed
        faults_ok = True
        if not args.no_faults:
            stack.start_one("rasa-2")
            stack.wait_ready(600, only=["rasa-2"])
            step("fault scenario (scripts/cluster_chat_faults.py) on the same cluster")
            report = run_faults(stack)
            print(f"faults: {report.line().removeprefix('cluster: ')}", flush=True)
            for key in totals:
                totals[key] += getattr(report, key)
            mixed += report.mixed
            faults_ok = report.ok
        print(
            f"cluster: sent={totals['sent']} answered={totals['answered']} failed={totals['failed']} "
            f"lost={totals['lost']} mixed={mixed}",
            flush=True,
        )
        ok = totals["lost"] == 0 and mixed == 0 and faults_ok
    finally:
        stack.stop()  # the cluster's own Redis with it
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
