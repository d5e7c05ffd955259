import re

import pytest

from knowledge.parsing import parse_document

GX = "000_c3d117fd37f079a7.txt"
NX = "002_d35ca64918ecb1b1.txt"


@pytest.fixture(scope="module")
def blocks(sources):
    return {d.file_name: parse_document(d.text, d.meta.title) for d in sources}


@pytest.mark.parametrize(("doc", "boxes"), [(GX, range(1, 18)), (NX, range(1, 6))])
def test_every_box_of_both_plans_is_found(blocks, source_text, doc, boxes):
    in_text = {int(n) for n in re.findall(r"^\s*专栏\s*(\d+)", source_text[doc], re.M)}
    assert in_text == set(boxes)
    found = {
        b.headings[i].label
        for b in blocks[doc]
        for i in range(len(b.headings))
        if b.headings[i].label.startswith("专栏")
    }
    assert found == {f"专栏{n}" for n in boxes}


def test_block_spans_are_verbatim_and_nonempty(blocks, source_text):
    for doc, bs in blocks.items():
        for b in bs:
            quote = source_text[doc][b.start : b.end]
            assert quote and quote == quote.strip()


def test_contents_and_page_numbers_are_not_content(blocks, source_text):
    for doc, bs in blocks.items():
        for b in bs:
            quote = source_text[doc][b.start : b.end]
            assert not re.search(r"-\s*\d+\s*-\s*$", quote), quote
            assert not quote.startswith("目 录")


def test_box_items_carry_their_path(blocks, source_text):
    items = [b for b in blocks[GX] if b.kind == "box_item" and "专栏4" in b.path]
    paths = [b.path for b in items]
    assert "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务" in paths
    assert len(items) == 7
    item = next(b for b in items if b.path.endswith("2. 免费孕前优生健康服务"))
    assert "计划怀孕的夫妇（每孩次）免费提供 1 次" in source_text[GX][item.start : item.end]


def test_indicator_rows_carry_the_right_numbers(blocks):
    rows = {b.fields["指标"]: b for b in blocks[GX] if b.kind == "table_row" and "专栏2" in b.path}
    nursery = rows["每千人口拥有 3 岁以下婴幼儿托位数"].fields
    assert (nursery["单位"], nursery["2020年情况"], nursery["2025年目标"], nursery["指标性质"]) == (
        "个",
        "1.2",
        "4.5",
        "预期性",
    )
    assert nursery["分类"] == "幼有所育"
    doctors = rows["每千人口拥有执业(助理)医师数"].fields
    assert (doctors["2020年情况"], doctors["2025年目标"], doctors["分类"]) == ("2.3", "3.0", "病有所医")
    assert len(rows) == 22  # 专栏2 lists 22 indicators


def test_page_broken_paragraph_is_joined(blocks, source_text):
    joined = [b for b in blocks[GX] if "比“十二五”末分" in source_text[GX][b.start : b.end]]
    assert len(joined) == 1
    assert "别提高 16.3、3、3.7 个百分点" in source_text[GX][joined[0].start : joined[0].end]


def test_ningxia_notice_and_service_list(blocks, source_text):
    preamble = [b for b in blocks[NX] if b.kind == "preamble"]
    assert any("宁政办发〔2022〕12号" in source_text[NX][b.start : b.end] for b in preamble)
    lists = [b for b in blocks[NX] if "专栏2" in b.path and "（共计" in source_text[NX][b.start : b.end]]
    assert [b.headings[-1].label for b in lists] == [
        "幼有所育",
        "学有所教",
        "劳有所得",
        "病有所医",
        "老有所养",
        "住有所居",
        "弱有所扶",
        "优军服务保障",
        "文体服务保障",
    ]


def test_ningxia_indicator_box_keeps_only_footnotes(blocks):
    box1 = [b for b in blocks[NX] if "专栏1" in b.path]
    assert box1 and all(b.kind == "note" for b in box1)
