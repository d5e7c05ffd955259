"""Catalogue editing: check an edited service entry, run the test cases on the candidate catalogue, and
publish it as a new immutable revision (no FastAPI here).

Layout under ``settings.data_dir/catalogue/``::

    revisions/r00001/data/*.yaml      the whole catalogue as of that revision (never changed once written)
    revisions/r00001/revision.json    who, when, which service, what changed
    CURRENT                           id of the published revision, switched atomically with os.replace
    .lock                             flock: one publish at a time across the API processes sharing data_dir

The first revision is a verbatim copy of the shipped ``knowledge/catalogue/data`` (the seed CI validates);
a deploy that changes those files is imported as a new revision, unless admins have published edits since
(theirs are kept, with a warning in the log). Every process re-reads ``CURRENT`` at most once a second, so a publish on one replica reaches all of them
without a restart. Old revisions are never deleted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, computed_field

from knowledge.catalogue.loader import (
    CATALOGUE_DIR,
    Catalogue,
    build_catalogue,
    make_entry,
    read_service_files,
    service_problems,
)
from knowledge.catalogue.models import CatalogueEntry, Service
from knowledge.catalogue.testcases import CASES_DIR, Case, CaseResult, load_cases, run_cases
from knowledge.chunking import Chunk, chunk_documents
from knowledge.errors import CatalogueRejected, NotFound
from knowledge.settings import Settings
from knowledge.sources import SourceDocument

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
REVISION_ID = re.compile(r"r\d{5,}")


class Revision(BaseModel):
    id: str
    parent: str | None = None
    created_at: datetime
    author: str
    action: Literal["seed", "edit", "add"]
    service_id: str | None = None
    summary: str
    note: str = ""
    seed_hash: str | None = None  # seed revisions: hash of the shipped files they were copied from


class ServiceSummary(BaseModel):
    id: str
    name: str
    region: str
    category: str
    tier: str
    file: str


class CheckReport(BaseModel):
    """What publishing ``entry`` on top of ``base_revision`` would do: problems and every case result."""

    service_id: str
    base_revision: str
    is_new: bool
    problems: list[str]
    cases: list[CaseResult]
    broken_cases: list[CaseResult]  # failing on the candidate catalogue
    already_failing: list[str]  # names of cases that fail on the published revision too

    @computed_field
    @property
    def ok(self) -> bool:
        return not self.problems and not self.broken_cases


# ---- pure helpers ------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """JSON-safe copy (YAML dates become ISO strings): what the editor edits and the audit log stores."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def parse_entry(
    service_id: str, entry: object, docs: dict[str, SourceDocument]
) -> tuple[Service | None, list[str]]:
    """The edited entry as a Service, or every problem: id, schema, verbatim citations, rules over known
    profile fields (the loader's own checks, so the editor and CI can never disagree)."""
    if not isinstance(entry, dict):
        return None, ["entry: must be a mapping of fields"]
    service, problems = service_problems(entry, docs)
    if entry.get("id") != service_id:
        return None, [f"id: the entry's id {entry.get('id')!r} differs from {service_id!r}", *problems]
    return service, problems


def validate_entry(service_id: str, entry: object, docs: dict[str, SourceDocument]) -> list[str]:
    return parse_entry(service_id, entry, docs)[1]


def describe_change(old: dict | None, new: dict) -> str:
    """A one-line Chinese summary for the revision history, naming the fields that changed."""
    label = f"{new.get('id')}（{new.get('name', '')}）"
    if old is None:
        return f"新增服务 {label}"
    old, new = plain(old), plain(new)
    changed = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    return f"修改 {label}：{'、'.join(changed)}"


def seed_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def with_entry(catalogue: Catalogue, entry: CatalogueEntry) -> Catalogue:
    """A copy of the catalogue with one entry added or replaced (the published object is never mutated)."""
    return Catalogue(entries={**catalogue.entries, entry.service.id: entry})


@dataclass(frozen=True)
class Snapshot:
    """One loaded revision: the served catalogue and the raw entries it was built from."""

    revision: str
    catalogue: Catalogue
    raw: dict[str, tuple[str, dict]]  # service id → (file name, entry as stored)


# ---- the store ---------------------------------------------------------------------------------------


