"""The document library: every text ever published or drafted, the drafts, and the published set.

Texts are immutable and content-addressed under ``data_dir/library/texts`` (shipped plans keep their
file names because the catalogue cites them; uploads are ``<doc_id>-<sha256[:12]>.txt``), so any
citation of any version stays resolvable. What is *published* is not stored here at all: it is read
off the current index version (``VersionInfo.sources``), so a rollback moves it along automatically.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Any, Literal

from filelock import FileLock
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from knowledge.converters import ParseLimits, convert, extension
from knowledge.dating import DocKind
from knowledge.errors import (
    DuplicateDocument,
    EmptyDocument,
    InvalidMetadata,
    LibraryConflict,
    NotFound,
    SourceError,
    UnknownDocument,
)
from knowledge.preview import Preview, preview
from knowledge.settings import Settings
from knowledge.sources import REGION_NAMES, DocumentFields, DocumentMeta, Period, SourceDocument, load_sources
from knowledge.store import SourceEntry, VersionStore, make_client

log = logging.getLogger(__name__)

DraftStatus = Literal["pending", "published", "discarded"]
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")  # a stored text's name: never a path
_DRAFT_ID = re.compile(r"^[0-9a-f]{12}$")
# What an admin may change about a published document without re-indexing it (issue 13).
DATING_FIELDS: tuple[str, ...] = ("kind", "supersedes", "period", "valid_from", "valid_to")


class DatingChange(BaseModel):
    """A change to a published document's dating (``PATCH /v1/admin/documents/{doc_id}/dating``): only the
    fields sent change, ``supersedes: null`` clears it. Kept by doc_id in ``library/dating.json`` and laid
    over whatever version is current, so it needs no re-indexing and survives a rollback."""

    model_config = ConfigDict(extra="forbid")

    kind: DocKind | None = None
    supersedes: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")
    period: Period | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    @model_validator(mode="after")
    def _something_to_change(self):
        if not self.model_fields_set:
            raise ValueError(
                "没有要修改的字段 (nothing to change: send kind, supersedes, period, valid_from or valid_to)"
            )
        for name in self.model_fields_set:
            if name != "supersedes" and getattr(self, name) is None:
                raise ValueError(f"{name} 不能为空 ({name} cannot be null; only supersedes can be cleared)")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields sent, as JSON values (dates as ISO strings), the way dating.json keeps them."""
        return self.model_dump(mode="json", include=self.model_fields_set)


class Draft(BaseModel):
    id: str
    meta: DocumentMeta
    source_name: str
    sha256: str
    replaces: str | None = None  # doc_id of the published document this one replaces
    author: str
    created_at: str
    status: DraftStatus = "pending"
    job: str | None = None  # the latest publish job started for it
    preview: Preview
    # The dating fields this draft states anew (a new document: all of them; a replacement: those that differ
    # from the replaced document's dating when the draft was made). Publishing it makes them win over an
    # admin's earlier dating change of the same doc_id (``DocumentLibrary.adopt_dating``).
    dating_changes: list[str] = Field(default_factory=list)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def upload_name(doc_id: str, text: str) -> str:
    return f"{doc_id}-{sha256_text(text)[:12]}.txt"


