"""The audit log: append-only in the database itself, hash-chained, filterable."""

from __future__ import annotations

import sqlite3

import pytest

from api.audit import AuditLog
from knowledge.settings import Settings


@pytest.fixture
def log(tmp_path) -> AuditLog:
    return AuditLog(Settings(data_dir=tmp_path))


def test_records_and_filters(log):
    log.record("ad1", "admin", "document.upload", "gx-new", after={"title": "《新规划》"})
    log.record("op1", "operator", "ticket.reply", "t1", after={"text": "您好"})
    log.record(
        "ad1", "admin", "document.publish", "gx-new", before={"version": "v1"}, after={"version": "v2"}
    )
    newest = log.query()
    assert [e.action for e in newest] == ["document.publish", "ticket.reply", "document.upload"]
    assert newest[0].before == {"version": "v1"} and newest[0].after == {"version": "v2"}
    assert [e.action for e in log.query(actor="op1")] == ["ticket.reply"]
    assert [e.action for e in log.query(action="document.")] == ["document.publish", "document.upload"]
    assert log.query(action="document") == []  # whole names match exactly
    assert len(log.query(target="gx")) == 2
    assert log.query(since=newest[0].ts + 1) == []
    assert log.verify()


def test_rows_cannot_be_changed_or_deleted(log):
    log.record("ad1", "admin", "version.activate", "v1")
    db = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'someone-else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit")
    db.close()
    assert log.query()[0].actor == "ad1"


def test_tampering_around_the_triggers_is_detected(log):
    for i in range(3):
        log.record("ad1", "admin", "catalogue.publish", f"svc-{i}")
    assert log.verify()
    db = sqlite3.connect(log.path)
    db.execute("DROP TRIGGER audit_no_update")  # someone with file access bypasses the guard
    db.execute("UPDATE audit SET target = 'svc-x' WHERE id = 2")
    db.commit()
    db.close()
    assert not log.verify()


def test_survives_a_new_process_view(log, tmp_path):
    log.record("ad1", "admin", "document.delete", "nx-old", before={"title": "《旧》"})
    again = AuditLog(Settings(data_dir=tmp_path))
    assert again.query()[0].before == {"title": "《旧》"} and again.verify()
