"""Residents chatting through the cluster's balancer, for the fault scenario and the benchmark (issue 16).

Each resident sends the next turn as soon as the last was answered (after ``pause`` seconds), re-sending a turn
that got a 503 with a Chinese message after its Retry-After, as the widget does, up to ``retries`` times. Counts

  sent       turns the residents sent (a re-sent turn counts once)
  answered   turns that got their 200 (on the first try or a retry)
  failed     attempts answered with a clear 503 (each re-sent)
  lost       turns neither answered nor reported: a connection dropped, another status, a 503 without a Chinese
             message, or still failing after every retry
  kb_unavailable  answered turns whose reply is the bot's "knowledge base unavailable, ask later"

and keeps every answered turn with when it was sent and answered and the index versions its messages say they
were composed from (``index_version`` of each chat message, api/chat_messages.py), for ``VersionBook``.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

CJK = re.compile(r"[\u4e00-\u9fff]")
# The action server's reply when the answer service fails (actions/messages.py api_failure): a reported failure
# inside a 200, counted apart.
KB_UNAVAILABLE = "抱歉，知识库暂时无法访问"
# Greetings, thanks and four questions: the questions are composed once per index version, then memoised.
TURNS = ["孕前检查免费吗", "低保怎么申请", "老年人有什么健康服务", "你好", "残疾人有哪些补贴", "谢谢"]


@dataclass(frozen=True)
class Turn:
    sent_at: float  # time.time() when the resident sent it (first attempt)
    answered_at: float
    latency: float  # of the attempt that was answered
    versions: frozenset[
        str
    ]  # index versions its messages were composed from (empty: none consulted the plans)


class ChatLoad:
    def __init__(self, url: str, sessions: int, pause: float = 0.2, retries: int = 5, timeout: float = 120):
        self.url, self.pause, self.retries, self.timeout = url, pause, retries, timeout
        self.stop_event = threading.Event()
        self.counts: Counter[str] = Counter()
        self.turns: list[Turn] = []
        self.lost_examples: list[str] = []
        self._lock = threading.Lock()
        tag = uuid.uuid4().hex[:6]
        self.sessions = [f"load-{tag}-{i}" for i in range(sessions)]
        self.threads = [
            threading.Thread(target=self._resident, args=(s,), daemon=True) for s in self.sessions
        ]

    def __enter__(self) -> ChatLoad:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(self.timeout * (self.retries + 1))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def _count(self, key: str, example: str = "") -> None:
        with self._lock:
            self.counts[key] += 1
            if example:
                self.lost_examples.append(example)

    def _resident(self, session_id: str) -> None:
        with httpx.Client(base_url=self.url, timeout=self.timeout) as http:
            n = 0
            while not self.stop_event.is_set():
                message = TURNS[n % len(TURNS)]
                n += 1
                self._turn(http, session_id, message)
                if self.pause:
                    time.sleep(self.pause)

    def _turn(self, http: httpx.Client, session_id: str, message: str) -> None:
        self._count("sent")
        sent_at = time.time()
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                r = http.post("/v1/chat", json={"session_id": session_id, "message": message})
            except httpx.HTTPError as exc:
                self._count("lost", type(exc).__name__)
                return
            if r.status_code == 200:
                messages = r.json().get("messages", [])
                turn = Turn(
                    sent_at,
                    time.time(),
                    time.perf_counter() - started,
                    frozenset(m["index_version"] for m in messages if m.get("index_version")),
                )
                with self._lock:
                    self.counts["answered"] += 1
                    self.turns.append(turn)
                    if any(m.get("text", "").startswith(KB_UNAVAILABLE) for m in messages):
                        self.counts["kb_unavailable"] += 1
                return
            detail = r.json().get("detail", "") if "json" in r.headers.get("content-type", "") else ""
            if r.status_code == 503 and CJK.search(str(detail)):
                self._count("failed")
                if attempt == self.retries:
                    self._count("lost", "503 after every retry")
                    return
                time.sleep(float(r.headers.get("retry-after", "1")))
                continue
            self._count("lost", f"{r.status_code} {str(detail)[:60]}")
            return


def served_versions(replica_urls: list[str]) -> set[str]:
    """The index versions the replicas serve now, from each one's /metrics (minsheng_index_version_info reads
    the replica's loaded snapshot, checking the pointer first — unlike /healthz, which reads only the pointer)."""
    versions: set[str] = set()
    for url in replica_urls:
        text = httpx.get(f"{url}/metrics", timeout=60).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "minsheng_index_version_info":
                    versions.add(sample.labels["version"])
    return versions


class VersionBook:
    """When a version was published and when every replica served it, and the mixed-version answers that
    follow from that.

    A turn is *mixed* when its messages were composed from more than one version, or when it was sent after
    every replica had switched to a version and was still answered from an older one. A turn answered from the
    old version after the publish reported success but sent before every replica had switched is expected —
    replicas follow the pointer within a second and load the new snapshot in ~3 s — and is counted apart as
    ``during_switch``, not as mixed."""

    def __init__(self) -> None:
        self.published: list[tuple[float, str]] = []  # (when the job reported success, version)
        self.switches: list[tuple[float, str]] = []  # (when every replica served it, version)

    def publish(self, version: str) -> None:
        self.published.append((time.time(), version))

    def wait_for(self, replica_urls: list[str], version: str, timeout: float = 120) -> float:
        """Poll until every replica serves ``version``; record and return when."""
        deadline = time.monotonic() + timeout
        while served_versions(replica_urls) != {version}:
            if time.monotonic() > deadline:
                raise RuntimeError(f"replicas still not all on {version} after {timeout:.0f}s")
            time.sleep(0.2)
        at = time.time()
        self.switches.append((at, version))
        return at

    @staticmethod
    def _latest(events: list[tuple[float, str]], at: float) -> str | None:
        done = [version for when, version in events if when <= at]
        return done[-1] if done else None

    def count(self, turns: list[Turn]) -> tuple[int, int]:
        """(mixed, during_switch) over these answered turns."""
        mixed = during = 0
        for turn in turns:
            floor = self._latest(self.switches, turn.sent_at)  # what every replica served when it was sent
            published = self._latest(self.published, turn.answered_at)
            # versions are named vYYYYMMDDTHHMMSS…Z: string order is time order
            if len(turn.versions) > 1 or (floor and any(v < floor for v in turn.versions)):
                mixed += 1
            elif published and any(v < published for v in turn.versions):
                during += 1
        return mixed, during
