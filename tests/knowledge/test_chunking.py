import pytest

from knowledge.chunking import (
    MAX_CHARS,
    MAX_ITEM_CHARS,
    chunk_documents,
    display_text,
    pack_sentences,
    sentence_spans,
)


@pytest.fixture(scope="module")
def chunks(sources):
    return chunk_documents(sources)


def test_quote_is_exactly_the_source_span(chunks, source_text):
    assert len(chunks) > 300
    for c in chunks:
        assert source_text[c.source][c.start : c.end] == c.quote


def test_ids_are_unique_and_stable(chunks, sources):
    assert len({c.id for c in chunks}) == len(chunks)
    assert [c.id for c in chunk_documents(sources)] == [c.id for c in chunks]


def test_no_sentence_is_cut(chunks, source_text):
    """Every chunk ends at a sentence end or where its block (line/table row/item) ends."""
    for c in chunks:
        text = source_text[c.source]
        after = text[c.end : c.end + 1]
        assert c.quote[-1] in "。！？；”）)" or after in ("", "\n") or c.kind == "table_row", (
            c.section,
            c.quote[-20:],
        )


def test_table_rows_and_box_items_are_units_of_their_own(chunks):
    for c in chunks:
        if c.kind == "table_row":
            assert "\n" not in c.quote and c.fields
        if c.kind == "box_item":
            assert c.quote.count("\n") == 0 or len(c.quote) > MAX_ITEM_CHARS


def test_paragraph_chunks_stay_short_unless_one_sentence(chunks):
    for c in chunks:
        if c.kind == "paragraph" and len(c.quote) > MAX_CHARS:
            assert len(sentence_spans(c.quote, 0, len(c.quote))) == 1


def test_embed_text_has_heading_path_but_quote_is_verbatim(chunks):
    item = next(c for c in chunks if c.section.endswith("2. 免费孕前优生健康服务"))
    assert item.embed_text.startswith("广西规划（广西） 第三章")
    assert "专栏 4" in item.embed_text
    assert item.region == "guangxi" and item.valid_from.year == 2021 and item.valid_to.year == 2025
    assert item.quote.startswith("- 2. 免费孕前优生健康服务。**")


def test_sentence_packing_is_greedy_and_never_splits():
    text = "第一句。第二句很长很长。第三句！尾巴"
    spans = sentence_spans(text, 0, len(text))
    assert [text[a:b] for a, b in spans] == ["第一句。", "第二句很长很长。", "第三句！", "尾巴"]
    assert [text[a:b] for a, b in pack_sentences(spans, 12)] == ["第一句。第二句很长很长。", "第三句！尾巴"]


def test_display_text_folds_layout_whitespace():
    assert display_text("3 万以上人口的大镇\n\n要办好") == "3 万以上人口的大镇要办好"
    assert display_text("- 1. 标题。**正文") == "- 1. 标题。正文"