class CatalogueStore:
    def __init__(
        self,
        settings: Settings,
        sources: list[SourceDocument],
        *,
        seed_dir: Path = CATALOGUE_DIR,
        cases_dir: Path = CASES_DIR,
        refresh_seconds: float = 1.0,
    ):
        self.root = settings.data_dir / "catalogue"
        self.sources = sources
        self.docs = {d.file_name: d for d in sources}
        self.chunks: list[Chunk] = chunk_documents(sources)  # once: every rebuild reuses them
        self.seed_dir = seed_dir
        self.cases: list[Case] = load_cases(cases_dir)
        self.refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._baseline: tuple[str, set[str]] | None = None  # (revision, names of its failing cases)
        self._seed_checked = False
        self._lock = threading.RLock()

    # --- reading ----------------------------------------------------------------------------------
    def current_revision(self) -> str:
        pointer = self.root / CURRENT
        if not self._seed_checked or not pointer.exists():
            self._import_seed()
            self._seed_checked = True
        return pointer.read_text(encoding="utf-8").strip()

    def snapshot(self, force_check: bool = False) -> Snapshot:
        snap = self._snapshot
        if snap and not force_check and time.monotonic() - self._checked_at < self.refresh_seconds:
            return snap
        with self._lock:
            revision = self.current_revision()
            self._checked_at = time.monotonic()
            if self._snapshot is None or self._snapshot.revision != revision:
                try:
                    self._snapshot = self._load(revision)
                except Exception:
                    if self._snapshot is None:
                        raise
                    # Keep serving the revision we have rather than failing residents' requests.
                    log.exception(
                        "catalogue revision %s does not load; still serving %s",
                        revision,
                        self._snapshot.revision,
                    )
            return self._snapshot

    def catalogue(self) -> Catalogue:
        return self.snapshot().catalogue

    def services(self) -> list[ServiceSummary]:
        snap = self.snapshot()
        return [
            ServiceSummary(
                id=e.service.id,
                name=e.service.name,
                region=e.service.region,
                category=e.service.category,
                tier=e.service.tier,
                file=snap.raw[service_id][0],
            )
            for service_id, e in snap.catalogue.entries.items()
        ]

    def entry(self, service_id: str, revision: str | None = None) -> dict:
        """The stored entry as an editable plain dict (at ``revision``, default the published one)."""
        raw = self.snapshot().raw if revision is None else self._read_raw(revision)
        if service_id not in raw:
            raise NotFound(f"no service with id {service_id!r}")
        return plain(raw[service_id][1])

    def revisions(self) -> list[Revision]:
        """Newest first."""
        metas = (self.root / "revisions").glob("r*/revision.json")
        found = [Revision.model_validate_json(m.read_text(encoding="utf-8")) for m in metas]
        return sorted(found, key=lambda r: int(r.id[1:]), reverse=True)  # r100000 after r99999

    # --- checking ---------------------------------------------------------------------------------
    def check(self, service_id: str, entry: object, base: Snapshot | None = None) -> CheckReport:
        """Validate ``entry`` and run every case on the catalogue it would produce. Changes nothing."""
        snap = base or self.snapshot()
        service, problems = parse_entry(service_id, entry, self.docs)
        results: list[CaseResult] = []
        if service is not None:
            candidate = with_entry(snap.catalogue, make_entry(service, self.docs, self.chunks))
            results = run_cases(candidate, self.cases)
        failing_now = self._failing(snap)
        return CheckReport(
            service_id=service_id,
            base_revision=snap.revision,
            is_new=service_id not in snap.raw,
            problems=problems,
            cases=results,
            broken_cases=[r for r in results if not r.passed],
            already_failing=sorted(failing_now),
        )

    # --- publishing -------------------------------------------------------------------------------
    def publish(
        self,
        service_id: str,
        entry: dict,
        author: str,
        *,
        note: str = "",
        base_revision: str | None = None,
        new: bool | None = None,
    ) -> Revision:
        """Publish ``entry`` as a new revision, or raise ``CatalogueRejected`` and change nothing.

        ``new``: True = must be a new service id, False = must exist (NotFound otherwise), None = either.
        ``base_revision``: the revision the admin started from; refused if the service changed since."""
        self.current_revision()  # seed first: seeding takes the file lock itself
        with self._lock, self._exclusive():
            snap = self.snapshot(force_check=True)
            exists = service_id in snap.raw
            if new is False and not exists:
                raise NotFound(f"no service with id {service_id!r}")
            if new is True and exists:
                raise CatalogueRejected([f"id: service {service_id!r} already exists"])
            if base_revision and base_revision != snap.revision:
                try:
                    before = self._read_raw(base_revision).get(service_id)
                except NotFound:
                    raise CatalogueRejected([f"unknown base revision {base_revision!r}"]) from None
                if plain(before) != plain(snap.raw.get(service_id)):
                    raise CatalogueRejected(
                        [
                            f"{service_id} was changed after revision {base_revision} "
                            f"(now {snap.revision}); reload it and edit again"
                        ]
                    )
            report = self.check(service_id, entry, base=snap)
            if not report.ok:
                raise CatalogueRejected(report.problems, report.broken_cases)
            old = snap.raw.get(service_id)
            if old is not None and plain(old[1]) == plain(entry):
                raise CatalogueRejected([f"{service_id}: no change to publish"])
            revision = Revision(
                id=self._next_id(),
                parent=snap.revision,
                created_at=datetime.now(UTC),
                author=author,
                action="edit" if exists else "add",
                service_id=service_id,
                summary=describe_change(old[1] if old else None, entry),
                note=note,
            )
            published = self._write_revision(revision, snap, service_id, plain(entry))
            self._switch(revision.id)
            self._snapshot, self._checked_at = published, time.monotonic()  # visible here at once
            log.info("catalogue revision %s by %s: %s", revision.id, author, revision.summary)
            return revision

    # --- internals --------------------------------------------------------------------------------
    def _rev_dir(self, revision: str) -> Path:
        if not REVISION_ID.fullmatch(revision):  # ids reach here from URLs: never build a path from junk
            raise NotFound(f"no catalogue revision {revision!r}")
        return self.root / "revisions" / revision

    def _read_raw(self, revision: str) -> dict[str, tuple[str, dict]]:
        data = self._rev_dir(revision) / "data"
        if not data.is_dir():
            raise NotFound(f"no catalogue revision {revision!r}")
        return {item.get("id"): (name, item) for name, item in read_service_files(data)}

    def _load(self, revision: str) -> Snapshot:
        data = self._rev_dir(revision) / "data"
        if not data.is_dir():
            raise NotFound(f"no catalogue revision {revision!r}")
        raw = read_service_files(data)
        catalogue = build_catalogue(raw, self.sources, self.chunks)
        return Snapshot(revision=revision, catalogue=catalogue, raw={i["id"]: (f, i) for f, i in raw})

    def _failing(self, snap: Snapshot) -> set[str]:
        # Cases already failing on the published revision (e.g. cases changed by a deploy), computed once.
        if self._baseline is None or self._baseline[0] != snap.revision:
            failing = {r.name for r in run_cases(snap.catalogue, self.cases) if not r.passed}
            self._baseline = (snap.revision, failing)
        return self._baseline[1]

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Cross-process lock: another replica publishing at the same time waits, then sees our revision."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _import_seed(self) -> None:
        """Seed on first use; after a deploy that changed the shipped YAML, import it as a new revision,
        unless admins have published edits since the last import (then keep theirs and warn)."""
        with self._lock, self._exclusive():
            wanted = seed_hash(self.seed_dir)
            pointer = self.root / CURRENT
            current = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None
            if current is not None:
                latest_seed = next((r for r in self.revisions() if r.action == "seed"), None)
                if latest_seed is None or latest_seed.seed_hash == wanted:
                    return
                if latest_seed.id != current:
                    log.warning(
                        "the shipped catalogue changed since revision %s, but admins published edits since "
                        "(current %s): keeping the edited catalogue; merge the shipped changes by hand",
                        latest_seed.id,
                        current,
                    )
                    return
            count = len(read_service_files(self.seed_dir))
            revision = Revision(
                id=self._next_id(),
                parent=current,
                created_at=datetime.now(UTC),
                author="system",
                action="seed",
                summary=(
                    f"导入随程序发布的目录（{count} 项服务）"
                    if current
                    else f"初始目录（随程序发布，{count} 项服务）"
                ),
                seed_hash=wanted,
            )
            tmp = self._staging()
            (tmp / "data").mkdir()
            for path in sorted(self.seed_dir.glob("*.yaml")):
                shutil.copy2(path, tmp / "data" / path.name)
            self._finish(tmp, revision)
            self._switch(revision.id)

    def _next_id(self) -> str:
        numbers = [int(p.name[1:]) for p in (self.root / "revisions").glob("r*") if p.name[1:].isdigit()]
        return f"r{max(numbers, default=0) + 1:05d}"

    def _staging(self) -> Path:
        tmp = self.root / "revisions" / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        return tmp

    def _write_revision(self, revision: Revision, base: Snapshot, service_id: str, entry: dict) -> Snapshot:
        tmp = self._staging()
        try:
            data = tmp / "data"
            shutil.copytree(self._rev_dir(base.revision) / "data", data)
            file_name = base.raw[service_id][0] if service_id in base.raw else f"{entry['region']}.yaml"
            path = data / file_name
            doc = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
            items = doc.get("services") or []
            index = next((i for i, it in enumerate(items) if it.get("id") == service_id), None)
            if index is None:
                items.append(entry)
            else:
                items[index] = entry
            header = (
                f"# Catalogue revision {revision.id} by {revision.author} at {revision.created_at:%Y-%m-%d %H:%M}"
                f" UTC: {revision.summary}\n# Written by the catalogue editor; the shipped seed is "
                "knowledge/catalogue/data/.\n"
            )
            body = yaml.safe_dump({**doc, "services": items}, allow_unicode=True, sort_keys=False, width=4096)
            path.write_text(header + body, encoding="utf-8")
            # Last gate: the whole candidate revision must load exactly as the API will load it.
            raw = read_service_files(data)
            catalogue = build_catalogue(raw, self.sources, self.chunks)
            self._finish(tmp, revision)
            return Snapshot(revision.id, catalogue, {i["id"]: (f, i) for f, i in raw})
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _finish(self, tmp: Path, revision: Revision) -> None:
        (tmp / "revision.json").write_text(revision.model_dump_json(indent=2), encoding="utf-8")
        os.rename(tmp, self._rev_dir(revision.id))  # fails if the id is taken: never overwrites

    def _switch(self, revision: str) -> None:
        tmp = self.root / f".{CURRENT}.{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(revision + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / CURRENT)
