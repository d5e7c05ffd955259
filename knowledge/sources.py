"""Source documents: plan text plus a YAML metadata sidecar (``NAME.meta.yaml`` next to ``NAME.txt``)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from knowledge.errors import SourceError

Region = Literal["guangxi", "ningxia"]
REGIONS: tuple[Region, ...] = ("guangxi", "ningxia")
REGION_NAMES: dict[str, str] = {"guangxi": "广西", "ningxia": "宁夏"}


class Period(BaseModel):
    start: int = Field(ge=1949, le=2100)
    end: int = Field(ge=1949, le=2100)


class DocumentFields(BaseModel):
    """What an admin states about a document; ``DocumentMeta`` adds the file it came from."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")
    title: str = Field(min_length=2, max_length=200)
    short_title: str = Field(min_length=2, max_length=40)
    region: Region
    issuer: str | None = None
    doc_number: str | None = None
    issued_on: date | None = None
    period: Period
    valid_from: date
    valid_to: date
    # Issue 13: what kind of document it is, and which published document of the same region it replaces.
    kind: Literal["规划", "实施方案", "办事指南", "其他"] = "规划"
    supersedes: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")

    @model_validator(mode="after")
    def _dates_ordered(self):
        if self.valid_to < self.valid_from or self.period.end < self.period.start:
            raise ValueError("valid_to/period end must not precede the start")
        return self


class DocumentMeta(DocumentFields):
    original_file: str


class SourceDocument(BaseModel):
    meta: DocumentMeta
    file_name: str
    text: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def load_document(text_path: Path) -> SourceDocument:
    meta_path = text_path.with_suffix(".meta.yaml")
    if not meta_path.exists():
        raise SourceError(f"{text_path.name}: metadata file {meta_path.name} is missing")
    try:
        text = text_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{text_path.name}: not UTF-8 text ({exc.reason})") from exc
    if not text.strip():
        raise SourceError(f"{text_path.name}: the document is empty")
    try:
        meta = DocumentMeta.model_validate(yaml.safe_load(meta_path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise SourceError(f"{meta_path.name}: invalid metadata: {exc}") from exc
    return SourceDocument(meta=meta, file_name=text_path.name, text=text)


def load_sources(directory: Path) -> list[SourceDocument]:
    """All ``*.txt`` documents of a directory, sorted by file name; doc ids must be unique."""
    if not directory.is_dir():
        raise SourceError(f"source directory {directory} does not exist")
    docs = [load_document(p) for p in sorted(directory.glob("*.txt"))]
    if not docs:
        raise SourceError(f"no .txt documents in {directory}")
    return check_unique_doc_ids(docs)


def check_unique_doc_ids(docs: list[SourceDocument]) -> list[SourceDocument]:
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.meta.doc_id in seen:
            raise SourceError(
                f"doc_id {doc.meta.doc_id} used by both {seen[doc.meta.doc_id]} and {doc.file_name}"
            )
        seen[doc.meta.doc_id] = doc.file_name
    return docs
