"""Scoring on the development set, following ../shared/eval/README.md (pure functions + a runner)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path
from statistics import median

from pydantic import BaseModel, Field

from knowledge.figures import unquoted_figures

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
class ChatMessage(BaseModel):
    kind: str
    text: str
    citations: list[dict] = Field(default_factory=list)


class ChatTurn(BaseModel):
    """What the scorer needs from a bot reply (all messages of one turn merged)."""

    kinds: list[str]
    text: str
    citations: list[dict]  # each with at least "source" and "quote"
    messages: list[ChatMessage] = Field(default_factory=list)  # the messages merged, when known

    @classmethod
    def of(cls, messages: list[ChatMessage]) -> ChatTurn:
        return cls(
            kinds=[m.kind for m in messages],
            text="\n".join(m.text for m in messages),
            citations=[c for m in messages for c in m.citations],
            messages=messages,
        )


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


# --- conversations (shared/eval/README.md, "Multi-turn conversations") --------------------------------
class ConversationTurn(BaseModel):
    message: str
    expect_kind: list[str]
    gold_quotes: list[str]
    must_not_contain: list[str] = Field(default_factory=list)


class ConversationItem(BaseModel):
    id: str
    region: str
    turns: list[ConversationTurn]
    notes: str = ""


def is_conversation_file(path: Path) -> bool:
    """A conversations file's rows have ``turns``; a question set's rows have ``question``."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            return "turns" in json.loads(line)
    return False


def load_conversations(path: Path) -> list[ConversationItem]:
    return [
        ConversationItem.model_validate(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


class TurnScore(BaseModel):
    kind_ok: bool
    cites_ok: bool
    forbidden: list[str]  # must_not_contain strings the replies contain

    @property
    def ok(self) -> bool:
        return self.kind_ok and self.cites_ok and not self.forbidden

    def why(self) -> str:
        """What went wrong, for the verbose listing."""
        reasons = [] if self.kind_ok else ["kind"]
        if not self.cites_ok:
            reasons.append("no gold citation")
        if self.forbidden:
            reasons.append("contains " + "、".join(self.forbidden))
        return "; ".join(reasons)


def score_conversation_turn(turn: ConversationTurn, reply: ChatTurn) -> TurnScore:
    """A turn is right when one of its replies has an expected kind, at least one citation matches a gold quote
    (when the turn has any: an empty list means the plans do not say, nothing to cite), and no reply contains a
    ``must_not_contain`` string (compared without whitespace)."""
    said = normalise(reply.text)
    return TurnScore(
        kind_ok=any(k in turn.expect_kind for k in reply.kinds),
        cites_ok=not turn.gold_quotes or _cites_gold(reply.citations, turn.gold_quotes),
        forbidden=[s for s in turn.must_not_contain if normalise(s) and normalise(s) in said],
    )


class ConversationSummary(BaseModel):
    conversations: int
    conversations_right: int
    turns: int
    turns_right: int


def summarise_conversations(results: dict[str, list[bool]]) -> ConversationSummary:
    """``results``: each conversation's turn verdicts, in order."""
    return ConversationSummary(
        conversations=len(results),
        conversations_right=sum(1 for turns in results.values() if turns and all(turns)),
        turns=sum(len(turns) for turns in results.values()),
        turns_right=sum(sum(turns) for turns in results.values()),
    )


# --- answer length and figures --------------------------------------------------------------------
class LengthStats(BaseModel):
    n: int
    median: float
    p90: int


def length_stats(texts: list[str]) -> LengthStats | None:
    """Median and 90th percentile (nearest rank) of the texts' lengths in characters; None without texts."""
    if not texts:
        return None
    lengths = sorted(len(t) for t in texts)
    return LengthStats(n=len(lengths), median=median(lengths), p90=lengths[math.ceil(0.9 * len(lengths)) - 1])


def answer_texts(turn: ChatTurn) -> list[str]:
    """The texts of a turn's answer messages (the merged text when the messages are not kept)."""
    if turn.messages:
        return [m.text for m in turn.messages if m.kind == "answer"]
    return [turn.text] if "answer" in turn.kinds else []


def answer_length_report(turns: list[ChatTurn]) -> dict[str, LengthStats]:
    """Length of the answers (``answer length``) and of their first line (``lead line``, answers of several lines)."""
    texts = [t for turn in turns for t in answer_texts(turn)]
    report = {}
    if stats := length_stats(texts):
        report["answer length"] = stats
    if stats := length_stats([t.split("\n", 1)[0] for t in texts if "\n" in t.strip()]):
        report["lead line"] = stats
    return report


def figure_report(turns: dict[str, ChatTurn]) -> dict[str, list[str]]:
    """For each reply that states figures none of its citations' quotes contain: those figures. A count of
    the reply's own cited items ("共 5 项" above five quoted items, a listing read off the plan's structure) is
    grounded by the citations themselves, not by a quote, and is not reported."""
    report = {}
    for key, turn in turns.items():
        counted = f"{len(turn.citations)}项"
        missing = unquoted_figures(turn.text, [c["quote"] for c in turn.citations])
        if missing := [f for f in missing if f != counted]:
            report[key] = missing
    return report
