"""Structure-aware parsing of a plan's plain text into verbatim blocks.

A block is the smallest unit that knows where it sits in the document (章 › 节 › 专栏 › item) and
exactly which characters of the source it covers. Table-of-contents lines and page artefacts are
dropped; a paragraph broken by a page break is joined back so that no sentence is cut.
Pure functions only: text in, blocks out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["preamble", "paragraph", "box_item", "box_text", "table_row", "note"]

_CN_NUM = "一二三四五六七八九十"
_TOC_LINE = re.compile(r"-\s*\d+\s*-\s*$")  # "…\t- 13 -": a contents line with its page number
_PAGE_NUMBER = re.compile(r"^-?\s*\d{1,3}\s*-?$")
_CONTENTS = re.compile(r"^目\s*录$")
_FOREWORD = re.compile(r"^(前\s*言|序\s*言)$")
_CHAPTER = re.compile(rf"^第([{_CN_NUM}]+)章\s*(.*)$")
_SECTION = re.compile(rf"^第([{_CN_NUM}]+)节\s*(.*)$")
_BOX = re.compile(r"^专栏\s*(\d+)\s*(.*)$")
# "1. **标题。**正文", "- 1. 标题。**正文", "2. 文化惠民工程。正文"
_NUMBERED_ITEM = re.compile(r"^(?:-\s*)?(\d{1,2})[\.．、]\s*(?:\*\*)?(.{2,40}?)。(?:\*\*)?")
# Unnumbered box item: a short title sentence followed by its text ("普惠托育服务扩容。推进…")
_TITLED_ITEM = re.compile(r"^(?:\*\*)?([^。，；：\s]{2,30}?)。(?:\*\*)?\S")
# A paragraph whose first sentence is a short topic ("提升优生优生服务水平。…")
_TOPIC = re.compile(r"^([^。，；：、\s]{2,24})。")
_NOTES_HEADING = re.compile(r"^(指标解释|注)[:：]?$")
_TERMINAL = "。！？!?；;…”」）)"


@dataclass(frozen=True)
class Heading:
    label: str  # short form used in citation paths: "第三章", "专栏4", "2. 免费孕前优生健康服务"
    title: str  # as printed: "第三章 扎实推进基本公共服务均等化"


@dataclass
class Block:
    kind: BlockKind
    start: int
    end: int
    headings: tuple[Heading, ...]
    topic: str | None = None
    fields: dict[str, str] | None = None

    @property
    def path(self) -> str:
        return " › ".join(h.label for h in self.headings)


@dataclass
class _State:
    chapter: Heading | None = None
    section: Heading | None = None
    box: Heading | None = None
    item: Heading | None = None
    table_header: list[str] | None = None
    table_category: str | None = None
    in_notes: bool = False
    seen_body: bool = False
    open_paragraph: Block | None = field(default=None)

    def headings(self) -> tuple[Heading, ...]:
        if not self.seen_body:
            return (Heading("印发通知", "印发通知"),)
        return tuple(h for h in (self.chapter, self.section, self.box, self.item) if h is not None)

    def enter_box(self, box: Heading | None) -> None:
        self.box, self.item, self.table_header, self.table_category, self.in_notes = (
            box,
            None,
            None,
            None,
            False,
        )

    def paragraph_continues(self, text: str) -> bool:
        """The open paragraph stopped mid-sentence (a page break split it)."""
        block = self.open_paragraph
        return block is not None and text[block.end - 1] not in _TERMINAL


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset of the line's first character, line without its newline)."""
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _strip_span(line_offset: int, line: str) -> tuple[int, int]:
    lead = len(line) - len(line.lstrip())
    return line_offset + lead, line_offset + len(line.rstrip())


def _item_heading(stripped: str) -> Heading | None:
    if m := _NUMBERED_ITEM.match(stripped):
        return Heading(f"{m.group(1)}. {m.group(2).strip('*').strip()}", m.group(2).strip("*").strip())
    if (m := _TITLED_ITEM.match(stripped)) and len(stripped) > len(m.group(1)) + 8:
        return Heading(m.group(1), m.group(1))
    return None


def _is_table_header(cells: list[str]) -> bool:
    joined = "".join(cells)
    return "指标" in joined and "单位" in joined


