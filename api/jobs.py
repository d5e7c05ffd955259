"""Background re-index jobs, claimed from Redis by whichever API replica is free, one at a time cluster-wide.

Keys (prefix from settings):
  {p}:job:<id>        JSON ``Job`` (kept 30 days)
  {p}:jobs            sorted set of job ids by creation time (the admin list)
  {p}:jobs:queue      list of queued job ids, oldest first
  {p}:jobs:active     id of the job being run, set from its claim until it has finished
  {p}:jobs:lease      id of the runner holding the lease, with a TTL (``job_lease_seconds``) that the
                      runner's heartbeat renews while it is alive

The lease is the lock: only its holder runs a job, so at most one job builds and switches an index version
at a time across all replicas (the ingest file lock only covers one data dir). A job submitted on any
replica is run by whichever replica's worker claims it first.

Takeover: when the replica running a job dies (process killed, pod evicted, rolling update), its heartbeat
stops, the lease expires, and the next replica to poll finds ``active`` set with nobody holding the lease. It
claims the job, records the takeover in it (from which runner, by which, when, at which stage) and runs it
again from the start. Every stage is idempotent: texts are content-addressed, vectors come back from the
embedding cache (written batch by batch), the dead runner's half-written collection is dropped by the next
ingest as unregistered, and each version records the job that built it (``job <id>`` at the end of its
note), so a job whose runner died after building or switching its version is finished, never built twice.
A job whose runners die ``job_max_attempts`` times is reported failed (it may be what kills them).

Fencing: every write a runner makes about its job goes through a script that checks it still holds the
lease, and a runner that lost it (paused past the lease) stops at its next progress report, so a job is
finished, audited and its draft published exactly once.

A job that fails anywhere before the switch leaves the previous version serving, and stores the error.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field

from knowledge.embedding import Embedder
from knowledge.errors import KnowledgeError, NotFound
from knowledge.ingest import IngestResult, activate, ingest
from knowledge.library import DocumentLibrary
from knowledge.settings import Settings
from knowledge.store import VersionInfo

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
KEEP_JOBS = 500
# A version built by a job says so at the end of its note ("draft 1a2b… · job 3c4d…"): the idempotency mark.
_BUILT_BY = re.compile(r"\bjob ([0-9a-f]{12})$")

# KEYS lease, active, queue; ARGV runner, ttl_ms → {job_id, takeover} or nil.
# Free lease (or our own): resume the active job a dead runner left (takeover), else pop the next queued one.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return false end
local job = redis.call('GET', KEYS[2])
local takeover = 1
if not job then
  takeover = 0
  job = redis.call('LPOP', KEYS[3])
  if not job then
    if holder then redis.call('DEL', KEYS[1]) end
    return false
  end
  redis.call('SET', KEYS[2], job)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {job, takeover}
"""
# KEYS lease; ARGV runner, ttl_ms → 1 renewed, 0 lost
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS lease, job; ARGV runner, json, ttl_s → 1 saved, 0 not the holder (nothing written)
_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
"""
# KEYS lease, active, job; ARGV runner, json ('' = leave the record), ttl_s → 1 finished, 0 not the holder
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3]) end
redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[1])
return 1
"""


class LeaseLost(Exception):
    """Another runner took this runner's job over (it was paused or cut off from Redis past the lease)."""


class Takeover(BaseModel):
    """One replica taking over a job from a runner that stopped (shown in the admin console)."""

    from_runner: str
    by_runner: str
    at: float
    stage: Stage | None = None  # where the stopped runner had got to
    percent: float = 0.0


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
    runner: str = ""  # host:pid:nonce of the replica running (or last running) it
    submitted_on: str = ""  # the replica that accepted it
    attempt: int = 0  # runs started: 1, or more after takeovers
    takeovers: list[Takeover] = Field(default_factory=list)
    # Computed on read: running, but nobody holds the lease (its replica stopped; another one takes it over
    # within a poll, or when one starts).
    awaiting_takeover: bool = False


