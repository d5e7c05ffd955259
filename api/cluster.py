"""The local stack in cluster mode (`minsheng up --cluster`): the topology of deploy/ on loopback.

  load balancer :api_port  (api/load_balancer.py: round robin, no affinity, SSE streamed)
      → API replicas :api_port+1 … :api_port+N   (uvicorn api.main:app, one model each)
  Chroma server :chroma_port  (`chroma run`, the chromadb package's server; MINSHENG_CHROMA_URL for everyone)
  Rasa servers :5005 … (settings.rasa_servers), the action server :5055 (calls the API through the balancer)
  Redis: the one at MINSHENG_REDIS_URL (checked, not started — as in the single-process stack), or with
      ``redis_port`` a redis-server of the cluster's own with persistence on (AOF, fsync every second), which
      the fault scenario restarts (scripts/cluster_chat_faults.py) — never the machine's shared Redis

Every replica shares the data dir (document library, drafts, audit log, embedding cache), the index (Chroma
server) and Redis (sessions, tickets, events, rate limits, jobs), like the pods of deploy/k8s with their
ReadWriteMany volume. Replicas believe the balancer's X-Forwarded-For (MINSHENG_TRUSTED_PROXIES=127.0.0.1).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from api.stack import RASA_VENV, Stack, StackError, settings_env
from knowledge.settings import REPO_ROOT, Settings

CHROMA_BIN = Path(sys.executable).parent / "chroma"


def cluster_settings(settings: Settings, chroma_port: int, redis_port: int | None = None) -> Settings:
    """The settings every process of the cluster runs with (children get them as MINSHENG_* variables)."""
    trusted = sorted({*settings.trusted_proxies, "127.0.0.1"})
    update = {"chroma_url": f"http://127.0.0.1:{chroma_port}", "trusted_proxies": trusted}
    if redis_port is not None:
        update["redis_url"] = f"redis://127.0.0.1:{redis_port}/0"
    return settings.model_copy(update=update)


@dataclass
class ClusterStack(Stack):
    """``Stack`` with a Chroma server, N API replicas and a load balancer instead of one API process."""

    api_replicas: int = 2
    chroma_port: int = 8090
    dialogue: bool = True  # Rasa servers and the action server (fault scripts about jobs can leave them out)
    redis_port: int | None = None  # a redis-server of our own (AOF on) instead of MINSHENG_REDIS_URL's

    def __post_init__(self) -> None:
        if self.api_replicas < 1:
            raise StackError("at least one API replica")
        self.settings = cluster_settings(self.settings, self.chroma_port, self.redis_port)

    # --- names and ports -----------------------------------------------------------------------
    def api_names(self) -> list[str]:
        return [f"api-{i + 1}" for i in range(self.api_replicas)]

    def api_port(self, name: str) -> int:
        return self.settings.api_port + int(name.removeprefix("api-"))

    def api_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.api_port(name)}"

    @property
    def url(self) -> str:
        """The balancer: what residents, staff and the action server use."""
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, model: Path | None, wait: bool = True, timeout: float = 300) -> ClusterStack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.model = model
        try:
            if self.redis_port is not None:
                self.start_one("redis")
                self.wait_ready(30, only=["redis"])
            self.start_one("chroma")
            self.wait_ready(60, only=["chroma"])
            self.ingest()
            names = [*self.api_names(), "lb"]
            if self.dialogue:
                names = ["actions", *self.rasa_names(), *names]
            for name in names:
                self.start_one(name)
            if wait:
                self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def ingest(self) -> None:
        """The current document set into the Chroma server (nothing to do when it holds it already)."""
        log = self.log_dir / "ingest.log"
        with open(log, "ab") as out:
            cmd = [sys.executable, "-m", "api.cli", "ingest"]
            done = subprocess.run(cmd, cwd=REPO_ROOT, env=self._env({}), stdout=out, stderr=out)
        if done.returncode != 0:
            raise StackError(f"ingest into the Chroma server failed; see {log}")

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        return {**os.environ, **settings_env(self.settings), **extra}

    def start_one(self, name: str) -> None:
        s = self.settings
        if name == "redis":
            binary = shutil.which("redis-server")
            if binary is None or self.redis_port is None:
                raise StackError("redis-server is not installed (or no redis_port was given)")
            path = s.data_dir / "redis"
            path.mkdir(parents=True, exist_ok=True)
            # Persistence as deploy/k8s/redis.yaml has it: append-only file, fsync every second (a SIGTERM
            # restart loses nothing; a crash at most a second), no RDB snapshots.
            cmd = [
                binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(path),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
            ]  # fmt: skip
            self._spawn(name, cmd, path, {})
        elif name == "chroma":
            if not CHROMA_BIN.exists():
                raise StackError(f"{CHROMA_BIN} is missing (the chromadb package provides it)")
            path = s.data_dir / "chroma-server"
            cmd = [
                str(CHROMA_BIN),
                "run",
                "--path",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.chroma_port),
            ]
            self._spawn(name, cmd, REPO_ROOT, {})
        elif name == "lb":
            cmd = [sys.executable, "-m", "api.load_balancer", "--host", s.api_host, "--port", str(s.api_port)]
            for replica in self.api_names():
                cmd += ["--upstream", self.api_url(replica)]
            self._spawn(name, cmd, REPO_ROOT, {})
        elif name.startswith("api-"):
            cmd = [
                sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                "--port", str(self.api_port(name)), "--log-level", "warning", "--no-proxy-headers",
            ]  # fmt: skip
            self._spawn(name, cmd, REPO_ROOT, {})
        elif name == "actions" and not (RASA_VENV / "bin" / "python").exists():
            raise StackError(f"{RASA_VENV} is missing; run scripts/bootstrap.sh first")
        else:
            super().start_one(name)  # actions, rasa-N

    def checks(self) -> dict[str, str]:
        s = self.settings
        checks = {
            **({"redis": s.redis_url} if self.redis_port is not None else {}),
            "chroma": f"http://127.0.0.1:{self.chroma_port}/api/v2/heartbeat",
            **{name: f"{self.api_url(name)}/healthz" for name in self.api_names()},
            "lb": f"{self.url}/lb-health",
        }
        if self.dialogue:
            checks["actions"] = f"http://127.0.0.1:{s.action_port}/health"
            for name, url in zip(self.rasa_names(), s.rasa_urls, strict=True):
                checks[name] = f"{url}/status?token={s.rasa_token}"
        return checks

    def wait_ready(self, timeout: float, only: list[str] | None = None) -> None:
        checks = self.checks()
        self._wait_for(
            {name: checks[name] for name in (only or [n for n in checks if n in self.processes])}, timeout
        )

    def _wait_for(self, checks: dict[str, str], timeout: float) -> None:
        """As Stack's, with our own Redis checked by a PING instead of an HTTP GET."""
        pings = {name: url for name, url in checks.items() if url.startswith("redis://")}
        deadline = time.monotonic() + timeout
        for name, url in pings.items():
            client = redis.Redis.from_url(url, socket_timeout=2)
            while True:
                proc = self.processes[name]
                if proc.poll() is not None:
                    raise StackError(
                        f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
                    )
                try:
                    if client.ping():
                        break
                except redis.RedisError:  # refused, or still loading its append-only file
                    pass
                if time.monotonic() > deadline:
                    raise StackError(f"not ready after {timeout:.0f}s: {name}; logs in {self.log_dir}")
                time.sleep(0.2)
        rest = {name: url for name, url in checks.items() if name not in pings}
        if rest:
            super()._wait_for(rest, max(1.0, deadline - time.monotonic()))

    def stop(self, names: list[str] | None = None) -> None:
        """Everything (or ``names``); Redis and Chroma last, so no one loses them while shutting down."""
        if names:
            super().stop(names)
            return
        stores = [name for name in ("chroma", "redis") if name in self.processes]
        others = [name for name in self.processes if name not in stores]
        if others:
            super().stop(others)
        if stores:
            super().stop(stores)

    def _expand(self, names: list[str]) -> list[str]:
        """ "rasa" stands for every Rasa server, "api" for every API replica."""
        groups = {"rasa": self.rasa_names(), "api": self.api_names()}
        return [one for name in names for one in groups.get(name, [name])]

    def kill(self, name: str) -> None:
        """SIGKILL one process (fault tests: no shutdown handlers, no lease released)."""
        proc = self.processes.get(name)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
