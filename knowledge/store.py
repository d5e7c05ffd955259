"""Chroma-backed index versions.

Each ingest writes a fresh collection ``minsheng-<version>``; a small registry collection holds one
record per version and a ``__current__`` pointer. Switching versions is a single upsert of that
pointer, so readers see either the old or the new version, complete. Everything a version needs
(chunks with citations, vectors) lives in Chroma, so API replicas against a Chroma server share it.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from pydantic import BaseModel, Field

from knowledge.chunking import Chunk
from knowledge.errors import IndexNotReady, NotFound
from knowledge.settings import Settings

REGISTRY = "minsheng-registry"
CURRENT = "__current__"
PREFIX = "minsheng-"
_WRITE_BATCH = 256


class SourceEntry(BaseModel):
    """One published document of a version. Entries written before issue 6 have only file/doc_id/sha256."""

    file: str
    doc_id: str
    sha256: str
    title: str = ""
    region: str = ""
    chunks: int | None = None
    meta: dict[str, Any] | None = None  # the full DocumentMeta as JSON


class VersionInfo(BaseModel):
    version: str
    created_at: str
    chunk_count: int
    model: str
    fingerprint: str
    sources: list[SourceEntry]
    note: str = ""
    author: str = "system"
    changes: list[str] = Field(default_factory=list)


def make_client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or 8000,
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def new_version_id() -> str:
    return datetime.now(UTC).strftime("v%Y%m%dT%H%M%S%fZ")


class VersionStore:
    def __init__(self, client: chromadb.ClientAPI):
        self.client = client
        self._registry = client.get_or_create_collection(REGISTRY, embedding_function=None)

    # --- reading ---------------------------------------------------------------------------
    def current_version(self) -> str | None:
        got = self._registry.get(ids=[CURRENT])
        return str(got["metadatas"][0]["version"]) if got["ids"] else None

    def versions(self) -> list[VersionInfo]:
        got = self._registry.get(where={"kind": "version"})
        infos = [VersionInfo.model_validate_json(str(m["info"])) for m in got["metadatas"]]
        return sorted(infos, key=lambda v: v.version, reverse=True)

    def info(self, version: str) -> VersionInfo:
        got = self._registry.get(ids=[version])
        if not got["ids"]:
            raise NotFound(f"index version {version} does not exist")
        return VersionInfo.model_validate_json(str(got["metadatas"][0]["info"]))

    def collection(self, version: str):
        return self.client.get_collection(PREFIX + version, embedding_function=None)

    def load_chunks(self, version: str) -> tuple[list[Chunk], object]:
        """All chunks of a version (in insertion order of their ids) and its collection handle."""
        collection = self.collection(version)
        got = collection.get(include=["metadatas"])
        chunks = [Chunk.model_validate_json(str(m["chunk"])) for m in got["metadatas"]]
        chunks.sort(key=lambda c: (c.source, c.start))
        return chunks, collection

    def require_current(self) -> str:
        version = self.current_version()
        if version is None:
            raise IndexNotReady("the knowledge base has not been ingested yet; run `minsheng ingest`")
        return version

    # --- writing ---------------------------------------------------------------------------
    def write_version(self, version: str, chunks: list[Chunk], vectors, on_batch=None) -> None:
        """Write a complete version; it is invisible to readers until ``activate``."""
        collection = self.client.create_collection(
            PREFIX + version, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        for i in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[i : i + _WRITE_BATCH]
            collection.add(
                ids=[c.id for c in part],
                embeddings=[v.tolist() for v in vectors[i : i + _WRITE_BATCH]],
                documents=[c.embed_text for c in part],
                metadatas=[
                    {"region": c.region, "source": c.source, "kind": c.kind, "chunk": c.model_dump_json()}
                    for c in part
                ],
            )
            if on_batch:
                on_batch(len(part))

    def register(self, info: VersionInfo) -> None:
        self._registry.upsert(
            ids=[info.version],
            embeddings=[[0.0]],
            metadatas=[{"kind": "version", "info": info.model_dump_json()}],
        )

    def activate(self, version: str) -> None:
        self.info(version)  # must exist
        self._registry.upsert(
            ids=[CURRENT], embeddings=[[0.0]], metadatas=[{"kind": "pointer", "version": version}]
        )

    def prune(self, keep: int, protect: tuple[str, ...] = ()) -> list[str]:
        """Drop all but the newest ``keep`` versions; never the current one nor any in ``protect``
        (the version that served until this switch stays, so one rollback is always possible)."""
        current = self.current_version()
        dropped = []
        for info in self.versions()[keep:]:
            if info.version == current or info.version in protect:
                continue
            with contextlib.suppress(Exception):  # already gone is fine; the registry entry still goes
                self.client.delete_collection(PREFIX + info.version)
            self._registry.delete(ids=[info.version])
            dropped.append(info.version)
        return dropped

    def drop_unregistered(self) -> None:
        """Remove collections left by an ingest that died before registering (never a live version)."""
        known = {PREFIX + v.version for v in self.versions()}
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith(PREFIX) and name != REGISTRY and name not in known:
                self.client.delete_collection(name)


def sources_summary(sources, chunks_per_source: dict[str, int] | None = None) -> list[SourceEntry]:
    counts = chunks_per_source or {}
    return [
        SourceEntry(
            file=s.file_name,
            doc_id=s.meta.doc_id,
            sha256=s.content_hash,
            title=s.meta.title,
            region=s.meta.region,
            chunks=counts.get(s.file_name),
            meta=s.meta.model_dump(mode="json"),
        )
        for s in sources
    ]


def to_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)