def progress_percent(stage: str, done: int, total: int) -> float:
    lo, hi = STAGE_SPAN.get(stage, (0.0, 100.0))
    fraction = min(1.0, done / total) if total > 0 else 1.0
    return round(lo + (hi - lo) * fraction, 1)


def eta_seconds(elapsed: float, percent: float) -> float | None:
    """Remaining time if the rest goes as fast as what was done; unknown until there is something to go by."""
    if percent < 5.0 or elapsed <= 0:
        return None
    return round(elapsed * (100.0 - percent) / percent, 1)


def new_runner_id() -> str:
    """Readable in the admin console: the pod (host) name, the process, and a nonce per runner."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"


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
        runner_id: str | None = None,
    ):
        self.settings = settings
        self.library = library
        self.embedder = embedder
        self.audit = audit
        self.after_switch = after_switch
        self.redis = client or redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.p = settings.redis_prefix
        self.runner_id = runner_id or new_runner_id()
        self.lease_ms = int(settings.job_lease_seconds * 1000)
        self.beat_seconds = settings.job_lease_seconds / 3
        self.poll_seconds = min(1.0, self.beat_seconds)
        self._claim = self.redis.register_script(_CLAIM)
        self._renew = self.redis.register_script(_RENEW)
        self._save_if_holder = self.redis.register_script(_SAVE)
        self._finish = self.redis.register_script(_FINISH)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._current: str | None = None
        self._worker: threading.Thread | None = None
        self._beater: threading.Thread | None = None

    # --- keys ----------------------------------------------------------------------------------
    def _key(self, job_id: str) -> str:
        return f"{self.p}:job:{job_id}"

    @property
    def _lease_key(self) -> str:
        return f"{self.p}:jobs:lease"

    @property
    def _active_key(self) -> str:
        return f"{self.p}:jobs:active"

    @property
    def _queue_key(self) -> str:
        return f"{self.p}:jobs:queue"

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> JobRunner:
        self._worker = threading.Thread(target=self._work, name="minsheng-jobs", daemon=True)
        self._beater = threading.Thread(target=self._heartbeat, name="minsheng-jobs-heartbeat", daemon=True)
        self._worker.start()
        self._beater.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs. A running job goes on (heartbeat included) until it ends or the process does;
        if the process ends first, the lease expires and another replica takes the job over."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout)

    def _heartbeat(self) -> None:
        """Renew the lease while this runner's worker is alive: a worker that died (with its process, or of
        anything unhandled) stops renewing, and its job is taken over once the lease runs out."""
        worker = self._worker
        while worker is not None and worker.is_alive():
            if self._current is not None:
                try:
                    if not self._renew(keys=[self._lease_key], args=[self.runner_id, self.lease_ms]):
                        self._lost.set()
                except redis.RedisError as exc:
                    log.warning("job lease not renewed (%s); retrying", exc)
            worker.join(self.beat_seconds)

    # --- state ---------------------------------------------------------------------------------
    def _save(self, job: Job) -> None:
        """Write the job's state if this runner still holds the lease; otherwise stop this run."""
        saved = self._save_if_holder(
            keys=[self._lease_key, self._key(job.id)],
            args=[self.runner_id, job.model_dump_json(exclude={"awaiting_takeover"}), JOB_TTL_SECONDS],
        )
        if not saved:
            raise LeaseLost(job.id)

    def submit(
        self, kind: JobKind, *, created_by: str, role: str = "admin", target: str | None = None
    ) -> Job:
        job = Job(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            target=target,
            created_by=created_by,
            role=role,
            submitted_on=self.runner_id,
            previous_version=self.library.store.current_version(),
        )
        with self.redis.pipeline() as pipe:  # MULTI: a job is recorded and queued, or neither
            pipe.set(
                self._key(job.id), job.model_dump_json(exclude={"awaiting_takeover"}), ex=JOB_TTL_SECONDS
            )
            pipe.zadd(f"{self.p}:jobs", {job.id: job.created_at})
            pipe.zremrangebyrank(f"{self.p}:jobs", 0, -KEEP_JOBS - 1)
            pipe.rpush(self._queue_key, job.id)
            pipe.execute()
        self._wake.set()  # this replica's worker claims it at once if it is idle (any idle replica may)
        return job

    def get(self, job_id: str) -> Job:
        raw = self.redis.get(self._key(job_id))
        if raw is None:
            raise NotFound(f"没有任务 {job_id} (unknown job {job_id!r})")
        return self._annotate(Job.model_validate_json(raw))

    def list(self, limit: int = 50) -> list[Job]:
        ids = self.redis.zrevrange(f"{self.p}:jobs", 0, max(0, limit - 1))
        raws = self.redis.mget([self._key(i) for i in ids]) if ids else []
        return [self._annotate(Job.model_validate_json(r)) for r in raws if r]

    def active(self) -> list[Job]:
        return [j for j in self.list() if j.status in ("queued", "running")]

    def busy(self) -> bool:
        """A job is being run somewhere in the cluster (or waits to be taken over)."""
        return bool(self.redis.exists(self._active_key))

    def _annotate(self, job: Job) -> Job:
        if job.status == "running" and not self.redis.exists(self._lease_key):
            job.awaiting_takeover = True
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
            try:
                claimed = self._claim(
                    keys=[self._lease_key, self._active_key, self._queue_key],
                    args=[self.runner_id, self.lease_ms],
                )
            except redis.RedisError as exc:
                log.warning("could not poll for jobs (%s)", exc)
                claimed = None
            if not claimed:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            job_id, takeover = claimed[0], bool(int(claimed[1]))
            self._current = job_id
            self._lost.clear()
            try:
                self._run_claimed(job_id, takeover)
            except LeaseLost:
                log.warning("job %s was taken over by another replica; this run stopped", job_id)
            except Exception:  # noqa: BLE001 - the worker must survive anything one job does
                # Lease and active job stay: the next claim (here or on another replica) resumes the job.
                log.exception("job %s crashed outside its own error handling", job_id)
            finally:
                self._current = None

    def _run_claimed(self, job_id: str, takeover: bool) -> None:
        raw = self.redis.get(self._key(job_id))
        job = Job.model_validate_json(raw) if raw else None
        if job is None or job.status in ("succeeded", "failed"):  # expired, or finished but not cleared
            self._finish(
                keys=[self._lease_key, self._active_key, self._key(job_id)], args=[self.runner_id, "", 0]
            )
            return
        if takeover and job.status == "running":
            job.takeovers.append(
                Takeover(
                    from_runner=job.runner,
                    by_runner=self.runner_id,
                    at=time.time(),
                    stage=job.stage,
                    percent=job.percent,
                )
            )
            log.warning(
                "job %s: taking over from %s (stopped at %s %s%%)", job.id, job.runner, job.stage, job.percent
            )
            self._audit(
                job,
                "job.takeover",
                detail=f"由 {self.runner_id} 接管，原执行进程 {job.runner} 已停止 "
                f"(taken over at {job.stage or 'start'} {job.percent}%)",
            )
            if job.attempt >= self.settings.job_max_attempts:
                job.status, job.finished_at = "failed", time.time()
                job.error = (
                    f"执行该任务的服务进程已停止 {job.attempt} 次，不再重试；当前版本未改变 "
                    f"(the replica running this job stopped {job.attempt} times)"
                )
                self._complete(job)
                return
        self._run(job)

    def _run(self, job: Job) -> None:
        job.attempt += 1
        job.status, job.stage, job.runner, job.error = "running", "parse", self.runner_id, None
        job.done = job.total = 0
        job.started_at = job.started_at or time.time()
        if job.attempt == 1:  # what served before this job (a takeover keeps the first run's)
            job.previous_version = self.library.store.current_version()
        self._save(job)
        run_started = time.time()
        last_write = 0.0

        def progress(stage: str, done: int, total: int) -> None:
            nonlocal last_write
            if self._lost.is_set():
                raise LeaseLost(job.id)
            new_stage = stage != job.stage
            job.stage, job.done, job.total = stage, done, total  # type: ignore[assignment]
            job.percent = progress_percent(stage, done, total)
            job.eta_seconds = eta_seconds(time.time() - run_started, job.percent)
            now = time.monotonic()
            # Redis writes throttled; each stage's start and end always shown (a takeover reports the stage)
            if new_stage or now - last_write >= 0.25 or done >= total:
                last_write = now
                self._save(job)

        try:
            result = self._execute(job, progress)
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - stored for the admin; the old version keeps serving
            job.status, job.error = "failed", _describe(exc)
            if not isinstance(exc, KnowledgeError):
                log.exception("job %s failed", job.id)
        else:
            if self.after_switch is not None:
                # Done means this process already answers from the new version (others follow within a second).
                try:
                    self.after_switch()
                except Exception:  # noqa: BLE001 - the replica refreshes on its own within a second
                    log.exception("job %s: refreshing after the switch failed", job.id)
            info = self.library.store.info(result.version)
            job.status, job.version = "succeeded", result.version
            job.summary = info.changes if result.changed else ["文档没有变化，沿用当前版本 (nothing changed)"]
            job.percent, job.eta_seconds, job.stage = 100.0, 0.0, "switch"
        job.finished_at = time.time()
        self._complete(job)

    def _complete(self, job: Job) -> None:
        """Store the outcome, free the lease and the active slot (one step), then audit it: exactly once."""
        finished = self._finish(
            keys=[self._lease_key, self._active_key, self._key(job.id)],
            args=[self.runner_id, job.model_dump_json(exclude={"awaiting_takeover"}), JOB_TTL_SECONDS],
        )
        if not finished:
            raise LeaseLost(job.id)
        self._audit(job, f"job.{job.status}", detail=job.error or f"{job.kind} {job.target or ''}".strip())
        self._wake.set()  # look for the next queued job at once

    def _execute(self, job: Job, progress: Callable[[str, int, int], None]) -> IngestResult:
        built = self._built_by(job)
        common: dict[str, Any] = {"embedder": self.embedder, "progress": progress, "author": job.created_by}
        if job.kind == "publish":
            if built is None:
                draft, docs = self.library.plan_publish(job.target or "")
                result = ingest(self.settings, docs, note=f"draft {draft.id} · job {job.id}", **common)
            else:
                draft, result = self.library.get_draft(job.target or ""), built
            if draft.status != "published":
                self.library.update_draft(draft.id, status="published")
            self._adopt_dating(job, draft)  # idempotent: a second call finds nothing left to adopt
            return result
        if built is not None:
            return built
        if job.kind == "delete":
            docs = self.library.plan_delete(job.target or "")
            return ingest(self.settings, docs, note=f"delete {job.target} · job {job.id}", **common)
        return ingest(self.settings, None, force=True, note=f"reindex · job {job.id}", **common)

    def _built_by(self, job: Job) -> IngestResult | None:
        """The version an earlier run of this job built (then switched to, if the run died just before)."""
        if job.attempt <= 1:
            return None
        store = self.library.store
        info: VersionInfo | None = next(
            (v for v in store.versions() if (m := _BUILT_BY.search(v.note)) and m.group(1) == job.id), None
        )
        if info is None:
            return None
        if store.current_version() != info.version:
            activate(
                self.settings, info.version, wait_seconds=60.0
            )  # registered complete; the switch was next
        return IngestResult(info.version, True, info.chunk_count, 0, 0.0, [])

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

    def _audit(self, job: Job, action: str, detail: str) -> None:
        if self.audit is None:
            return
        try:
            self.audit.record(
                actor=job.created_by,
                role=job.role,
                action=action,
                target=f"job:{job.id}",
                before={"version": job.previous_version},
                after={"version": job.version, "changes": job.summary, "runner": self.runner_id},
                detail=detail,
            )
        except Exception:  # noqa: BLE001 - a job's outcome is in Redis either way
            log.exception("could not audit job %s", job.id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, KnowledgeError):
        return str(exc)
    return f"重建索引失败，当前版本未改变 (re-index failed: {type(exc).__name__}: {exc})"
