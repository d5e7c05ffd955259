"""Retrieval against the real model and a real (embedded) Chroma index."""

import pytest

from knowledge.errors import InvalidQuery
from knowledge.evaluation import matches
from knowledge.retrieval import rrf, top_indices

KNOWN = [
    ("准备要孩子了，孕前检查免费吗", None, "为符合生育政策并计划怀孕的夫妇（每孩次）免费提供 1 次"),
    ("我老婆刚怀孕，能免费做哪些检查？", "guangxi", "为辖区内常住的孕产妇免费建立母子健康手册"),
    ("宁夏这边低保户看病有没有救助", "ningxia", "医疗救助"),
    ("银川的公租房谁能申请", None, "做好城镇中等偏下收入和低收入住房困难家庭公租房保障"),
    ("宁夏这个公共服务规划的发文字号是多少，哪天印发的", None, "宁政办发〔2022〕12号"),
    (
        "广西每千人口3岁以下婴幼儿托位数2025年目标多少",
        None,
        "每千人口拥有 3 岁以下婴幼儿托位数\t个\t1.2\t4.5",
    ),
]


@pytest.mark.parametrize(("question", "region", "quote"), KNOWN)
def test_known_questions_find_their_passage(retriever, question, region, quote):
    hits = retriever.search(question, top_k=5, region=region).hits
    assert any(matches(h.quote, quote) for h in hits), [h.section for h in hits]


def test_hits_carry_exact_citations(retriever, source_text):
    result = retriever.search("准备要孩子了，孕前检查免费吗", top_k=3)
    top3 = [h.section for h in result.hits]
    assert "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务" in top3
    for h in result.hits:
        assert source_text[h.source][h.start : h.end] == h.quote
        assert h.title.startswith("《") and h.valid_from.year == 2021


def test_region_filter_restricts_to_that_plan(retriever):
    for region in ("guangxi", "ningxia"):
        hits = retriever.search("养老服务网络分几级", top_k=10, region=region).hits
        assert hits and {h.region for h in hits} == {region}


def test_place_name_boosts_without_hiding_the_other_region(retriever):
    boosted = retriever.search("银川的老人养老服务有哪些", top_k=10)
    assert boosted.detected_regions == ["ningxia"]
    assert boosted.hits[0].region == "ningxia"
    plain = retriever.search("养老服务网络分几级", top_k=10)
    assert {h.region for h in plain.hits} == {"guangxi", "ningxia"}


@pytest.mark.parametrize(
    ("query", "top_k", "region"),
    [
        ("", 5, None),
        ("   ", 5, None),
        ("问" * 501, 5, None),
        ("低保", 0, None),
        ("低保", 51, None),
        ("低保", 5, "sichuan"),
    ],
)
def test_bad_queries_are_rejected(retriever, query, top_k, region):
    with pytest.raises(InvalidQuery):
        retriever.search(query, top_k=top_k, region=region)


def test_rrf_rewards_agreement():
    fused = rrf({"a": [1, 2, 3], "b": [2, 1]}, k=60, weights={})
    assert max(fused, key=fused.get) in (1, 2)
    assert fused[3] < fused[1]
    assert rrf({"a": [5]}, k=60, weights={"a": 2.0})[5] == pytest.approx(2 / 61)


def test_top_indices_masks_and_drops_zero_scores():
    import numpy as np

    scores = np.array([0.0, 3.0, 1.0, 2.0])
    assert top_indices(scores, None, 10) == [1, 3, 2]
    assert top_indices(scores, np.array([True, False, True, True]), 10) == [3, 2]
