"""Which document is in force on a date, and how an answer says which period it rests on (pure).

Both shipped plans cover 2021–2025 and today is later, so every answer rests on a plan whose period has
ended; admins will publish successors (十五五, 2026–2030) and implementing rules. A document is
- ``in_force`` on a date inside [valid_from, valid_to] and not replaced by a newer one in force,
- ``superseded`` when a document in force names it in ``supersedes``,
- ``ended`` after valid_to, ``not_yet`` before valid_from.
Retrieval prefers what is in force; an ended document still answers (with a note) when nothing in force
does, and a superseded one only when the question asks about its period.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel

DocKind = Literal["规划", "实施方案", "办事指南", "其他"]
DOC_KINDS: tuple[str, ...] = DocKind.__args__  # type: ignore[attr-defined]
Status = Literal["in_force", "ended", "superseded", "not_yet"]
STATUS_LABELS: dict[str, str] = {
    "in_force": "现行有效",
    "ended": "规划期已结束",
    "superseded": "已被新文件替代",
    "not_yet": "尚未施行",
}
ENDED_WEIGHT = 0.5  # an ended document's passages still answer, behind any in force


class DocDating(BaseModel):
    """What dating needs to know about one published document."""

    doc_id: str
    region: str
    title: str
    kind: DocKind = "规划"
    period_start: int
    period_end: int
    valid_from: date
    valid_to: date
    supersedes: str | None = None


def successors(docs: list[DocDating], as_of: date) -> dict[str, str]:
    """doc_id → the doc_id of the document that replaces it, counting only replacements already in force."""
    return {
        d.supersedes: d.doc_id
        for d in docs
        if d.supersedes and d.valid_from <= as_of <= d.valid_to and d.supersedes != d.doc_id
    }


def status(doc: DocDating, as_of: date, replaced: dict[str, str]) -> Status:
    if doc.doc_id in replaced:
        return "superseded"
    if as_of < doc.valid_from:
        return "not_yet"
    if as_of > doc.valid_to:
        return "ended"
    return "in_force"


def statuses(docs: list[DocDating], as_of: date) -> dict[str, Status]:
    replaced = successors(docs, as_of)
    return {d.doc_id: status(d, as_of, replaced) for d in docs}


_FIVE_YEAR = {"十三五": (2016, 2020), "十四五": (2021, 2025), "十五五": (2026, 2030)}
_YEAR = re.compile(r"(20\d\d)\s*年")


def asks_about_period(question: str, doc: DocDating) -> bool:
    """The question itself names the document's period: "十四五期间……", "2023年的时候……" (a target year such as
    "到2025年" inside the period counts too: it asks what that plan said)."""
    for name, (start, end) in _FIVE_YEAR.items():
        if name in question and start <= doc.period_end and doc.period_start <= end:
            return True
    return any(doc.period_start <= int(y) <= doc.period_end for y in _YEAR.findall(question))


def weight(doc: DocDating, state: Status, question: str) -> float:
    """How much a document's passages count in retrieval on the date asked about."""
    if state == "in_force" or asks_about_period(question, doc):
        return 1.0
    if state == "superseded":
        return 0.0
    return ENDED_WEIGHT


def period_label(doc: DocDating) -> str:
    return f"{doc.period_start}—{doc.period_end}年"


def ended_note(doc: DocDating) -> str:
    kind = doc.kind if doc.kind != "其他" else "文件"
    return f"以上出自{period_label(doc)}{kind}，{'规划期' if kind == '规划' else '有效期'}已结束；现行标准请以当地最新政策为准。"


def dating_from_meta(meta: dict, overrides: dict | None = None) -> DocDating:
    """A published document's dating from its metadata (DocumentMeta as JSON), with an admin's later
    changes (kind, supersedes, validity, period) laid over it — those need no re-indexing."""
    merged = {**meta, **(overrides or {})}
    period = merged.get("period") or {}
    return DocDating(
        doc_id=merged["doc_id"],
        region=merged["region"],
        title=merged.get("title", merged["doc_id"]),
        kind=merged.get("kind") or "规划",
        period_start=int(period.get("start", str(merged["valid_from"])[:4])),
        period_end=int(period.get("end", str(merged["valid_to"])[:4])),
        valid_from=merged["valid_from"],
        valid_to=merged["valid_to"],
        supersedes=merged.get("supersedes"),
    )


class DocumentBasis(BaseModel):
    """A document a result rests on, as shown to residents and operators."""

    doc_id: str
    title: str
    kind: DocKind
    period: str
    status: Status
    status_label: str


def document_bases(docs: list[DocDating], as_of: date) -> list[DocumentBasis]:
    states = statuses(docs, as_of)
    return [
        DocumentBasis(
            doc_id=d.doc_id,
            title=d.title,
            kind=d.kind,
            period=period_label(d),
            status=states[d.doc_id],
            status_label=STATUS_LABELS[states[d.doc_id]],
        )
        for d in docs
    ]
