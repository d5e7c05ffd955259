"""Shared fixtures: real settings in a temporary data dir, the real model, a real ingested Chroma index."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from knowledge.model_prepare import prepare_model
from knowledge.settings import PACKAGE_DIR, Settings
from knowledge.sources import SourceDocument, load_sources

SOURCES_DIR = PACKAGE_DIR / "data" / "sources"
EVAL_FILE = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "dev_questions.jsonl"


@pytest.fixture(scope="session")
def sources() -> list[SourceDocument]:
    return load_sources(SOURCES_DIR)


@pytest.fixture(scope="session")
def source_text(sources) -> dict[str, str]:
    return {d.file_name: d.text for d in sources}


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    base = Settings()
    prepare_model(Path(base.embedding_model_path))  # no-op when already prepared
    return Settings(
        data_dir=tmp_path_factory.mktemp("minsheng-data"),
        demo=True,  # the published development tokens are fine in tests (loopback)
        # generous rate limits: tests send many requests from one client; tests/api/test_rate_limits.py sets its own
        rate_chat="100000/minute",
        rate_chat_session="100000/minute",
        rate_search="100000/minute",
        rate_answer="100000/minute",
        rate_feedback="100000/minute",
        rate_feedback_session="100000/minute",
        llm_base_url=None,  # a developer's own MINSHENG_LLM_* must not switch the phraser on for the suite
    )


@pytest.fixture(scope="session")
def ingested(settings):
    from knowledge.ingest import ingest

    return ingest(settings)


@pytest.fixture(scope="session")
def retriever(settings, ingested):
    from knowledge.retrieval import Retriever

    return Retriever(settings)


class FakeRasa(ThreadingHTTPServer):
    """Rasa's REST channel as the gateway sees it: records every message, answers with one text."""

    reply_text = "好的，低保向户籍所在地乡镇（街道）申请。"
    # concurrent turns (tests/api/test_delivery_marks.py) must not overflow the listen backlog
    request_queue_size = 256

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.requests: list[tuple[dict[str, str], dict]] = []  # (headers, body) of every message
        super().__init__(("127.0.0.1", 0), _FakeRasaHandler)


class _FakeRasaHandler(BaseHTTPRequestHandler):
    server: FakeRasa

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.messages.append(body["message"])
        self.server.requests.append((dict(self.headers), body))
        self._reply([{"recipient_id": body["sender"], "text": self.server.reply_text}])

    def do_GET(self) -> None:  # noqa: N802 - tracker state: no slots, no form
        self._reply({"slots": {}, "active_loop": {}})

    def _reply(self, payload: object) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload, ensure_ascii=False).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_rasa():
    server = FakeRasa()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def catalogue(sources):
    from knowledge.catalogue.loader import load_catalogue

    return load_catalogue(sources)


@pytest.fixture(scope="session")
def route(retriever, catalogue):
    """The question → service route of the shipped catalogue, indexed in the test data dir's Chroma."""
    from knowledge.service_route import ServiceRoute

    return ServiceRoute(retriever.embedder, retriever.store.client).index(catalogue)


@pytest.fixture
def extra_sources(tmp_path) -> Path:
    """The shipped plans plus a small third document, as a separate source directory."""
    target = tmp_path / "sources"
    shutil.copytree(SOURCES_DIR, target)
    (target / "900_test.txt").write_text(
        "测试规划\n\n第一章 总则\n\n第一节 测试服务\n\n为辖区内常住居民免费提供测试验证专项服务，每年一次。\n",
        encoding="utf-8",
    )
    (target / "900_test.meta.yaml").write_text(
        "doc_id: test-plan\ntitle: 《测试规划》\nshort_title: 测试规划\nregion: guangxi\n"
        "period: {start: 2021, end: 2025}\nvalid_from: 2021-01-01\nvalid_to: 2025-12-31\noriginal_file: 900_test.txt\n",
        encoding="utf-8",
    )
    return target