def _same_title(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a.strip("《》 ")) == re.sub(r"\s+", "", b.strip("《》 "))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def parse_fields(raw: str | dict[str, Any]) -> DocumentFields:
    """Admin-supplied metadata (a JSON string from a form, or a dict) → validated fields."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidMetadata(f"元数据不是合法的 JSON (meta is not valid JSON: {exc.msg})") from exc
    if not isinstance(raw, dict):
        raise InvalidMetadata("元数据必须是 JSON 对象 (meta must be a JSON object)")
    try:
        return DocumentFields.model_validate(raw)
    except ValidationError as exc:
        problems = "；".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'meta'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidMetadata(f"元数据不合法 (invalid meta): {problems}") from exc


class LibraryTexts(Mapping[str, str]):
    """Read-only view of the stored texts, read lazily; safe to cache forever because texts never change."""

    def __init__(self, directory: Path):
        self._dir = directory
        self._cache: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name in self._cache:
            return self._cache[name]
        if not isinstance(name, str) or not _NAME.match(name) or name.startswith("."):
            raise KeyError(name)
        try:
            text = (self._dir / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyError(name) from None
        self._cache[name] = text
        return text

    def __iter__(self) -> Iterator[str]:
        if not self._dir.is_dir():
            return iter(())
        return iter(sorted(p.name for p in self._dir.iterdir() if not p.name.startswith(".")))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True


class DocumentLibrary:
    def __init__(self, settings: Settings, store: VersionStore | None = None):
        self.settings = settings
        self.store = store or VersionStore(make_client(settings))
        self.root = settings.data_dir / "library"
        self.texts_dir = self.root / "texts"
        self.drafts_dir = self.root / "drafts"
        self.texts_dir.mkdir(parents=True, exist_ok=True)
        self.drafts_dir.mkdir(parents=True, exist_ok=True)
        self.texts = LibraryTexts(self.texts_dir)
        self._drafts_lock = threading.Lock()
        self.dating_path = self.root / "dating.json"
        self._dating_lock = threading.RLock()
        self._dating_cache: dict[str, dict[str, Any]] = {}
        self._dating_signature: tuple | None = None

    # --- texts ---------------------------------------------------------------------------------
    def put_text(self, name: str, text: str) -> None:
        """Store a text under a name, once. The same name with other content is refused: texts are immutable."""
        if not _NAME.match(name) or name.startswith("."):
            raise SourceError(f"invalid text name {name!r}")
        if name in self.texts:
            if self.texts[name] != text:
                raise SourceError(
                    f"库中已有名为 {name} 的不同文本；已发布的文本不可修改，请换一个文件名 "
                    f"(a different text is already stored as {name}; stored texts are immutable)"
                )
            return
        _atomic_write(self.texts_dir / name, text.encode("utf-8"))

    def ensure_seeded(self) -> None:
        """Store the shipped plans (idempotent). Until a version exists, they are the published set."""
        for doc in self.shipped():
            self.put_text(doc.file_name, doc.text)

    def shipped(self) -> list[SourceDocument]:
        return load_sources(self.settings.sources_dir)

    # --- the published set ---------------------------------------------------------------------
    def published_entries(self) -> list[SourceEntry]:
        current = self.store.current_version()
        return self.store.info(current).sources if current else []

    def published(self) -> list[SourceDocument]:
        """The current version's documents; the shipped plans when nothing has been indexed yet."""
        current = self.store.current_version()
        if current is None:
            return self.shipped()
        return self.documents_of(current)

    def documents_of(self, version: str) -> list[SourceDocument]:
        shipped_meta: dict[str, DocumentMeta] | None = None
        docs = []
        for entry in self.store.info(version).sources:
            if entry.meta is not None:
                meta = DocumentMeta.model_validate(entry.meta)
            else:  # a version indexed before metadata was recorded: only shipped plans existed then
                shipped_meta = shipped_meta or {d.file_name: d.meta for d in self.shipped()}
                if entry.file not in shipped_meta:
                    raise SourceError(f"version {version}: no metadata recorded for {entry.file}")
                meta = shipped_meta[entry.file]
            try:
                text = self.texts[entry.file]
            except KeyError:
                raise SourceError(
                    f"version {version}: text {entry.file} is missing from the library"
                ) from None
            docs.append(SourceDocument(meta=meta, file_name=entry.file, text=text))
        return docs

    def find(self, doc_id: str, docs: list[SourceDocument] | None = None) -> SourceDocument:
        for doc in self.published() if docs is None else docs:
            if doc.meta.doc_id == doc_id:
                return doc
        raise UnknownDocument(f"没有已发布的文档 {doc_id} (unknown document {doc_id!r})")

    # --- validation (pure over a given published set) ------------------------------------------
    @staticmethod
    def check_unique(meta: DocumentFields, replaces: str | None, published: list[SourceDocument]) -> None:
        if replaces is not None:
            if not any(d.meta.doc_id == replaces for d in published):
                raise UnknownDocument(f"没有已发布的文档 {replaces} (unknown document {replaces!r})")
            if meta.doc_id != replaces:
                raise InvalidMetadata(
                    f"替换时文档编号必须保持为 {replaces} (doc_id must stay {replaces!r} when replacing)"
                )
        for doc in published:
            if doc.meta.doc_id == replaces:
                continue
            if doc.meta.doc_id == meta.doc_id:
                raise DuplicateDocument(
                    f"文档编号 {meta.doc_id} 已被{doc.meta.title}使用；要更新它请用“替换” "
                    f"(doc_id {meta.doc_id!r} is already published; use replace)"
                )
            if _same_title(doc.meta.title, meta.title):
                raise DuplicateDocument(
                    f"已有同名文档{doc.meta.title}（{doc.meta.doc_id}） (duplicate title {meta.title!r})"
                )

    def replacement_fields(self, doc_id: str, overrides: dict[str, Any] | None) -> DocumentFields:
        """The replaced document's metadata with the admin's changes applied (doc_id cannot change)."""
        current = self.effective_meta(self.find(doc_id))  # an earlier dating change is kept, not undone
        current.pop("original_file", None)
        merged = {**current, **(overrides or {})}
        return parse_fields(merged)

    # --- drafts --------------------------------------------------------------------------------
    def create_draft(
        self,
        meta: DocumentFields,
        filename: str,
        data: bytes,
        replaces: str | None = None,
        author: str = "system",
    ) -> Draft:
        """Convert, validate and stage an upload. Nothing is stored unless every check passes."""
        text = convert(filename, data, ParseLimits.from_settings(self.settings))
        published = self.published()
        self.check_unique(meta, replaces, published)
        self.check_supersedes(meta.doc_id, meta.region, meta.supersedes, published)
        original = PurePath(filename).name[-200:] or f"upload{extension(filename)}"
        full = DocumentMeta(**meta.model_dump(), original_file=original)
        source_name = upload_name(full.doc_id, text)
        doc = SourceDocument(meta=full, file_name=source_name, text=text)
        shown = preview(doc)
        if shown.chunk_count == 0:
            raise EmptyDocument(f"文件中没有可检索的正文 (no searchable text in {filename!r})")
        if replaces is not None and self.find(replaces, published).content_hash == doc.content_hash:
            shown.warnings.append("正文与当前发布的版本完全相同 (text identical to the published one)")
        stated = full.model_dump(mode="json")
        if replaces is None:
            dating_changes = list(DATING_FIELDS)
        else:
            before = self.effective_meta(self.find(replaces, published))
            dating_changes = [f for f in DATING_FIELDS if stated.get(f) != before.get(f)]
        draft = Draft(
            id=uuid.uuid4().hex[:12],
            meta=full,
            source_name=source_name,
            sha256=doc.content_hash,
            replaces=replaces,
            author=author,
            created_at=now_iso(),
            preview=shown,
            dating_changes=dating_changes,
        )
        self.put_text(source_name, text)
        folder = self.drafts_dir / draft.id
        folder.mkdir(parents=True)
        _atomic_write(folder / f"original{extension(filename)}", data)  # kept: what the admin actually sent
        self._save(draft)
        return draft

    def _save(self, draft: Draft) -> None:
        _atomic_write(
            self.drafts_dir / draft.id / "draft.json", draft.model_dump_json(indent=1).encode("utf-8")
        )

    def get_draft(self, draft_id: str) -> Draft:
        path = self.drafts_dir / draft_id / "draft.json"
        if not _DRAFT_ID.match(draft_id) or not path.is_file():
            raise NotFound(f"没有草稿 {draft_id} (unknown draft {draft_id!r})")
        return Draft.model_validate_json(path.read_text(encoding="utf-8"))

    def list_drafts(self, status: DraftStatus | None = "pending") -> list[Draft]:
        drafts = [
            Draft.model_validate_json(p.read_text(encoding="utf-8"))
            for p in self.drafts_dir.glob("*/draft.json")
        ]
        drafts = [d for d in drafts if status is None or d.status == status]
        return sorted(drafts, key=lambda d: d.created_at, reverse=True)

    def update_draft(self, draft_id: str, **changes: Any) -> Draft:
        with self._drafts_lock:
            draft = self.get_draft(draft_id).model_copy(update=changes)
            self._save(draft)
            return draft

    def discard_draft(self, draft_id: str) -> Draft:
        """Mark a draft discarded (its text and original file stay stored)."""
        draft = self.pending_draft(draft_id)
        return self.update_draft(draft.id, status="discarded")

    def pending_draft(self, draft_id: str) -> Draft:
        draft = self.get_draft(draft_id)
        if draft.status != "pending":
            raise LibraryConflict(
                f"草稿 {draft_id} 已{'发布' if draft.status == 'published' else '丢弃'} "
                f"(draft is already {draft.status})"
            )
        return draft

    # --- planned document sets -----------------------------------------------------------------
    def plan_publish(self, draft_id: str) -> tuple[Draft, list[SourceDocument]]:
        """The document set after publishing a draft, validated against what is published now."""
        draft = self.pending_draft(draft_id)
        published = self.published()
        self.check_unique(draft.meta, draft.replaces, published)
        self.check_supersedes(draft.meta.doc_id, draft.meta.region, draft.meta.supersedes, published)
        doc = SourceDocument(meta=draft.meta, file_name=draft.source_name, text=self.texts[draft.source_name])
        if draft.replaces is None:
            return draft, [*published, doc]
        return draft, [doc if d.meta.doc_id == draft.replaces else d for d in published]

    def plan_delete(self, doc_id: str) -> list[SourceDocument]:
        published = self.published()
        self.find(doc_id, published)
        remaining = [d for d in published if d.meta.doc_id != doc_id]
        if not remaining:
            raise LibraryConflict("不能删除最后一份文档 (refusing to delete the last document)")
        return remaining

    # --- dating: kind, supersedes, period and validity, changeable without re-indexing (issue 13) --------
    def dating_overrides(self) -> dict[str, dict[str, Any]]:
        """doc_id → the dating fields admins changed after publishing (JSON values; ``supersedes`` may be None).

        The retriever lays this over each published document's metadata on every query. The file is re-read
        whenever it changes (one stat per call), so a change saved by any API replica is seen at once."""
        signature = self._dating_stat()
        with self._dating_lock:
            if signature != self._dating_signature:
                try:
                    self._dating_cache = self._read_dating() if signature else {}
                    self._dating_signature = signature
                except (OSError, ValueError) as exc:  # hand-edited and broken: keep the last good copy
                    log.error("cannot read %s, keeping the last good copy: %s", self.dating_path, exc)
            return copy.deepcopy(self._dating_cache)

    def dating_revision(self) -> str:
        """Changes whenever dating.json does (for caches of answers that depend on the documents' dating)."""
        signature = self._dating_stat()
        return "none" if signature is None else f"{signature[0]}-{signature[1]}-{signature[2]}"

    def _dating_stat(self) -> tuple | None:
        try:
            st = self.dating_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)  # os.replace gives a new inode: no same-mtime misses

    def _read_dating(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self.dating_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        if not isinstance(raw, dict):
            raise ValueError("dating.json must be a JSON object")
        return {
            str(doc_id): {k: v for k, v in fields.items() if k in DATING_FIELDS}
            for doc_id, fields in raw.items()
            if isinstance(fields, dict)
        }

    def _write_dating(self, overrides: dict[str, dict[str, Any]]) -> None:
        data = json.dumps(overrides, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        _atomic_write(self.dating_path, data)

    def _dating_file_lock(self) -> FileLock:
        return FileLock(str(self.root / "dating.lock"), timeout=30)  # read-modify-write across replicas

    def effective_meta(
        self, doc: SourceDocument, overrides: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A published document's metadata as JSON with the admins' later dating changes laid over it."""
        overrides = self.dating_overrides() if overrides is None else overrides
        return {**doc.meta.model_dump(mode="json"), **overrides.get(doc.meta.doc_id, {})}

    def check_supersedes(
        self,
        doc_id: str,
        region: str,
        supersedes: str | None,
        published: list[SourceDocument],
        overrides: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``supersedes`` must name another published document of the same region, without making a cycle."""
        if supersedes is None:
            return
        if supersedes == doc_id:
            raise InvalidMetadata(f"文件不能替代它自己（{doc_id}） (a document cannot supersede itself)")
        target = next((d for d in published if d.meta.doc_id == supersedes), None)
        if target is None:
            raise InvalidMetadata(
                f"被替代的文件 {supersedes} 不是已发布的文档 "
                f"(supersedes names no published document: {supersedes!r})"
            )
        if target.meta.region != region:
            raise InvalidMetadata(
                f"被替代的文件{target.meta.title}属于{REGION_NAMES.get(target.meta.region, target.meta.region)}，"
                f"只能替代同一地区（{REGION_NAMES.get(region, region)}）的文件 "
                f"(supersedes must name a document of the same region: {supersedes!r} is "
                f"{target.meta.region}, not {region})"
            )
        overrides = self.dating_overrides() if overrides is None else overrides
        chain = {d.meta.doc_id: self.effective_meta(d, overrides).get("supersedes") for d in published}
        chain[doc_id] = supersedes
        seen, current = {doc_id}, supersedes
        while current is not None and current in chain:
            if current in seen:
                raise InvalidMetadata(
                    f"{doc_id} 与 {supersedes} 会互相替代，替代关系不能形成循环 "
                    f"(supersedes would form a cycle: {doc_id} → {supersedes} → … → {doc_id})"
                )
            seen.add(current)
            current = chain[current]

    @staticmethod
    def check_dates(meta: dict[str, Any]) -> None:
        valid_from, valid_to = date.fromisoformat(meta["valid_from"]), date.fromisoformat(meta["valid_to"])
        if valid_to < valid_from:
            raise InvalidMetadata(
                f"有效期止（{valid_to}）不能早于有效期起（{valid_from}） (valid_to must not precede valid_from)"
            )
        period = meta.get("period") or {}
        if "start" in period and "end" in period and int(period["end"]) < int(period["start"]):
            raise InvalidMetadata(
                f"规划期止（{period['end']}年）不能早于规划期起（{period['start']}年） "
                f"(period end must not precede its start)"
            )

    def change_dating(self, doc_id: str, change: DatingChange) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate and store an admin's dating change of a published document; (before, after) of the fields
        that really changed (both empty when nothing did). Nothing is stored when a check fails."""
        changes = change.changes()
        with self._dating_lock, self._dating_file_lock():
            published = self.published()
            doc = self.find(doc_id, published)  # UnknownDocument → 404
            overrides = self._read_dating()
            current = self.effective_meta(doc, overrides)
            merged = {**current, **changes}
            self.check_dates(merged)
            if "supersedes" in changes:
                self.check_supersedes(doc_id, doc.meta.region, changes["supersedes"], published, overrides)
            changed = [k for k in changes if current.get(k) != changes[k]]
            if not changed:
                return {}, {}
            overrides[doc_id] = {**overrides.get(doc_id, {}), **{k: changes[k] for k in changed}}
            self._write_dating(overrides)
        return {k: current.get(k) for k in changed}, {k: changes[k] for k in changed}

    def adopt_dating(self, draft: Draft) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """After a draft is published: the dating fields it stated anew replace an earlier dating change of
        the same doc_id (the later statement wins). (before, after) of what changed, or None."""
        with self._dating_lock, self._dating_file_lock():
            overrides = self._read_dating()
            entry = overrides.get(draft.meta.doc_id)
            if not entry:
                return None
            stated = draft.meta.model_dump(mode="json")
            changed = [k for k in draft.dating_changes if k in entry and entry[k] != stated.get(k)]
            if not changed:
                return None
            overrides[draft.meta.doc_id] = {**entry, **{k: stated.get(k) for k in changed}}
            self._write_dating(overrides)
        return {k: entry[k] for k in changed}, {k: stated.get(k) for k in changed}