def _table_row(raw_line: str, state: _State) -> dict[str, str] | None:
    """Fields of an indicator-table row, or None for a category row (e.g. "基本公共教育\\t\\t\\t\\t")."""
    cells = [c.strip() for c in raw_line.split("\t")]
    if not any(cells[1:]):
        state.table_category = cells[0] or state.table_category
        return None
    header = state.table_header or [f"列{i + 1}" for i in range(len(cells))]
    fields: dict[str, str] = {}
    for name, value in zip(header, cells, strict=False):
        fields[re.sub(r"\s+", "", name)] = value
    if "分类" in fields:
        if fields["分类"]:
            state.table_category = fields["分类"]
        else:
            fields["分类"] = state.table_category or ""
    elif state.table_category:
        fields["分类"] = state.table_category
    return fields


def parse_document(text: str, title: str | None = None) -> list[Block]:
    """Split a plan into blocks. ``title`` (the plan's own name line) is not content."""
    bare_title = (title or "").strip("《》")
    state = _State()
    blocks: list[Block] = []

    for line_offset, line in _lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        start, end = _strip_span(line_offset, line)

        if _TOC_LINE.search(stripped) or _CONTENTS.match(stripped) or _PAGE_NUMBER.match(stripped):
            state.open_paragraph = None
            continue
        if bare_title and stripped == bare_title:
            continue
        if _FOREWORD.match(stripped):
            state.seen_body = True
            state.chapter, state.section, state.open_paragraph = Heading("前言", stripped), None, None
            state.enter_box(None)
            continue
        if m := _CHAPTER.match(stripped):
            state.seen_body = True
            state.chapter = Heading(f"第{m.group(1)}章", re.sub(r"\s+", " ", stripped))
            state.section, state.open_paragraph = None, None
            state.enter_box(None)
            continue
        if m := _SECTION.match(stripped):
            state.section = Heading(f"第{m.group(1)}节", re.sub(r"\s+", " ", stripped))
            state.open_paragraph = None
            state.enter_box(None)
            continue
        if m := _BOX.match(stripped):
            state.enter_box(Heading(f"专栏{m.group(1)}", re.sub(r"\s+", " ", stripped)))
            state.open_paragraph = None
            continue

        if state.box is not None:
            blocks.extend(_box_line(state, line, stripped, start, end))
            continue

        # Running paragraph. A paragraph that stops mid-sentence was broken by a page: join it back.
        if state.paragraph_continues(text):
            assert state.open_paragraph is not None
            state.open_paragraph.end = end
            continue
        topic_match = _TOPIC.match(stripped)
        block = Block(
            kind="paragraph" if state.seen_body else "preamble",
            start=start,
            end=end,
            headings=state.headings(),
            topic=topic_match.group(1) if topic_match else None,
        )
        blocks.append(block)
        state.open_paragraph = block

    return blocks


def _box_line(state: _State, raw_line: str, stripped: str, start: int, end: int) -> list[Block]:
    if _NOTES_HEADING.match(stripped):
        state.in_notes, state.item = True, Heading("指标解释", "指标解释")
        return []
    if "\t" in raw_line and not state.in_notes:
        cells = [c.strip() for c in raw_line.split("\t")]
        if _is_table_header(cells):
            state.table_header = cells
            return []
        fields = _table_row(raw_line, state)
        if fields is None:
            return []
        indicator = fields.get("指标") or next((v for v in fields.values() if len(v) > 3), stripped)
        heading = Heading(indicator, indicator)
        return [Block("table_row", start, end, (*state.headings(), heading), fields=fields)]
    if state.in_notes or (state.box is not None and "指标" in state.box.title):
        # Text beside an indicator table explains it (footnotes); Ningxia's 专栏1 kept only these.
        return [Block("note", start, end, state.headings())]
    if (item := _item_heading(stripped)) is not None:
        state.item = item
        return [Block("box_item", start, end, state.headings())]
    if len(stripped) <= 12 and not any(ch in stripped for ch in "。，；："):
        # A short label line inside a box is a group heading (e.g. 专栏2's "幼有所育").
        state.item = Heading(stripped, stripped)
        return []
    return [Block("box_text", start, end, state.headings())]
