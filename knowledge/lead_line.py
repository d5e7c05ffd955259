"""The lead line of a service-first answer: one plain sentence from the catalogue's fields (pure).

Residents on a phone should read "免费。…" before any plan language. The line is built only from the
service's own fields (cost, audience, what_you_get), which the catalogue keeps verbatim-backed; and every
figure in it must appear in a quote the reply cites — otherwise the answer stays extractive.
"""

from __future__ import annotations

import re

from knowledge.catalogue.models import Service
from knowledge.figures import unquoted_figures

MAX_LEAD = 80
COST_LEAD = {
    "free": "免费。",
    "subsidy": "有补助。",
    "reduced": "可以减免。",
    "insurance": "属于保险待遇。",
    "not_stated": "",  # a benefit such as 低保 has no fee to speak of; the plan's words say what it is
}
_ASIDE = re.compile(r"（[^）]*）")
_PLAN_NOTE = re.compile(r"[；;，,]\s*规划(未|没有|提出).*$")
_CLAUSE_END = re.compile(r"[，、；,;]")


def _fit(text: str, room: int) -> str:
    """Text cut at the last clause boundary that fits (an enumeration cut short ends in 等)."""
    text = text.rstrip("。")
    if len(text) + 1 <= room:
        return text + "。"
    cut = [m.start() for m in _CLAUSE_END.finditer(text) if m.start() + 2 <= room]
    if not cut:
        return ""
    end = cut[-1]
    return text[:end] + ("等。" if text[end] == "、" else "。")


def lead_line(service: Service) -> str:
    """ "免费。为计划怀孕的夫妇（每孩次）免费提供 1 次…" — at most MAX_LEAD characters, or "" when nothing fits."""
    head = COST_LEAD[service.cost]
    room = MAX_LEAD - len(head)
    audience = _ASIDE.sub("", service.audience)  # editors' asides ("规划未写明…") are not for the lead
    what = _PLAN_NOTE.sub("", service.what_you_get)
    with_audience = f"{audience}可享受：{what}"
    if len(with_audience) + 1 <= room:
        return head + with_audience.rstrip("。") + "。"
    body = _fit(what, room)
    return head + body if body else ""


def verified_lead(service: Service, quotes: list[str]) -> str | None:
    """The lead line when every figure in it is in a cited quote; None means: answer extractively."""
    line = lead_line(service)
    if not line or unquoted_figures(line, quotes):
        return None
    return line
