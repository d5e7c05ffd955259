"""Question → service route: match a resident's words against how residents name and ask about each service.

Plans speak in official terms (孕前优生健康检查, 城乡居民基本医疗保险); residents say 备孕体检, 新农合, or
tell a situation. Each catalogue service carries its official name, aliases, everyday names and
resident-style questions (``knowledge/catalogue/colloquial``). Those short texts are indexed like the plan
chunks — dense vectors in Chroma, jieba and character BM25 beside them — and a question is matched to
services by reciprocal-rank fusion. Retrieval then fuses the matched services' own cited passages as one
more ranking, so the passage that states the service can surface even when the question shares no word
with it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from knowledge.catalogue.colloquial import ServiceWording, load_wording
from knowledge.catalogue.loader import Catalogue
from knowledge.embedding import Embedder
from knowledge.lexical import LexicalIndex

COLLECTION_PREFIX = "msroute-"  # not "minsheng-": the version store owns (and prunes) those
KEEP_COLLECTIONS = 3
POOL = 60  # entries each ranker contributes
RRF_K = 20  # few entries per service: a small k lets the first ranks decide


@dataclass(frozen=True)
class RouteEntry:
    service_id: str
    region: str
    text: str
    kind: str  # official | alias | name | question


class ServiceMatch(BaseModel):
    service_id: str
    region: str
    score: float  # fused over the service's entries (comparable within one query)
    similarity: float  # best cosine between the question and one of the service's entries
    matched: str  # the entry that matched best (for the operator's "why")


def route_entries(catalogue: Catalogue, wording: dict[str, ServiceWording]) -> list[RouteEntry]:
    entries: list[RouteEntry] = []
    for sid, entry in catalogue.entries.items():
        s = entry.service
        w = wording.get(sid, ServiceWording())
        texts = [(s.name, "official")] + [(a, "alias") for a in s.aliases]
        texts += [(n, "name") for n in w.names] + [(q, "question") for q in w.questions]
        seen: set[str] = set()
        for text, kind in texts:
            if text and text not in seen:
                seen.add(text)
                entries.append(RouteEntry(sid, s.region, text, kind))
    return entries


def _fingerprint(entries: list[RouteEntry], model_key: str) -> str:
    h = hashlib.sha256(model_key.encode())
    for e in entries:
        h.update(f"{e.service_id}\x1f{e.region}\x1f{e.kind}\x1f{e.text}\x1e".encode())
    return h.hexdigest()[:16]


class RouteIndex:
    """The route for one catalogue revision: entries, their BM25 indexes and their Chroma collection."""

    def __init__(
        self, entries: list[RouteEntry], collection, citations: dict[str, list[tuple[str, int, int]]]
    ):
        self.entries = entries
        self.collection = collection
        self.citations = citations  # service id → (source, start, end) of each of its citations
        self.lexical = LexicalIndex([e.text for e in entries])
        self.regions = np.array([e.region for e in entries])
        self.service_region = {e.service_id: e.region for e in entries}

    def match(
        self, query: str, vector: np.ndarray, region: str | None = None, top: int = 5
    ) -> list[ServiceMatch]:
        mask = self.regions == region if region else None
        pool = min(POOL, len(self.entries))
        dense = self.collection.query(
            query_embeddings=[vector.tolist()],
            n_results=pool,
            where={"region": region} if region else None,
            include=["distances"],
        )
        pairs = [
            (int(i), 1.0 - float(d)) for i, d in zip(dense["ids"][0], dense["distances"][0], strict=True)
        ]
        similarity = dict(pairs)
        rankings = [
            [i for i, _ in pairs],
            _top(self.lexical.word_scores(query), mask, pool),
            _top(self.lexical.char_scores(query), mask, pool),
        ]
        fused: dict[int, float] = {}
        for ranking in rankings:
            for rank, idx in enumerate(ranking, start=1):
                fused[idx] = fused.get(idx, 0.0) + 1.0 / (RRF_K + rank)
        best: dict[str, tuple[float, float, str]] = {}
        for idx, score in fused.items():
            e = self.entries[idx]
            prev = best.get(e.service_id)
            sim = similarity.get(idx, 0.0)
            if prev is None or score > prev[0]:
                best[e.service_id] = (score, max(sim, prev[1] if prev else 0.0), e.text)
            else:
                best[e.service_id] = (prev[0], max(sim, prev[1]), prev[2])
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:top]
        return [
            ServiceMatch(
                service_id=sid,
                region=self.service_region[sid],
                score=round(score, 5),
                similarity=round(sim, 4),
                matched=text,
            )
            for sid, (score, sim, text) in ranked
        ]


def _top(scores: np.ndarray, mask: np.ndarray | None, limit: int) -> list[int]:
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    order = np.argsort(-scores, kind="stable")[:limit]
    return [int(i) for i in order if scores[i] > 0]


class ServiceRoute:
    """Builds (once per catalogue revision and model) and keeps the route index; thread-safe."""

    def __init__(self, embedder: Embedder, client):
        self.embedder = embedder
        self.client = client
        self._indexes: dict[str, RouteIndex] = {}
        self._lock = threading.Lock()

    def index(self, catalogue: Catalogue) -> RouteIndex:
        entries = route_entries(catalogue, load_wording())
        key = _fingerprint(entries, self.embedder.model_key)
        if (found := self._indexes.get(key)) is not None:
            return found
        with self._lock:
            if key not in self._indexes:
                citations = {
                    sid: [(c.source, c.start, c.end) for c in e.citations]
                    for sid, e in catalogue.entries.items()
                }
                self._indexes = {key: RouteIndex(entries, self._collection(key, entries), citations)}
            return self._indexes[key]

    def _collection(self, key: str, entries: list[RouteEntry]):
        """The Chroma collection for these entries: shared by replicas on a Chroma server, built once."""
        name = COLLECTION_PREFIX + key
        collection = self.client.get_or_create_collection(
            name, embedding_function=None, metadata={"hnsw:space": "cosine", "created": time.time()}
        )
        if collection.count() != len(entries):
            vectors = self.embedder.embed_query_texts([e.text for e in entries])
            for i in range(0, len(entries), 256):
                part = range(i, min(i + 256, len(entries)))
                collection.upsert(
                    ids=[str(j) for j in part],
                    embeddings=[vectors[j].tolist() for j in part],
                    metadatas=[{"region": entries[j].region, "service": entries[j].service_id} for j in part],
                )
            self._prune(keep=name)
        return collection

    def _prune(self, keep: str) -> None:
        """Keep the newest few route collections: a replica still serving an older catalogue revision
        keeps working while the others move on."""
        found = [
            self.client.get_collection(c if isinstance(c, str) else c.name)
            for c in self.client.list_collections()
        ]
        old = sorted(
            (c for c in found if c.name.startswith(COLLECTION_PREFIX) and c.name != keep),
            key=lambda c: (c.metadata or {}).get("created", 0),
        )
        for c in old[: max(0, len(old) - (KEEP_COLLECTIONS - 1))]:
            self.client.delete_collection(c.name)
