"""The real stack for end-to-end tests: Redis, trained Rasa model, action server, Rasa server, API.

Own ports, own Redis db and key prefix, own data dir (ingested from the session's embedding cache),
so a developer's running stack is untouched.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.stack import Stack, ensure_model
from knowledge.ingest import ingest
from knowledge.settings import Settings

# Chromium comes from Debian (`apt-get install chromium`), driven by Playwright for Python (no browser download).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_run(count: int) -> int:
    """A first port whose ``count`` consecutive ports are all free: the stack's Rasa servers listen on
    rasa_url's port and the ones after it (one taken by another process made a Rasa server exit)."""
    while True:
        base = _free_port()
        try:
            with contextlib.ExitStack() as held:
                for port in range(base, base + count):
                    s = held.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue


@pytest.fixture(scope="session")
def stack_settings(settings, ingested, tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("stack-data")
    shutil.copy2(
        settings.data_dir / "embeddings.sqlite", data_dir / "embeddings.sqlite"
    )  # ingest without re-embedding
    stack = Settings(
        **{
            **settings.model_dump(),  # the tests' settings: demo mode, generous rate limits
            "data_dir": data_dir,
            "api_port": _free_port(),
            "rasa_url": f"http://127.0.0.1:{_free_run(settings.rasa_servers)}",
            "action_port": _free_port(),
            "redis_url": "redis://127.0.0.1:6379/3",
            "redis_prefix": f"minsheng-e2e-{uuid.uuid4().hex[:8]}",
        }
    )
    ingest(stack)
    return stack


@pytest.fixture(scope="session")
def stack(stack_settings):
    running = Stack(stack_settings, stack_settings.data_dir / "logs").start(ensure_model(), timeout=300)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def api(stack, stack_settings):
    with httpx.Client(base_url=f"http://127.0.0.1:{stack_settings.api_port}", timeout=60) as client:
        yield client


class Chat:
    """One resident's conversation through POST /v1/chat."""

    def __init__(self, client: httpx.Client, session_id: str):
        self.client, self.session_id = client, session_id

    def say(self, text: str) -> list[dict]:
        r = self.client.post("/v1/chat", json={"session_id": self.session_id, "message": text})
        assert r.status_code == 200, r.text
        return r.json()["messages"]


@pytest.fixture
def chat(api):
    return Chat(api, f"e2e-{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium per browser test module. A missing browser fails the tests rather than skipping
    them: scripts/test.sh installs Debian's chromium, and a silently skipped face is an untested face."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test.sh (it installs Debian's chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
