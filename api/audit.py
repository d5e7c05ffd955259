"""Audit log of every admin and operator action: who, when, what, before/after. Append-only.

SQLite in the data dir rather than Redis: the log must outlive a Redis restart (Redis here keeps
nothing on disk). Triggers make UPDATE and DELETE fail inside the database itself, and every row
carries a SHA-256 chained over the previous row, so an edit made around the API is detectable
(`verify()`). No route offers changing or deleting entries.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from knowledge.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    detail TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_actor ON audit(actor);
CREATE INDEX IF NOT EXISTS audit_action ON audit(action);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""
GENESIS = "0" * 64


class AuditEntry(BaseModel):
    id: int
    ts: float
    actor: str
    role: str
    action: str
    target: str
    before: Any = None
    after: Any = None
    detail: str = ""
    hash: str


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _row_hash(
    prev: str, ts: float, actor: str, role: str, action: str, target: str, before, after, detail
) -> str:
    payload = json.dumps(
        [prev, repr(ts), actor, role, action, target, before, after, detail], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, settings: Settings, path: Path | None = None):
        self.path = path or settings.data_dir / "audit.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one writer per process; SQLite serialises across processes
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # explicit BEGIN/COMMIT below
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    def record(
        self,
        actor: str,
        role: str,
        action: str,
        target: str,
        before: Any = None,
        after: Any = None,
        detail: str = "",
    ) -> AuditEntry:
        ts = time.time()
        before_s, after_s = _dump(before), _dump(after)
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the chain's previous hash and the insert are one step
            try:
                row = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
                prev = row[0] if row else GENESIS
                digest = _row_hash(prev, ts, actor, role, action, target, before_s, after_s, detail)
                cur = db.execute(
                    "INSERT INTO audit (ts, actor, role, action, target, before, after, detail, prev_hash, hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (ts, actor, role, action, target, before_s, after_s, detail, prev, digest),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return AuditEntry(
            id=cur.lastrowid, ts=ts, actor=actor, role=role, action=action, target=target,
            before=before, after=after, detail=detail, hash=digest,
        )  # fmt: skip

    def query(
        self,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Newest first. ``action`` matches a whole name or a prefix ending in '.' (``document.``)."""
        where, args = [], []
        if actor:
            where.append("actor = ?")
            args.append(actor)
        if action:
            where.append("action LIKE ?" if action.endswith(".") else "action = ?")
            args.append(action + "%" if action.endswith(".") else action)
        if target:
            where.append("target LIKE ?")
            args.append(f"%{target}%")
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if until is not None:
            where.append("ts <= ?")
            args.append(until)
        sql = "SELECT id, ts, actor, role, action, target, before, after, detail, hash FROM audit"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        sql += " ORDER BY id DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(sql, [*args, limit]).fetchall()
        return [
            AuditEntry(
                id=r[0],
                ts=r[1],
                actor=r[2],
                role=r[3],
                action=r[4],
                target=r[5],
                before=json.loads(r[6]) if r[6] else None,
                after=json.loads(r[7]) if r[7] else None,
                detail=r[8],
                hash=r[9],
            )  # fmt: skip
            for r in rows
        ]

    def verify(self) -> bool:
        """Recompute the hash chain: False if any row was altered, removed or inserted out of band."""
        prev = GENESIS
        with self._connect() as db:
            rows = db.execute(
                "SELECT ts, actor, role, action, target, before, after, detail, prev_hash, hash FROM audit ORDER BY id"
            )
            for ts, actor, role, action, target, before, after, detail, prev_hash, digest in rows:
                if prev_hash != prev or digest != _row_hash(
                    prev, ts, actor, role, action, target, before, after, detail
                ):
                    return False
                prev = digest
        return True
