"""Re-index jobs survive the replica running them (issue 16): two job runners — two "replicas" — in this
process, against real Redis (own db and key prefix), one real Chroma and one shared data dir.

A replica is killed by ending its worker thread with an exception nothing catches (what a killed process
looks like from outside: no final write, no lease released, heartbeat stopped). The other replica must take
the job over after the lease runs out, record the takeover, and finish it exactly once: one version built,
one switch, one ``job.succeeded`` in the audit log, the draft published. And while one replica runs a job,
a job submitted on the other waits: at most one job builds a version at a time across replicas.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import pytest
import redis

from api.audit import AuditLog
from api.jobs import JobRunner
from knowledge.ingest import ingest
from knowledge.library import DocumentLibrary, parse_fields
from knowledge.settings import Settings
from knowledge.store import VersionStore, make_client
from tests.plans import plan_meta, plan_text

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


class Killed(BaseException):  # noqa: N818 - not an error the code may handle: the process is gone
    """The replica's process died here."""


@pytest.fixture(scope="module")
def job_settings(settings, ingested, tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("jobs-takeover-data")
    # The session's embedding cache (WAL included): the shipped plans embed nothing, only the new drafts.
    with (
        sqlite3.connect(settings.data_dir / "embeddings.sqlite") as src,
        sqlite3.connect(data_dir / "embeddings.sqlite") as dst,
    ):
        src.backup(dst)
    job = Settings(
        **{
            **settings.model_dump(),
            "data_dir": data_dir,
            "redis_url": "redis://127.0.0.1:6379/9",
            "redis_prefix": f"jobs-takeover-{uuid.uuid4().hex[:8]}",
            "keep_versions": 10,
            "job_lease_seconds": 4.0,  # a dead replica's job is taken over after 4 s (slack for a busy CI machine)
        }
    )
    ingest(job)
    yield job
    client = redis.Redis.from_url(job.redis_url)
    for key in client.scan_iter(f"{job.redis_prefix}:*"):
        client.delete(key)


@pytest.fixture
def replicas(job_settings, retriever):
    """make(name, embedder=…, after_switch=…) → a started runner with its own library and store objects."""
    started: list[JobRunner] = []

    def make(name: str, embedder=None, after_switch=None) -> JobRunner:
        store = VersionStore(make_client(job_settings))
        runner = JobRunner(
            job_settings,
            DocumentLibrary(job_settings, store),
            embedder=embedder or retriever.embedder,
            audit=AuditLog(job_settings),
            after_switch=after_switch,
            runner_id=f"replica-{name}:{uuid.uuid4().hex[:4]}",
        )
        started.append(runner.start())
        return runner

    yield make
    for runner in started:
        runner.stop()


class EmbedderProxy:
    """The real embedder, with a hook run after the first batch of passages is reported."""

    def __init__(self, real, after_first_batch):
        self.real, self.after_first_batch = real, after_first_batch
        self.cache = real.cache

    def __getattr__(self, name):
        return getattr(self.real, name)

    def embed_passages(self, texts, on_batch=None):
        first = True

        def batch(n: int) -> None:
            nonlocal first
            if on_batch:
                on_batch(n)
            if first:
                first = False
                self.after_first_batch()

        return self.real.embed_passages(texts, batch)


def die() -> None:
    raise Killed


def new_draft(settings: Settings, doc_id: str, title: str, service: str):
    library = DocumentLibrary(settings, VersionStore(make_client(settings)))
    text = plan_text(title.strip("《》"), service)
    return library.create_draft(
        parse_fields(plan_meta(doc_id, title)), f"{doc_id}.txt", text.encode(), author="jobadmin"
    )


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def versions_built_by(settings: Settings, job_id: str) -> list[str]:
    store = VersionStore(make_client(settings))
    return [v.version for v in store.versions() if v.note.endswith(f"job {job_id}")]


def audited(settings: Settings, action: str, job_id: str) -> int:
    return len(AuditLog(settings).query(action=action, target=f"job:{job_id}"))


def test_a_publish_killed_mid_embedding_is_finished_by_the_other_replica_once(
    job_settings, replicas, retriever
):
    draft = new_draft(job_settings, "test-takeover-a", "《接管测试规划甲》", "接管测试甲专项服务")
    before = VersionStore(make_client(job_settings)).current_version()
    a = replicas("a", embedder=EmbedderProxy(retriever.embedder, die))
    job = a.submit("publish", created_by="jobadmin", target=draft.id)

    # A claims it, reaches the embedding stage and dies there: its worker thread is gone, the lease left.
    wait_for(lambda: not a._worker.is_alive(), what="replica A to die")
    dead = a.get(job.id)
    assert dead.status == "running" and dead.runner == a.runner_id and dead.stage == "embed"
    assert a.busy()  # nothing else may build a version meanwhile
    wait_for(lambda: a.get(job.id).awaiting_takeover, what="A's lease to expire")

    b = replicas("b")
    done = b.wait(job.id, timeout=300)
    assert done.status == "succeeded", done
    assert done.runner == b.runner_id and done.submitted_on == a.runner_id and done.attempt == 2
    assert len(done.takeovers) == 1
    takeover = done.takeovers[0]
    assert takeover.from_runner == a.runner_id and takeover.by_runner == b.runner_id
    assert takeover.stage == "embed" and takeover.at >= dead.started_at

    # exactly once: one version built and switched to, one success audited, the draft published
    assert versions_built_by(job_settings, job.id) == [done.version]
    store = VersionStore(make_client(job_settings))
    assert store.current_version() == done.version != before
    assert any("接管测试规划甲" in line for line in done.summary)
    assert done.previous_version == before
    assert audited(job_settings, "job.succeeded", job.id) == 1
    assert audited(job_settings, "job.takeover", job.id) == 1
    assert b.library.get_draft(draft.id).status == "published"
    assert "test-takeover-a" in {d.meta.doc_id for d in b.library.published()}
    assert not b.busy()


def test_a_replica_killed_after_its_switch_is_not_built_again(job_settings, replicas):
    draft = new_draft(job_settings, "test-takeover-b", "《接管测试规划乙》", "接管测试乙专项服务")
    a = replicas("a")
    a.library.update_draft = lambda *_, **__: die()  # dies right after its switch: draft and job not marked
    job = a.submit("publish", created_by="jobadmin", target=draft.id)
    wait_for(lambda: not a._worker.is_alive(), what="replica A to die")
    switched = VersionStore(make_client(job_settings)).current_version()
    assert versions_built_by(job_settings, job.id) == [switched]
    assert a.library.get_draft(draft.id).status == "pending"

    b = replicas("b")
    done = b.wait(job.id, timeout=300)
    assert done.status == "succeeded" and done.runner == b.runner_id, done
    assert done.takeovers[0].from_runner == a.runner_id and done.takeovers[0].stage == "switch"
    # finished, not rebuilt: the version A built is the job's, and the only one
    assert done.version == switched and versions_built_by(job_settings, job.id) == [switched]
    assert VersionStore(make_client(job_settings)).current_version() == switched
    assert any("接管测试规划乙" in line for line in done.summary)
    assert b.library.get_draft(draft.id).status == "published"
    assert audited(job_settings, "job.succeeded", job.id) == 1


def test_one_job_at_a_time_across_replicas(job_settings, replicas, retriever):
    first = new_draft(job_settings, "test-serial-a", "《串行测试规划甲》", "串行测试甲专项服务")
    second = new_draft(job_settings, "test-serial-b", "《串行测试规划乙》", "串行测试乙专项服务")
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        assert release.wait(60)

    a = replicas("a", embedder=EmbedderProxy(retriever.embedder, hold))
    job_a = a.submit("publish", created_by="jobadmin", target=first.id)
    assert entered.wait(60)
    b = replicas("b")  # idle, polling
    job_b = b.submit("publish", created_by="jobadmin", target=second.id)
    # A is held inside its embedding for longer than a lease: its heartbeat keeps the job its own, and
    # B, idle and polling, does not start the job submitted to it.
    time.sleep(job_settings.job_lease_seconds + 1.5)
    running, waiting = a.get(job_a.id), b.get(job_b.id)
    assert running.status == "running" and running.runner == a.runner_id and not running.takeovers
    assert not running.awaiting_takeover
    assert waiting.status == "queued" and waiting.attempt == 0
    release.set()

    done_a, done_b = a.wait(job_a.id, timeout=300), b.wait(job_b.id, timeout=300)
    assert done_a.status == "succeeded" and done_b.status == "succeeded", (done_a, done_b)
    assert done_b.started_at >= done_a.finished_at  # the second started once the first had finished
    assert not done_a.takeovers and not done_b.takeovers
    store = VersionStore(make_client(job_settings))
    assert store.current_version() == done_b.version
    assert {"test-serial-a", "test-serial-b"} <= {e.doc_id for e in store.info(done_b.version).sources}
