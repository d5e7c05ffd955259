"""Hybrid retrieval: dense (Chroma) + jieba BM25 + character-bigram BM25, fused by reciprocal rank.

Region: an explicit filter restricts to that region's plan; otherwise place names in the question
boost their region without hiding the other. Every hit carries its verbatim quote and offsets.
A query runs against one immutable snapshot of one index version, so an ingest that switches
versions mid-query can never mix results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
from pydantic import BaseModel

from knowledge.chunking import Chunk
from knowledge.dating import DocDating, Status, dating_from_meta, statuses, weight
from knowledge.embedding import Embedder, EmbeddingCache
from knowledge.errors import InvalidQuery
from knowledge.lexical import LexicalIndex, expand_query
from knowledge.passages import scoring_texts
from knowledge.regions import detect_regions
from knowledge.service_route import RouteIndex, ServiceMatch
from knowledge.settings import Settings
from knowledge.sources import REGIONS, Region
from knowledge.store import VersionStore, make_client

MAX_QUERY_CHARS = 500
MAX_TOP_K = 50
# Relative trust in each ranker, tuned on the development set (see docs/benchmarks.md).
WEIGHTS = {"dense": 1.0, "words": 1.0, "chars": 1.0, "route": 1.0, "sentences": 1.0}
# Rankers fused by default. "sentences" (each passage by its best sentence's vector) replaced "dense" (the whole
# passage's vector, still computed: the answer's confidence check reads it): a long paragraph's vector blurs the
# one sentence a question is about. On both dev sets R@1 and MRR rose (dev2 R@1 0.552 → 0.667; docs/benchmarks.md).
RANKERS: tuple[str, ...] = ("sentences", "words", "chars", "route")
# The route ranking holds the cited passages of the best-matched service, and only when the question is
# close to one of that service's names or questions: fused unconditionally (top 3 services, any
# similarity) it cost R@1 on both dev sets, gated it gained on both (docs/benchmarks.md).
ROUTE_SERVICES = 1
ROUTE_MIN_SIMILARITY = 0.93


class Hit(BaseModel):
    chunk_id: str
    text: str
    quote: str
    source: str
    title: str
    region: Region
    section: str
    section_titles: list[str]
    kind: str
    start: int
    end: int
    score: float  # fused reciprocal-rank score (higher is better; comparable within one query)
    similarity: float | None = None  # cosine similarity to the query embedding, when the dense ranker saw it
    valid_from: date
    valid_to: date
    fields: dict[str, str] | None = None
    doc_id: str | None = None
    status: Status | None = None  # the document's standing on the date asked about (in_force, ended, …)


class SearchResult(BaseModel):
    hits: list[Hit]
    version: str
    detected_regions: list[Region]
    services: list[ServiceMatch] = []  # catalogue services the question → service route matched
    as_of: date | None = None  # the date the documents' standing was judged on


@dataclass(frozen=True)
class Snapshot:
    version: str
    chunks: list[Chunk]
    collection: object
    lexical: LexicalIndex
    regions: np.ndarray
    index_of: dict[str, int]
    documents: dict[str, dict]  # doc_id → its published metadata (DocumentMeta as JSON), for dating
    doc_ids: np.ndarray
    sentence_vectors: np.ndarray  # one row per sentence of every chunk (knowledge/passages.py), normalised
    sentence_owner: np.ndarray  # the chunk index of each sentence row


def validate_query(query: str, top_k: int, region: str | None) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidQuery("问题不能为空 (query must not be empty)")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"问题太长，请控制在 {MAX_QUERY_CHARS} 字以内 (query is {len(query)} characters)")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidQuery(f"top_k must be between 1 and {MAX_TOP_K}")
    if region is not None and region not in REGIONS:
        raise InvalidQuery(f"未知地区 {region!r}：只支持 {', '.join(REGIONS)}")
    return query.strip()


def rrf(rankings: dict[str, list[int]], k: int, weights: dict[str, float]) -> dict[int, float]:
    """Reciprocal-rank fusion of several ranked lists of document indices (pure)."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        w = weights.get(name, 1.0)
        for rank, idx in enumerate(ranking, start=1):
            fused[idx] = fused.get(idx, 0.0) + w / (k + rank)
    return fused


