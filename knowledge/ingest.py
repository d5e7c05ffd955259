"""Ingest: sources → chunks → embeddings (cached) → a new index version, switched to atomically.

Unchanged input (same source texts and metadata, chunker, model) builds nothing unless forced.
Only one ingest runs at a time (file lock); queries keep reading the current version throughout.
By default the document set is the library's published one (the shipped plans until a version exists);
every version records who made it and what changed, and its texts are stored in the library first so
that its citations always resolve.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from knowledge.chunking import chunk_documents
from knowledge.diffing import summarize_changes
from knowledge.embedding import Embedder, EmbeddingCache
from knowledge.errors import LibraryConflict, NotFound, SourceError
from knowledge.library import DocumentLibrary
from knowledge.passages import scoring_texts
from knowledge.settings import Settings
from knowledge.sources import SourceDocument, check_unique_doc_ids, load_sources
from knowledge.store import VersionInfo, VersionStore, make_client, new_version_id, sources_summary, to_json

CHUNKER_VERSION = "5"  # bump when parsing/chunking output changes, so an ingest rebuilds

Progress = Callable[[str, int, int], None]  # (stage, done, total); stages: parse, embed, write, switch
UNCHANGED_REBUILD = "重建索引（文档未变）"


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


def _lock(settings: Settings, timeout: float = -1) -> FileLock:
    return FileLock(str(settings.data_dir / "ingest.lock"), timeout=timeout)


def _unique_doc_ids(docs: list[SourceDocument]) -> list[SourceDocument]:
    if not docs:
        raise SourceError("nothing to index: the document set is empty")
    return check_unique_doc_ids(docs)


def ingest(
    settings: Settings,
    sources: list[SourceDocument] | Path | None = None,
    *,
    force: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    note: str = "",
    author: str = "system",
    changes: list[str] | None = None,
) -> IngestResult:
    """Index ``sources`` (a document list, a directory of .txt + .meta.yaml, or by default the library's
    published set) as a new version and switch to it. ``changes`` defaults to a diff against the current set."""
    t0 = time.perf_counter()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(settings.data_dir / "embeddings.sqlite")
    embedder = embedder or Embedder(settings, cache)
    if embedder.cache is None:
        embedder.cache = cache
    store = VersionStore(make_client(settings))
    library = DocumentLibrary(settings, store)
    print_ = progress or (lambda *_: None)

    with _lock(settings):
        store.drop_unregistered()
        library.ensure_seeded()
        if sources is None:
            docs = library.published()
        elif isinstance(sources, Path):
            docs = load_sources(sources)
        else:
            docs = list(sources)
        _unique_doc_ids(docs)
        fp = fingerprint(docs, embedder.model_key)
        current = store.current_version()
        if current and not force and store.info(current).fingerprint == fp:
            info = store.info(current)
            return IngestResult(current, False, info.chunk_count, 0, time.perf_counter() - t0, [])

        print_("parse", 0, len(docs))
        if changes is None:
            changes = summarize_changes(library.published() if current else [], docs) or [UNCHANGED_REBUILD]
        for doc in docs:  # before the switch: every citation of the new version must resolve
            library.put_text(doc.file_name, doc.text)
        chunks = chunk_documents(docs)
        print_("parse", len(docs), len(docs))
        total = len(chunks)
        done = 0

        # The answer composer compares the question with each passage's sentences (knowledge/passages.py):
        # embedding them now puts them in the disk cache, so no resident's question waits for them.
        sentences = sorted({t for c in chunks for t in scoring_texts(c.quote, c.kind)})
        total_embed = total + len(sentences)

        def embedded_batch(n: int) -> None:
            nonlocal done
            done += n
            print_("embed", done, total_embed)

        vectors, computed = embedder.embed_passages([c.embed_text for c in chunks], on_batch=embedded_batch)
        computed += embedder.embed_passages(sentences, on_batch=embedded_batch)[1]
        version = new_version_id()
        written = 0

        def written_batch(n: int) -> None:
            nonlocal written
            written += n
            print_("write", written, total)

        store.write_version(version, chunks, vectors, on_batch=written_batch)
        per_source: dict[str, int] = {}
        for chunk in chunks:
            per_source[chunk.source] = per_source.get(chunk.source, 0) + 1
        store.register(
            VersionInfo(
                version=version,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                chunk_count=total,
                model=embedder.model_key,
                fingerprint=fp,
                sources=sources_summary(docs, per_source),
                note=note,
                author=author,
                changes=changes,
            )
        )
        print_("switch", 0, 1)
        store.activate(version)
        print_("switch", 1, 1)
        pruned = store.prune(settings.keep_versions, protect=(current,) if current else ())
    return IngestResult(version, True, total, computed, time.perf_counter() - t0, pruned)


def activate(settings: Settings, version: str, *, wait_seconds: float = 3.0) -> VersionInfo:
    """Roll back (or forward) to a kept version. Never while an ingest is switching versions."""
    store = VersionStore(make_client(settings))
    try:
        with _lock(settings, wait_seconds):
            known = {v.version: v for v in store.versions()}
            if version not in known:
                raise NotFound(
                    f"没有索引版本 {version}，可能已被清理 (index version {version!r} does not exist or was pruned)"
                )
            info = known[version]
            store.activate(version)
            return info
    except Timeout:
        raise LibraryConflict(
            "正在重建索引，请等任务结束后再切换版本 (a re-index job is running; try again when it has finished)"
        ) from None
