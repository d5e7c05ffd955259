"""Listings: "专栏3 一共几项、分别是什么", "宁夏清单里弱有所扶包括哪些" — answered from the parsed structure.

Counting is never left to retrieval: the items of a 专栏 are the numbered box items the parser found
under it, and a category of Ningxia's 基本公共服务项目清单 (专栏2) is its list sentence, which states its
own total (共计N项). Pure functions over the index's chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.catalogue.models import CATEGORIES
from knowledge.chunking import Chunk

LIST_QUESTION = re.compile(
    r"(几项|多少项|哪几项|哪些项目|哪几个|分别是|都有哪些|包括哪些|包含哪些|有哪些|都是啥|一共几|共几)"
)
_BOX = re.compile(r"专栏\s*(\d+)")
_CATEGORY_WORDS = {c: c for c in CATEGORIES} | {"优军服务": "优军服务保障", "文体服务": "文体服务保障"}


@dataclass(frozen=True)
class Listing:
    heading: str  # the 专栏 or category the list belongs to
    items: list[str]
    quotes: list[Chunk]  # the chunks the items are read from (cited)
    total: int | None = None  # a total the text itself states (共计N项), else None


def asks_for_listing(question: str) -> bool:
    return bool(LIST_QUESTION.search(question))


def named_categories(question: str) -> list[str]:
    found: list[str] = []
    for word, category in _CATEGORY_WORDS.items():
        if word in question and category not in found:
            found.append(category)
    return found


def box_number(question: str) -> str | None:
    m = _BOX.search(question)
    return m.group(1) if m else None


def _box_label(chunk: Chunk) -> str | None:
    """The 专栏 a chunk sits in ("专栏3"), from its section path."""
    for part in chunk.section.split(" › "):
        if m := _BOX.fullmatch(part.strip()):
            return m.group(1)
    return None


def box_listing(chunks: list[Chunk], region: str, number: str) -> Listing | None:
    """The numbered items of 专栏<number> of a region's plan (the first plan that has one)."""
    in_box = [c for c in chunks if c.region == region and c.kind == "box_item" and _box_label(c) == number]
    if not in_box:
        return None
    labels: list[str] = []
    firsts: list[Chunk] = []
    for c in in_box:
        label = c.section.rsplit(" › ", 1)[1]
        if label not in labels:
            labels.append(label)
            firsts.append(c)
    titles = in_box[0].section_titles
    heading = titles[-2] if len(titles) >= 2 else f"专栏{number}"
    return Listing(heading, [re.sub(r"^\d+[.．、]\s*", "", lb) for lb in labels], firsts)


_TOTAL = re.compile(r"共计\s*(\d+)\s*项")


def category_listing(chunks: list[Chunk], region: str, category: str) -> Listing | None:
    """A category of a service list (Ningxia 专栏2): its list sentence, which states its own total."""
    for c in chunks:
        if c.region != region or c.kind != "box_text" or not c.section.endswith(f" › {category}"):
            continue
        text = re.sub(r"\s+", "", c.quote)
        m = _TOTAL.search(text)
        if not m:
            continue
        body = text[: m.start()].rstrip("（(")
        items = [x for x in re.split(r"[、，,]", body) if x]
        return Listing(category, items, [c], total=int(m.group(1)))
    return None