def top_indices(scores: np.ndarray, mask: np.ndarray | None, limit: int) -> list[int]:
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    order = np.argsort(-scores, kind="stable")[:limit]
    return [int(i) for i in order if scores[i] > 0]


class Retriever:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, refresh_seconds: float = 1.0):
        self.settings = settings
        self.embedder = embedder or Embedder(
            settings, EmbeddingCache(settings.data_dir / "embeddings.sqlite")
        )
        self.store = VersionStore(make_client(settings))
        self.refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        # Set by the API to the library's dating changes (doc_id → fields), read on every query.
        self.dating_overrides: Callable[[], dict[str, dict]] | None = None

    # --- snapshots -------------------------------------------------------------------------
    def snapshot(self, force_check: bool = False) -> Snapshot:
        snap = self._snapshot
        if (
            snap is not None
            and not force_check
            and time.monotonic() - self._checked_at < self.refresh_seconds
        ):
            return snap
        with self._lock:
            version = self.store.require_current()
            self._checked_at = time.monotonic()
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._load(version)
            return self._snapshot

    def _load(self, version: str) -> Snapshot:
        chunks, collection = self.store.load_chunks(version)
        documents = {s.doc_id: s.meta for s in self.store.info(version).sources if s.meta}
        for c in chunks:  # versions written before document metadata was kept: date them from the chunks
            documents.setdefault(
                c.doc_id,
                {
                    "doc_id": c.doc_id,
                    "region": c.region,
                    "title": c.title,
                    "valid_from": c.valid_from,
                    "valid_to": c.valid_to,
                },
            )
        return Snapshot(
            version=version,
            chunks=chunks,
            collection=collection,
            lexical=LexicalIndex([c.embed_text for c in chunks]),
            regions=np.array([c.region for c in chunks]),
            index_of={c.id: i for i, c in enumerate(chunks)},
            documents=documents,
            doc_ids=np.array([c.doc_id for c in chunks]),
            **self._sentence_index(chunks),
        )

    def _sentence_index(self, chunks: list[Chunk]) -> dict[str, np.ndarray]:
        """Vectors of every chunk's sentences: ingest put them in the embedding cache, so this is a lookup."""
        texts: list[str] = []
        owners: list[int] = []
        for i, chunk in enumerate(chunks):
            for text in scoring_texts(chunk.quote, chunk.kind):
                texts.append(text)
                owners.append(i)
        vectors, _ = self.embedder.embed_passages(texts)
        return {"sentence_vectors": vectors, "sentence_owner": np.array(owners, dtype=np.int64)}

    def dating(self, snap: Snapshot | None = None) -> list[DocDating]:
        """The published documents' dating: their metadata with the admins' later changes laid over it."""
        snap = snap or self.snapshot()
        overrides = self.dating_overrides() if self.dating_overrides else {}
        return [dating_from_meta(meta, overrides.get(doc_id)) for doc_id, meta in snap.documents.items()]

    # --- search ----------------------------------------------------------------------------
    def search(
        self,
        query: str,
        top_k: int = 5,
        region: str | None = None,
        rankers: tuple[str, ...] = RANKERS,
        route: RouteIndex | None = None,
        as_of: date | None = None,
    ) -> SearchResult:
        """``rankers`` selects a subset of dense/words/chars/route (for ablations); fusion is the same.
        ``route`` (the catalogue's question → service index) adds the matched services' cited passages.
        ``as_of`` (default today) decides which documents are in force: they rank first (knowledge/dating.py)."""
        query = validate_query(query, top_k, region)
        as_of = as_of or date.today()
        try:
            return self._search(self.snapshot(), query, top_k, region, rankers, route, as_of)
        except Exception as exc:  # the version vanished under us (pruned): reload once and retry
            if "does not exist" not in str(exc):
                raise
            return self._search(self.snapshot(force_check=True), query, top_k, region, rankers, route, as_of)

    def _search(
        self,
        snap: Snapshot,
        query: str,
        top_k: int,
        region: str | None,
        rankers: tuple[str, ...],
        route: RouteIndex | None,
        as_of: date,
    ) -> SearchResult:
        expanded = expand_query(query)
        mentioned = detect_regions(query)
        mask = snap.regions == region if region else None
        pool = min(self.settings.candidate_pool, len(snap.chunks))

        rankings: dict[str, list[int]] = {}
        similarity: dict[int, float] = {}
        vector = (
            self.embedder.embed_query(expanded) if {"dense", "route", "sentences"} & set(rankers) else None
        )
        if (
            vector is not None
        ):  # passage similarity, which the answer's confidence check reads, even when not fused
            dense = snap.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=pool,
                where={"region": region} if region else None,
                include=["distances"],
            )
            pairs = [
                (snap.index_of[i], 1.0 - float(d))
                for i, d in zip(dense["ids"][0], dense["distances"][0], strict=True)
                if i in snap.index_of
            ]
            if "dense" in rankers:
                rankings["dense"] = [i for i, _ in pairs]
            similarity = dict(pairs)
        if "sentences" in rankers and len(snap.sentence_owner):
            best_sentence = np.full(len(snap.chunks), -1.0, dtype=np.float32)
            np.maximum.at(best_sentence, snap.sentence_owner, snap.sentence_vectors @ vector)
            rankings["sentences"] = top_indices(best_sentence, mask, pool)
        if "words" in rankers:
            rankings["words"] = top_indices(snap.lexical.word_scores(expanded), mask, pool)
        if "chars" in rankers:
            rankings["chars"] = top_indices(snap.lexical.char_scores(expanded), mask, pool)
        services: list[ServiceMatch] = []
        if route is not None and "route" in rankers:
            services = route.match(expanded, vector, region)
            trusted = [m for m in services if m.similarity >= ROUTE_MIN_SIMILARITY][:ROUTE_SERVICES]
            rankings["route"] = _cited_chunks(snap, route, trusted)
        fused = rrf(rankings, self.settings.rrf_k, WEIGHTS)
        if region is None and len(mentioned) == 1:
            for idx in fused:
                if snap.regions[idx] == mentioned[0]:
                    fused[idx] *= self.settings.region_boost
        docs = self.dating(snap)
        states = statuses(docs, as_of)
        weights = {d.doc_id: weight(d, states[d.doc_id], query) for d in docs}
        if any(w != 1.0 for w in weights.values()) and len(set(weights.values())) > 1:
            # Only relative standing matters: when every document has ended, nothing moves.
            fused = {i: s * weights.get(snap.doc_ids[i], 1.0) for i, s in fused.items()}
            fused = {i: s for i, s in fused.items() if s > 0}
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:top_k]
        hits = [
            _hit(snap.chunks[i], score, similarity.get(i), states.get(snap.chunks[i].doc_id))
            for i, score in best
        ]
        return SearchResult(
            hits=hits, version=snap.version, detected_regions=mentioned, services=services, as_of=as_of
        )


def _cited_chunks(snap: Snapshot, route: RouteIndex, services: list[ServiceMatch]) -> list[int]:
    """Chunks holding the matched services' citations, best service first (a replaced plan simply has none)."""
    ranking: list[int] = []
    for match in services:
        for source, start, end in route.citations.get(match.service_id, []):
            for i, c in enumerate(snap.chunks):
                if c.source == source and c.start < end and start < c.end and i not in ranking:
                    ranking.append(i)
    return ranking


def _hit(chunk: Chunk, score: float, similarity: float | None, state: str | None = None) -> Hit:
    return Hit(
        chunk_id=chunk.id,
        text=chunk.text,
        quote=chunk.quote,
        source=chunk.source,
        title=chunk.title,
        region=chunk.region,
        section=chunk.section,
        section_titles=chunk.section_titles,
        kind=chunk.kind,
        start=chunk.start,
        end=chunk.end,
        score=round(score, 5),
        similarity=None if similarity is None else round(similarity, 4),
        valid_from=chunk.valid_from,
        valid_to=chunk.valid_to,
        fields=chunk.fields,
        doc_id=chunk.doc_id,
        status=state,
    )
