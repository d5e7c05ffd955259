"""Background re-index jobs: one worker thread per API process, job state in Redis.

Keys (prefix from settings):
  {p}:job:<id>          JSON ``Job`` (kept 30 days)
  {p}:jobs              sorted set of job ids by creation time
  {p}:jobrunner:<id>    heartbeat of the process running a job; a queued/running job whose runner has
                        no heartbeat died with its process and is reported failed

A job builds a new index version (``knowledge.ingest``), which only becomes visible at its atomic
switch; a job that fails anywhere before that leaves the previous version serving, and stores the error.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field

from knowledge.embedding import Embedder
from knowledge.errors import KnowledgeError, NotFound
from knowledge.ingest import ingest
from knowledge.library import DocumentLibrary
from knowledge.settings import Settings

log = logging.getLogger(__name__)

JobKind = Literal["publish", "delete", "reindex"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]
Stage = Literal["parse", "embed", "write", "switch"]
# Share of the whole job each stage stands for (embedding dominates when texts are new).
STAGE_SPAN: dict[str, tuple[float, float]] = {
    "parse": (0.0, 5.0),
    "embed": (5.0, 85.0),
    "write": (85.0, 98.0),
    "switch": (98.0, 100.0),
}
JOB_TTL_SECONDS = 30 * 24 * 3600
HEARTBEAT_SECONDS = 10
KEEP_JOBS = 500


class Job(BaseModel):
    id: str
    kind: JobKind
    target: str | None = None  # draft id (publish) or doc_id (delete)
    status: JobStatus = "queued"
    stage: Stage | None = None
    done: int = 0
    total: int = 0
    percent: float = 0.0
    eta_seconds: float | None = None
    created_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    version: str | None = None  # the version the job built (or found unchanged)
    previous_version: str | None = None
    created_by: str
    role: str = "admin"
    summary: list[str] = Field(default_factory=list)  # what changed, as recorded on the version
    runner: str = ""


def progress_percent(stage: str, done: int, total: int) -> float:
    lo, hi = STAGE_SPAN.get(stage, (0.0, 100.0))
    fraction = min(1.0, done / total) if total > 0 else 1.0
    return round(lo + (hi - lo) * fraction, 1)


def eta_seconds(elapsed: float, percent: float) -> float | None:
    """Remaining time if the rest goes as fast as what was done; unknown until there is something to go by."""
    if percent < 5.0 or elapsed <= 0:
        return None
    return round(elapsed * (100.0 - percent) / percent, 1)


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        library: DocumentLibrary,
        *,
        embedder: Embedder | None = None,
        audit: Any = None,  # api.audit.AuditLog: records each job's outcome
        after_switch: Callable[[], None] | None = None,
        client: redis.Redis | None = None,
    ):
        self.settings = settings
        self.library = library
        self.embedder = embedder
        self.audit = audit
        self.after_switch = after_switch
        self.redis = client or redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.p = settings.redis_prefix
        self.runner_id = uuid.uuid4().hex[:12]
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> JobRunner:
        self._beat()
        for target, name in ((self._work, "minsheng-jobs"), (self._heartbeat, "minsheng-jobs-heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a running ingest finishes in its daemon thread or dies with the process."""
        self._stop.set()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        with contextlib.suppress(redis.RedisError):
            self.redis.delete(self._runner_key(self.runner_id))

    def _runner_key(self, runner_id: str) -> str:
        return f"{self.p}:jobrunner:{runner_id}"

    def _beat(self) -> None:
        self.redis.set(self._runner_key(self.runner_id), "1", ex=HEARTBEAT_SECONDS * 3)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(redis.RedisError):
                self._beat()

    # --- state ---------------------------------------------------------------------------------
    def _key(self, job_id: str) -> str:
        return f"{self.p}:job:{job_id}"

    def _save(self, job: Job) -> None:
        self.redis.set(self._key(job.id), job.model_dump_json(), ex=JOB_TTL_SECONDS)

    def submit(
        self, kind: JobKind, *, created_by: str, role: str = "admin", target: str | None = None
    ) -> Job:
        job = Job(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            target=target,
            created_by=created_by,
            role=role,
            runner=self.runner_id,
            previous_version=self.library.store.current_version(),
        )
        with self.redis.pipeline() as pipe:
            pipe.set(self._key(job.id), job.model_dump_json(), ex=JOB_TTL_SECONDS)
            pipe.zadd(f"{self.p}:jobs", {job.id: job.created_at})
            pipe.zremrangebyrank(f"{self.p}:jobs", 0, -KEEP_JOBS - 1)
            pipe.execute()
        self._queue.put(job.id)
        return job

    def get(self, job_id: str) -> Job:
        raw = self.redis.get(self._key(job_id))
        if raw is None:
            raise NotFound(f"没有任务 {job_id} (unknown job {job_id!r})")
        return self._check_alive(Job.model_validate_json(raw))

    def list(self, limit: int = 50) -> list[Job]:
        ids = self.redis.zrevrange(f"{self.p}:jobs", 0, max(0, limit - 1))
        raws = self.redis.mget([self._key(i) for i in ids]) if ids else []
        return [self._check_alive(Job.model_validate_json(r)) for r in raws if r]

    def active(self) -> list[Job]:
        return [j for j in self.list() if j.status in ("queued", "running")]

    def _check_alive(self, job: Job) -> Job:
        """A queued or running job whose process stopped will never finish: say so."""
        if job.status in ("queued", "running") and not self.redis.exists(self._runner_key(job.runner)):
            job = job.model_copy(
                update={
                    "status": "failed",
                    "finished_at": time.time(),
                    "error": "任务所在的服务进程已停止，当前版本未改变 (the API process running this job stopped)",
                }
            )
            self._save(job)
        return job

    def wait(self, job_id: str, timeout: float = 600.0) -> Job:
        """Block until a job has finished (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.status in ("succeeded", "failed") or time.monotonic() > deadline:
                return job
            time.sleep(0.2)

    # --- the worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(self.get(job_id))
            except Exception:  # noqa: BLE001 - the worker must survive anything one job does
                log.exception("job %s crashed outside its own error handling", job_id)

    def _run(self, job: Job) -> None:
        job = job.model_copy(
            update={
                "status": "running",
                "started_at": time.time(),
                "stage": "parse",
                "runner": self.runner_id,
            }
        )
        job.previous_version = self.library.store.current_version()
        self._save(job)
        last_write = 0.0

        def progress(stage: str, done: int, total: int) -> None:
            nonlocal last_write
            job.stage, job.done, job.total = stage, done, total  # type: ignore[assignment]
            job.percent = progress_percent(stage, done, total)
            job.eta_seconds = eta_seconds(time.time() - (job.started_at or time.time()), job.percent)
            now = time.monotonic()
            if now - last_write >= 0.25 or done >= total:  # Redis writes throttled, stage ends always shown
                last_write = now
                self._save(job)

        try:
            result = self._execute(job, progress)
        except Exception as exc:  # noqa: BLE001 - stored for the admin; the old version keeps serving
            job.status, job.error = "failed", _describe(exc)
            if not isinstance(exc, KnowledgeError):
                log.exception("job %s failed", job.id)
        else:
            if self.after_switch is not None:
                # Done means this process already answers from the new version (others follow within a second).
                with contextlib.suppress(Exception):
                    self.after_switch()
            info = self.library.store.info(result.version)
            job.status, job.version = "succeeded", result.version
            job.summary = info.changes if result.changed else ["文档没有变化，沿用当前版本 (nothing changed)"]
            job.percent, job.eta_seconds, job.stage = 100.0, 0.0, "switch"
        job.finished_at = time.time()
        self._save(job)
        self._record(job)

    def _execute(self, job: Job, progress: Callable[[str, int, int], None]):
        common: dict[str, Any] = {"embedder": self.embedder, "progress": progress, "author": job.created_by}
        if job.kind == "publish":
            draft, docs = self.library.plan_publish(job.target or "")
            result = ingest(self.settings, docs, note=f"draft {draft.id}", **common)
            self.library.update_draft(draft.id, status="published")
            self._adopt_dating(job, draft)
            return result
        if job.kind == "delete":
            docs = self.library.plan_delete(job.target or "")
            return ingest(self.settings, docs, note=f"delete {job.target}", **common)
        return ingest(self.settings, None, force=True, note="reindex", **common)

    def _adopt_dating(self, job: Job, draft) -> None:
        """The published draft's own dating replaces an earlier admin change of the same document (audited)."""
        try:
            adopted = self.library.adopt_dating(draft)
            if adopted and self.audit is not None:
                self.audit.record(
                    actor=job.created_by,
                    role=job.role,
                    action="document.dating",
                    target=f"doc:{draft.meta.doc_id}",
                    before=adopted[0],
                    after=adopted[1],
                    detail=f"随草稿 {draft.id} 发布更新 (set by publishing draft {draft.id}, job {job.id})",
                )
        except Exception:  # noqa: BLE001 - the version is switched already; the earlier change stays in force
            log.exception("job %s: could not update the dating of %s", job.id, draft.meta.doc_id)

    def _record(self, job: Job) -> None:
        if self.audit is None:
            return
        try:
            self.audit.record(
                actor=job.created_by,
                role=job.role,
                action=f"job.{job.status}",
                target=f"job:{job.id}",
                before={"version": job.previous_version},
                after={"version": job.version, "changes": job.summary},
                detail=job.error or f"{job.kind} {job.target or ''}".strip(),
            )
        except Exception:  # noqa: BLE001 - a job's outcome is in Redis either way
            log.exception("could not audit job %s", job.id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, KnowledgeError):
        return str(exc)
    return f"重建索引失败，当前版本未改变 (re-index failed: {type(exc).__name__}: {exc})"
