"""Scoring on the development set, following ../shared/eval/README.md (pure functions + a runner)."""

from __future__ import annotations

import json
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

from pydantic import BaseModel

_WS = str.maketrans("", "", " \t\n\r\u3000\xa0")


def normalise(text: str) -> str:
    return "".join(text.split()).translate(_WS)


def matches(text: str, quote: str) -> bool:
    """A text matches a gold quote when the whitespace-free quote is inside it, or they share a
    contiguous run of at least 60% of the quote's length."""
    t, q = normalise(text), normalise(quote)
    if not q:
        return False
    if q in t:
        return True
    block = SequenceMatcher(None, t, q, autojunk=False).find_longest_match(0, len(t), 0, len(q))
    return block.size >= 0.6 * len(q)


class EvalItem(BaseModel):
    id: str
    question: str
    type: str
    region: str
    gold_quotes: list[str]
    gold_doc: str
    gold_answer_keywords: list[str]
    notes: str


def load_items(path: Path) -> list[EvalItem]:
    return [
        EvalItem.model_validate(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


class RetrievalScores(BaseModel):
    n: int
    r_at_1: float
    r_at_5: float
    mrr_at_10: float


def first_hit_rank(texts: list[str], quotes: list[str]) -> int | None:
    for rank, text in enumerate(texts[:10], start=1):
        if any(matches(text, q) for q in quotes):
            return rank
    return None


def score_ranks(ranks: list[int | None]) -> RetrievalScores:
    n = len(ranks) or 1
    return RetrievalScores(
        n=len(ranks),
        r_at_1=round(sum(1 for r in ranks if r == 1) / n, 3),
        r_at_5=round(sum(1 for r in ranks if r is not None and r <= 5) / n, 3),
        mrr_at_10=round(sum(1 / r for r in ranks if r is not None) / n, 3),
    )


def evaluate_retrieval(
    items: list[EvalItem], search: Callable[[str], list[str]]
) -> tuple[dict[str, RetrievalScores], dict[str, int | None]]:
    """Scores per question type and overall, and each question's first-hit rank. ``search`` returns hit texts."""
    ranks: dict[str, int | None] = {}
    by_type: dict[str, list[int | None]] = {}
    for item in items:
        if item.type == "out_of_scope":
            continue
        rank = first_hit_rank(search(item.question), item.gold_quotes)
        ranks[item.id] = rank
        by_type.setdefault(item.type, []).append(rank)
    scores = {t: score_ranks(r) for t, r in sorted(by_type.items())}
    scores["overall"] = score_ranks(list(ranks.values()))
    return scores, ranks


# --- chat ------------------------------------------------------------------------------------------
class ChatTurn(BaseModel):
    """What the scorer needs from a bot reply (all messages of one turn merged)."""

    kinds: list[str]
    text: str
    citations: list[dict]  # each with at least "source" and "quote"


def _cites_gold(citations: list[dict], quotes: list[str], source: str | None = None) -> bool:
    return any(
        matches(c["quote"], q) for c in citations if source is None or c["source"] == source for q in quotes
    )


def score_chat(item: EvalItem, turn: ChatTurn, sources: dict[str, str]) -> bool:
    """The chat rule of shared/eval/README.md."""
    declined = any(k in ("refuse", "handoff") for k in turn.kinds)
    if item.type == "out_of_scope":
        return declined and not turn.citations
    if item.type == "ambiguous_region":
        if "clarify" in turn.kinds:
            return True
        return all(
            _cites_gold(turn.citations, [q for q in item.gold_quotes if q in text], name)
            for name, text in sources.items()
        )
    if "answer" not in turn.kinds or not _cites_gold(turn.citations, item.gold_quotes):
        return False
    said = normalise(turn.text)
    hit = sum(1 for k in item.gold_answer_keywords if normalise(k) in said)
    return hit * 2 >= len(item.gold_answer_keywords)


def summarise_chat(results: dict[str, tuple[EvalItem, bool]]) -> dict[str, float]:
    by_type: dict[str, list[bool]] = {}
    for item, ok in results.values():
        by_type.setdefault(item.type, []).append(ok)
    summary = {t: round(sum(v) / len(v), 3) for t, v in sorted(by_type.items())}
    in_scope = by_type.get("resident", []) + by_type.get("operator", [])
    summary["in_scope"] = round(sum(in_scope) / max(1, len(in_scope)), 3)
    summary["overall"] = round(sum(ok for _, ok in results.values()) / max(1, len(results)), 3)
    return summary
