"""Ingest: sources → chunks → embeddings (cached) → a new index version, switched to atomically.

Unchanged input (same source texts and metadata, chunker, model) builds nothing unless forced.
Only one ingest runs at a time (file lock); queries keep reading the current version throughout.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from knowledge.chunking import chunk_documents
from knowledge.embedding import Embedder, EmbeddingCache
from knowledge.settings import Settings
from knowledge.sources import SourceDocument, load_sources
from knowledge.store import VersionInfo, VersionStore, make_client, new_version_id, sources_summary, to_json

CHUNKER_VERSION = "5"  # bump when parsing/chunking output changes, so an ingest rebuilds

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IngestResult:
    version: str
    changed: bool
    chunk_count: int
    embedded: int  # vectors computed (the rest came from the cache)
    seconds: float
    pruned: list[str]


def fingerprint(sources: list[SourceDocument], model_key: str) -> str:
    payload = to_json(
        {
            "chunker": CHUNKER_VERSION,
            "model": model_key,
            "sources": [[s.file_name, s.content_hash, s.meta.model_dump_json()] for s in sources],
        }
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def ingest(
    settings: Settings,
    source_dir: Path | None = None,
    *,
    force: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    note: str = "",
) -> IngestResult:
    t0 = time.perf_counter()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sources = load_sources(source_dir or settings.sources_dir)
    cache = EmbeddingCache(settings.data_dir / "embeddings.sqlite")
    embedder = embedder or Embedder(settings, cache)
    if embedder.cache is None:
        embedder.cache = cache
    store = VersionStore(make_client(settings))

    with FileLock(str(settings.data_dir / "ingest.lock")):
        store.drop_unregistered()
        print_ = progress or (lambda *_: None)
        fp = fingerprint(sources, embedder.model_key)
        current = store.current_version()
        if current and not force and store.info(current).fingerprint == fp:
            info = store.info(current)
            return IngestResult(current, False, info.chunk_count, 0, time.perf_counter() - t0, [])

        chunks = chunk_documents(sources)
        total = len(chunks)
        done = 0

        def embedded_batch(n: int) -> None:
            nonlocal done
            done += n
            print_("embed", done, total)

        vectors, computed = embedder.embed_passages([c.embed_text for c in chunks], on_batch=embedded_batch)
        version = new_version_id()
        written = 0

        def written_batch(n: int) -> None:
            nonlocal written
            written += n
            print_("write", written, total)

        store.write_version(version, chunks, vectors, on_batch=written_batch)
        store.register(
            VersionInfo(
                version=version,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                chunk_count=total,
                model=embedder.model_key,
                fingerprint=fp,
                sources=sources_summary(sources),
                note=note,
            )
        )
        store.activate(version)
        pruned = store.prune(settings.keep_versions)
    return IngestResult(version, True, total, computed, time.perf_counter() - t0, pruned)
