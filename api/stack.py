"""Bring up the whole local stack: Redis check, Rasa model (trained when bot/ changed), action server,
Rasa server, API. Used by `minsheng up` (README command 1) and by the end-to-end tests.

Rasa runs from its own Python 3.10 venv (.venv-rasa); everything listens on loopback only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import redis
import yaml

from knowledge.settings import REPO_ROOT, Settings

BOT_DIR = REPO_ROOT / "bot"
RASA_VENV = REPO_ROOT / ".venv-rasa"
MODEL_CACHE = Path.home() / ".cache" / "minsheng" / "rasa-models"
RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
# Serving: a turn runs tiny TensorFlow graphs, where thread pools cost more than they give; one thread each also
# leaves the other core to the second Rasa server and the API (docs/benchmarks.md, Chat speed).
RASA_SERVE_ENV = {
    **RASA_ENV,
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
}


class StackError(RuntimeError):
    pass


def bot_hash() -> str:
    """Hash of everything that shapes the trained model: retrain only when it changes."""
    digest = hashlib.sha256()
    files = [
        BOT_DIR / "config.yml",
        BOT_DIR / "domain.yml",
        *sorted((BOT_DIR / "data").rglob("*.yml")),
        *sorted((BOT_DIR / "jieba").rglob("*")),
    ]
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(BOT_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def rasa_bin() -> Path:
    path = RASA_VENV / "bin" / "rasa"
    if not path.exists():
        raise StackError(f"{path} is missing; run scripts/bootstrap.sh first")
    return path


def ensure_model(log: Callable[[str], None] = print, force: bool = False) -> Path:
    """bot/models/minsheng.tar.gz for the current bot/ content, from the cache or by training."""
    target = BOT_DIR / "models" / "minsheng.tar.gz"
    stamp = BOT_DIR / "models" / ".bot-hash"
    wanted = bot_hash()
    if not force and target.exists() and stamp.exists() and stamp.read_text() == wanted:
        return target
    cached = MODEL_CACHE / f"{wanted}.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists() and not force:
        log(f"Rasa model for bot/ {wanted} found in {MODEL_CACHE}")
        shutil.copy2(cached, target)
    else:
        log("training the Rasa model (about 2–3 minutes on 2 cores) …")
        t0 = time.perf_counter()
        result = subprocess.run(
            [str(rasa_bin()), "train", "--fixed-model-name", "minsheng", "--out", "models"],
            cwd=BOT_DIR,
            env={**os.environ, **RASA_ENV},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"rasa train failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        log(f"trained in {time.perf_counter() - t0:.0f} s")
        MODEL_CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, cached)
    stamp.write_text(wanted)
    return target


def write_endpoints(settings: Settings, path: Path) -> Path:
    """Rasa endpoints from our settings: Redis tracker + lock store, our action server."""
    url = urlparse(settings.redis_url)
    db = int((url.path or "/0").lstrip("/") or 0)
    redis_conf = {"url": url.hostname or "127.0.0.1", "port": url.port or 6379, "password": url.password}
    prefix = (
        re.sub(r"[^A-Za-z0-9]", "", settings.redis_prefix) or "minsheng"
    )  # Rasa accepts alphanumeric prefixes only
    endpoints = {
        "action_endpoint": {"url": f"http://127.0.0.1:{settings.action_port}/webhook"},
        "tracker_store": {
            "type": "redis",
            **redis_conf,
            "db": db,
            "key_prefix": prefix,
            "record_exp": settings.session_ttl_seconds,
        },
        "lock_store": {
            "type": "redis",
            **redis_conf,
            "db": db,
            "key_prefix": f"{settings.redis_prefix}-lock",
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
    return path


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as MINSHENG_* variables, so child processes see the same configuration."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            # pydantic-settings reads complex values (lists) from the environment as JSON
            env[f"MINSHENG_{name.upper()}"] = (
                json.dumps(value) if isinstance(value, list | dict) else str(value)
            )
    env["MINSHENG_API_URL"] = f"http://127.0.0.1:{settings.api_port}"
    return env


@dataclass
class Stack:
    settings: Settings
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    model: Path | None = None

    def _spawn(self, name: str, cmd: list[str], cwd: Path, extra_env: dict[str, str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        env = {**os.environ, **settings_env(self.settings), **extra_env}
        self.processes[name] = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self, model: Path, wait: bool = True, timeout: float = 240) -> Stack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.model = model
        try:
            for name in ("actions", *self.rasa_names(), "api"):
                self.start_one(name)
            if wait:
                self.wait_ready(timeout)
        except BaseException:
            self.stop()  # a half-started stack must not leave servers behind
            raise
        return self

    def rasa_names(self) -> list[str]:
        """One process per Rasa server (settings.rasa_servers): rasa-1, rasa-2, …"""
        return [f"rasa-{i + 1}" for i in range(len(self.settings.rasa_urls))]

    def start_one(self, name: str) -> None:
        s = self.settings
        if name == "actions":
            # rasa_sdk directly: `rasa run actions` would import all of Rasa and TensorFlow (~680 MB vs ~50 MB);
            # through actions/server.py for JSON logs with the turn's request id (issue 16)
            cmd = [str(RASA_VENV / "bin" / "python"), "-m", "actions.server", "-p", str(s.action_port)]
            self._spawn(name, cmd, REPO_ROOT, {**RASA_ENV, "SANIC_HOST": "127.0.0.1"})
        elif name.startswith("rasa-"):
            url = s.rasa_urls[int(name.removeprefix("rasa-")) - 1]
            endpoints = write_endpoints(s, s.data_dir / "rasa-endpoints.yml")
            # bot/launch_rasa.py: the Rasa CLI with memoised lookups and a lighter model load (see its docstring)
            cmd = [
                str(RASA_VENV / "bin" / "python"), str(BOT_DIR / "launch_rasa.py"), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(urlparse(url).port),
                "--auth-token", s.rasa_token, "--model", str(self.model), "--endpoints", str(endpoints),
                "--credentials", str(BOT_DIR / "credentials.yml"),
            ]  # fmt: skip
            # Rasa's per-conversation lock in Redis lives as long as the gateway waits for a turn, not Rasa's
            # 60 s: a lock whose release failed (Redis restarting mid-turn) would otherwise hold that
            # conversation's next turns for a minute, when the gateway has long answered 503 (issue 16 faults).
            lock = {"TICKET_LOCK_LIFETIME": str(max(1, round(s.rasa_timeout_seconds)))}
            self._spawn(name, cmd, BOT_DIR, {**RASA_SERVE_ENV, **lock})
        else:
            cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                s.api_host,
                "--port",
                str(s.api_port),
                "--log-level",
                "warning",
                # X-Forwarded-For is believed only from MINSHENG_TRUSTED_PROXIES, by the app (api/main.py);
                # uvicorn's own handling would believe any local peer.
                "--no-proxy-headers",
            ]
            self._spawn(name, cmd, REPO_ROOT, {})

    def checks(self) -> dict[str, str]:
        """Process name → the URL that answers 200 once it is ready."""
        s = self.settings
        return {
            "api": f"http://{s.api_host}:{s.api_port}/healthz",
            "actions": f"http://127.0.0.1:{s.action_port}/health",
            **{
                name: f"{url}/status?token={s.rasa_token}"
                for name, url in zip(self.rasa_names(), s.rasa_urls, strict=True)
            },
        }

    def wait_ready(self, timeout: float) -> None:
        self._wait_for(self.checks(), timeout)

    def _wait_for(self, checks: dict[str, str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(checks)
        while pending and time.monotonic() < deadline:
            for name, url in list(pending.items()):
                proc = self.processes[name]
                if proc.poll() is not None:
                    raise StackError(
                        f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
                    )
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        pending.pop(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        if pending:
            raise StackError(f"not ready after {timeout:.0f}s: {', '.join(pending)}; logs in {self.log_dir}")

    def _expand(self, names: list[str]) -> list[str]:
        """ "rasa" stands for every Rasa server."""
        return [one for name in names for one in (self.rasa_names() if name == "rasa" else [name])]

    def stop(self, names: list[str] | None = None) -> None:
        for name in self._expand(names) if names else list(self.processes):
            proc = self.processes.get(name)
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    def restart(self, name: str, timeout: float = 240) -> None:
        """Stop and start one process, or every Rasa server for "rasa" (restart-survival tests)."""
        names = self._expand([name])
        self.stop(names)
        for one in names:
            self.start_one(one)
        self.wait_ready(timeout)


def redis_ok(settings: Settings) -> bool:
    try:
        return bool(redis.Redis.from_url(settings.redis_url, socket_timeout=2).ping())
    except redis.RedisError:
        return False
