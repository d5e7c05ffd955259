"""The document library: every text ever published or drafted, the drafts, and the published set.

Texts are immutable and content-addressed under ``data_dir/library/texts`` (shipped plans keep their
file names because the catalogue cites them; uploads are ``<doc_id>-<sha256[:12]>.txt``), so any
citation of any version stays resolvable. What is *published* is not stored here at all: it is read
off the current index version (``VersionInfo.sources``), so a rollback moves it along automatically.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from knowledge.converters import convert, extension
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
from knowledge.sources import DocumentFields, DocumentMeta, SourceDocument, load_sources
from knowledge.store import SourceEntry, VersionStore, make_client

DraftStatus = Literal["pending", "published", "discarded"]
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")  # a stored text's name: never a path
_DRAFT_ID = re.compile(r"^[0-9a-f]{12}$")


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
        current = self.find(doc_id).meta.model_dump(mode="json", exclude={"original_file"})
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
        text = convert(filename, data)
        published = self.published()
        self.check_unique(meta, replaces, published)
        original = PurePath(filename).name[-200:] or f"upload{extension(filename)}"
        full = DocumentMeta(**meta.model_dump(), original_file=original)
        source_name = upload_name(full.doc_id, text)
        doc = SourceDocument(meta=full, file_name=source_name, text=text)
        shown = preview(doc)
        if shown.chunk_count == 0:
            raise EmptyDocument(f"文件中没有可检索的正文 (no searchable text in {filename!r})")
        if replaces is not None and self.find(replaces, published).content_hash == doc.content_hash:
            shown.warnings.append("正文与当前发布的版本完全相同 (text identical to the published one)")
        draft = Draft(
            id=uuid.uuid4().hex[:12],
            meta=full,
            source_name=source_name,
            sha256=doc.content_hash,
            replaces=replaces,
            author=author,
            created_at=now_iso(),
            preview=shown,
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
