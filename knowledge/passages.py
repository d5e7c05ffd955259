"""Choosing what to quote: which retrieved passages speak to the question, and which of their sentences.

Retrieval ranks whole chunks (a paragraph, a 专栏 item), but a resident's question is usually answered by one
sentence of a paragraph that also talks about three other things. So passages are re-ordered by how close in
meaning their *best sentence* is to the question (e5 sentence vectors, cached on disk and warmed at ingest),
together with the fused retrieval score and the words they share with the question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from knowledge.chunking import sentence_spans
from knowledge.lexical import char_bigrams, expand_query, word_tokens

if TYPE_CHECKING:
    from knowledge.embedding import Embedder
    from knowledge.retrieval import Hit

Terms = tuple[set[str], set[str]]

_GENERIC = frozenset(
    "规划 服务 政府 国家 能不能 怎么办 办法 情况 问题 东西 这块 那块 啥 有啥 咋 咋管 管管 帮着 一点 还有 以后 现在 好几 几年".split()
)
WHOLE_PASSAGE_CHARS = 90  # a passage this short (or a table row) is quoted and scored whole

# Re-ranking weights: fused retrieval score, words shared with the question, best-sentence similarity.
# Sentence similarity is the only signal that looks at the sentence the reply will quote. Retrieval already
# fuses a best-sentence ranking (knowledge/retrieval.py RANKERS), so here it tips the order among close
# passages rather than leading it; over the top 20 hits (not 10) this found the passage that answers more often
# on both development sets (shared/eval dev and dev2; docs/benchmarks.md).
WEIGHTS = (0.5, 0.2, 0.3)


def query_terms(query: str) -> Terms:
    """Content words (no place names, no filler) and character bigrams of the expanded question."""
    from knowledge.regions import place_names

    places = place_names()
    expanded = expand_query(query)
    words = {w for w in word_tokens(expanded) if len(w) >= 2 and w not in _GENERIC and w not in places}
    bigrams = {g for g in char_bigrams(expanded) if not any(g in p for p in places if len(p) >= 2)}
    return words, bigrams


def overlap(text: str, terms: Terms) -> float:
    """How much of the question a passage speaks to: longer shared words count more."""
    words, bigrams = terms
    return sum(len(w) for w in words if w in text) + 0.5 * sum(1 for g in bigrams if g in text)


def scoring_spans(quote: str, kind: str) -> list[tuple[int, int]]:
    """The sentences of a passage (offsets into ``quote``), or the passage whole when it is a table row or short."""
    if kind == "table_row" or len(quote) <= WHOLE_PASSAGE_CHARS:
        return [(0, len(quote))]
    return sentence_spans(quote, 0, len(quote)) or [(0, len(quote))]


def scoring_texts(quote: str, kind: str) -> list[str]:
    """What gets a sentence vector: also what ingest embeds ahead of time, so queries find them cached."""
    return [quote[a:b] for a, b in scoring_spans(quote, kind)]


def sentence_similarity(
    hits: Sequence[Hit], embedder: Embedder, query_vector: np.ndarray
) -> dict[str, float]:
    """Each hit's best sentence's cosine similarity to the question (passage vectors come from the disk cache)."""
    texts: list[str] = []
    owners: list[str] = []
    for h in hits:
        for text in scoring_texts(h.quote, h.kind):
            texts.append(text)
            owners.append(h.chunk_id)
    if not texts:
        return {}
    vectors, _ = embedder.embed_passages(texts)
    sims = vectors @ query_vector
    best: dict[str, float] = {}
    for owner, sim in zip(owners, sims, strict=True):
        best[owner] = max(best.get(owner, -1.0), float(sim))
    return best


def rerank(hits: list[Hit], terms: Terms, sentence_sims: Mapping[str, float] | None = None) -> list[Hit]:
    """Order retrieval hits for answering (``WEIGHTS``); each signal is scaled to 0–1 within this question.
    A hit without a sentence similarity uses its chunk similarity (or the lowest seen)."""
    if not hits:
        return hits
    sentence_sims = sentence_sims or {}
    spans = {h.chunk_id: best_span(h, terms) for h in hits}
    ov = {
        h.chunk_id: overlap(h.quote[spans[h.chunk_id][0] - h.start : spans[h.chunk_id][1] - h.start], terms)
        for h in hits
    }
    sims = {h.chunk_id: sentence_sims.get(h.chunk_id, h.similarity) for h in hits}
    known = [s for s in sims.values() if s is not None]
    low, high = (min(known), max(known)) if known else (0.0, 0.0)
    top_score, top_ov = max(h.score for h in hits) or 1.0, max(ov.values()) or 1.0
    w_score, w_overlap, w_sentence = WEIGHTS

    def closeness(h: Hit) -> float:
        s = sims[h.chunk_id]
        return ((s if s is not None else low) - low) / ((high - low) or 1.0)

    return sorted(
        hits,
        key=lambda h: (
            -(w_score * h.score / top_score + w_overlap * ov[h.chunk_id] / top_ov + w_sentence * closeness(h))
        ),
    )


def best_span(hit: Hit, terms: Terms, limit: int = 160) -> tuple[int, int]:
    """Adjacent sentences of a hit around the one that shares most with the question, grown while they
    still share something and fit in ``limit`` characters (offsets into the source)."""
    spans = scoring_spans(hit.quote, hit.kind)
    if len(spans) == 1 and spans[0] == (0, len(hit.quote)):
        return hit.start, hit.end
    scores = [overlap(hit.quote[a:b], terms) for a, b in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    lo = hi = best
    while True:
        options = [i for i in (lo - 1, hi + 1) if 0 <= i < len(spans) and scores[i] > 0]
        options = [i for i in options if spans[max(hi, i)][1] - spans[min(lo, i)][0] <= limit]
        if not options:
            break
        pick = max(options, key=lambda i: scores[i])
        lo, hi = min(lo, pick), max(hi, pick)
    a, b = spans[lo][0], spans[hi][1]
    # A box item's sentence without its title loses its subject: keep the title sentence.
    if hit.kind == "box_item" and lo == 1:
        a = spans[0][0]
    return hit.start + a, hit.start + b


def cited_sentences(text: str, start: int, end: int, cite_start: int, cite_end: int) -> tuple[int, int]:
    """The whole sentences of ``text[start:end]`` that a citation ``[cite_start, cite_end)`` touches: the
    sentence that states a service, not the paragraph around it (offsets into ``text``)."""
    spans = [(a, b) for a, b in sentence_spans(text, start, end) if a < cite_end and cite_start < b]
    return (spans[0][0], spans[-1][1]) if spans else (start, end)


def lead_support(lead: str, quote: str) -> float:
    """Share of the lead line's character bigrams that the quote contains: how much of what the lead says the
    quote states (punctuation and spaces ignored)."""
    grams = set(char_bigrams(_content(lead)))
    return len(grams & set(char_bigrams(_content(quote)))) / len(grams) if grams else 0.0


def _content(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())
