"""What changed between two published document sets, in words an admin reads in the version list.

Documents are matched by doc_id; a replaced document is compared passage by passage (the chunker's
quotes), so "新增 3 段，删除 1 段" means what a resident would find differently.
"""

from __future__ import annotations

from collections import Counter

from knowledge.chunking import chunk_document
from knowledge.sources import SourceDocument


def book_title(title: str) -> str:
    return f"《{title.strip('《》')}》"


def passages(doc: SourceDocument) -> Counter[str]:
    return Counter(c.quote for c in chunk_document(doc))


def _meta_fields_changed(old: SourceDocument, new: SourceDocument) -> list[str]:
    before = old.meta.model_dump(exclude={"original_file"})
    after = new.meta.model_dump(exclude={"original_file"})
    return [name for name in after if before.get(name) != after[name]]


def summarize_changes(old: list[SourceDocument], new: list[SourceDocument]) -> list[str]:
    """One line per added, replaced, re-described or deleted document; [] when nothing differs."""
    before = {d.meta.doc_id: d for d in old}
    after = {d.meta.doc_id: d for d in new}
    lines: list[str] = []
    for doc_id, doc in after.items():
        prev = before.get(doc_id)
        if prev is None:
            lines.append(f"新增{book_title(doc.meta.title)}（{sum(passages(doc).values())} 段）")
            continue
        if prev.content_hash != doc.content_hash:
            a, b = passages(prev), passages(doc)
            added, removed, kept = sum((b - a).values()), sum((a - b).values()), sum((a & b).values())
            lines.append(
                f"替换{book_title(doc.meta.title)}：新增 {added} 段，删除 {removed} 段，未变 {kept} 段"
            )
        if fields := _meta_fields_changed(prev, doc):
            lines.append(f"修改{book_title(doc.meta.title)}的信息：{'、'.join(fields)}")
    lines.extend(f"删除{book_title(d.meta.title)}" for doc_id, d in before.items() if doc_id not in after)
    return lines
