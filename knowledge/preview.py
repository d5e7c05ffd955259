"""How a document will be parsed and chunked, shown to an admin before it is published. Pure."""

from __future__ import annotations

import re

from pydantic import BaseModel

from knowledge.chunking import chunk_document
from knowledge.parsing import parse_document
from knowledge.sources import SourceDocument

FIRST_CHUNKS = 8
_OUTLINE_LABEL = re.compile(r"^(第.+[章节]|前言|印发通知)$")


class SectionPreview(BaseModel):
    path: str  # "第一章 总则 › 第二节 服务内容" (章/节 only; boxes and items are inside)
    chars: int


class ChunkPreview(BaseModel):
    section: str
    quote: str


class Preview(BaseModel):
    chars: int
    sections: list[SectionPreview]
    chunk_count: int
    chunks: list[ChunkPreview]  # the first few, as they will be cited
    warnings: list[str]


def preview(doc: SourceDocument) -> Preview:
    blocks = parse_document(doc.text, doc.meta.title)
    chunks = chunk_document(doc)
    sections: dict[str, int] = {}
    for block in blocks:
        path = " › ".join(h.title for h in block.headings if _OUTLINE_LABEL.match(h.label))
        sections[path] = sections.get(path, 0) + block.end - block.start
    warnings = []
    if not any(h.label.endswith(("章", "节")) for b in blocks for h in b.headings):
        warnings.append(
            "未识别到「第…章」「第…节」标题：引用将只能指向全文，不够精确 (no 章/节 headings found)"
        )
    if len(doc.text.strip()) < 200:
        warnings.append(f"正文很短，只有 {len(doc.text.strip())} 字 (very short document)")
    if not chunks:
        warnings.append("没有切分出可检索的段落 (no searchable passages)")
    return Preview(
        chars=len(doc.text),
        sections=[SectionPreview(path=p or "（无标题）", chars=n) for p, n in sections.items()],
        chunk_count=len(chunks),
        chunks=[ChunkPreview(section=c.section, quote=c.quote) for c in chunks[:FIRST_CHUNKS]],
        warnings=warnings,
    )
