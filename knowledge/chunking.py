"""Blocks → retrievable chunks with exact citations.

Rules: a sentence is never cut; a 专栏 item and an indicator-table row are units of their own (a very
long item is split only at sentence ends and every part keeps the item's path); short neighbouring
paragraphs of the same heading are packed together. The stored quote is always
``source_text[start:end]``; only the text that gets embedded carries the heading path as a prefix.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

from pydantic import BaseModel

from knowledge.parsing import Block, BlockKind, parse_document
from knowledge.sources import REGION_NAMES, Region, SourceDocument

MAX_CHARS = 260  # running text: about two or three sentences of a plan
MAX_ITEM_CHARS = 420  # a 专栏 item is kept whole up to this length
_SENTENCE_END = re.compile(r"[。！？!?]+[”’」』）)]*")
_WS = re.compile(r"\s+")


class Chunk(BaseModel):
    id: str
    doc_id: str
    source: str
    title: str
    region: Region
    kind: BlockKind
    section: str  # short path: "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务"
    section_titles: list[str]  # the same headings as printed
    topic: str | None = None
    start: int
    end: int
    quote: str  # == source_text[start:end], verbatim
    text: str  # quote with layout whitespace folded, for display
    embed_text: str
    fields: dict[str, str] | None = None  # indicator-table row: column → value
    valid_from: date
    valid_to: date

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()


def display_text(quote: str) -> str:
    """Fold layout whitespace; keep a single space between Latin/digit runs the source spaced out."""
    folded = _WS.sub(" ", quote.replace("**", "")).strip()
    return re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", folded)


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], whitespace-trimmed; trailing text without an end mark is a sentence."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for m in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, m.end()))
        cursor = m.end()
    if cursor < end:
        spans.append((cursor, end))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[1] > s[0]]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def pack_sentences(spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Greedy packing of consecutive sentences into spans of at most ``limit`` characters (one sentence may exceed it)."""
    packed: list[tuple[int, int]] = []
    for a, b in spans:
        if packed and b - packed[-1][0] <= limit:
            packed[-1] = (packed[-1][0], b)
        else:
            packed.append((a, b))
    return packed


def _block_spans(text: str, block: Block) -> list[tuple[int, int]]:
    if block.kind == "table_row":
        return [(block.start, block.end)]
    limit = MAX_ITEM_CHARS if block.kind == "box_item" else MAX_CHARS
    if block.end - block.start <= limit:
        return [(block.start, block.end)]
    return pack_sentences(sentence_spans(text, block.start, block.end), MAX_CHARS)


def _merge_small_paragraphs(text: str, blocks: list[Block]) -> list[Block]:
    """Short paragraphs under the same heading read as one passage (e.g. a notice's lines)."""
    merged: list[Block] = []
    for block in blocks:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and block.kind in ("paragraph", "preamble", "note")
            and prev.kind == block.kind
            and prev.headings == block.headings
            and (
                block.kind == "preamble"  # a covering notice is read as one passage: number, meeting, date
                or (
                    block.end - prev.start <= MAX_CHARS
                    and min(block.end - block.start, prev.end - prev.start) < 80
                )
            )
        ):
            merged[-1] = Block(prev.kind, prev.start, block.end, prev.headings, prev.topic, None)
        else:
            merged.append(block)
    return merged


def _embed_text(doc: SourceDocument, block: Block, body: str) -> str:
    heading_path = " › ".join(h.title for h in block.headings)
    if block.fields:
        body = "；".join(f"{k}：{v}" for k, v in block.fields.items() if v and k != "序号")
    return f"{doc.meta.short_title}（{REGION_NAMES[doc.meta.region]}） {heading_path}\n{body}"


def chunk_document(doc: SourceDocument) -> list[Chunk]:
    text = doc.text
    blocks = _merge_small_paragraphs(text, parse_document(text, doc.meta.title))
    chunks: list[Chunk] = []
    for block in blocks:
        # A running paragraph's lead phrase ("提升优生优生服务水平。") names its subject: cite it as the last path step.
        section, titles = block.path, [h.title for h in block.headings]
        if block.kind == "paragraph" and block.topic:
            section, titles = f"{section} › {block.topic}", [*titles, block.topic]
        for start, end in _block_spans(text, block):
            quote = text[start:end]
            shown = display_text(quote)
            chunks.append(
                Chunk(
                    id=f"{doc.meta.doc_id}:{start}-{end}",
                    doc_id=doc.meta.doc_id,
                    source=doc.file_name,
                    title=doc.meta.title,
                    region=doc.meta.region,
                    kind=block.kind,
                    section=section,
                    section_titles=titles,
                    topic=block.topic,
                    start=start,
                    end=end,
                    quote=quote,
                    text=shown,
                    embed_text=_embed_text(doc, block, shown),
                    fields=block.fields,
                    valid_from=doc.meta.valid_from,
                    valid_to=doc.meta.valid_to,
                )
            )
    return chunks


def chunk_documents(docs: list[SourceDocument]) -> list[Chunk]:
    return [chunk for doc in docs for chunk in chunk_document(doc)]
