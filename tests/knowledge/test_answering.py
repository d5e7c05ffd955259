"""Grounded answers with the real retriever, catalogue and sources."""

import pytest

from knowledge.answering import Context, compose_answer, region_choice, resolve_follow_up
from knowledge.catalogue.loader import load_catalogue


@pytest.fixture(scope="module")
def answer(retriever, sources, source_text):
    catalogue = load_catalogue(sources)

    def ask(question, region=None, context=None):
        return compose_answer(
            question,
            retriever=retriever,
            catalogue=catalogue,
            source_texts=source_text,
            region=region,
            context=context,
        )

    return ask


def test_every_shown_sentence_is_a_verbatim_cited_span(answer, source_text):
    reply = answer("准备要孩子了，孕前检查免费吗", region="guangxi")
    assert reply.kind == "answer" and reply.citations
    for c in reply.citations:
        assert source_text[c.source][c.start : c.end] == c.quote
        assert c.section and c.region == "guangxi"
    assert any("专栏4" in c.section for c in reply.citations)
    assert "gx-preconception-check" in reply.services and any(
        b.payload == "/check_eligibility" for b in reply.buttons
    )


def test_no_region_answers_both_plans_separately(answer):
    reply = answer("养老服务网络规划是分几级来建的？")
    assert reply.kind == "answer"
    assert "【广西】" in reply.text and "【宁夏】" in reply.text
    assert {c.region for c in reply.citations} == {"guangxi", "ningxia"}
    assert {b.title for b in reply.buttons} >= {"广西", "宁夏"}


@pytest.mark.parametrize(
    "question",
    [
        "桂林哪家米粉最正宗？推荐几家呗",
        "今天天气怎么样",
        "宁夏城乡居民基础养老金现在每个月发多少钱？",
        "杭州公积金贷款最多能贷多少钱？",
        "asdfgh",
    ],
)
def test_declines_without_citations(answer, question):
    reply = answer(question)
    assert reply.kind == "refuse" and not reply.citations and reply.reason
    assert any(b.payload == "/human_handoff" for b in reply.buttons)


def test_region_choice_and_follow_ups(answer):
    first = answer("公租房谁能申请", region="ningxia")
    assert first.kind == "answer" and first.region == "ningxia"
    switched = answer("广西呢", context=Context(last_query=first.query, region="ningxia"))
    assert switched.region == "guangxi" and all(c.region == "guangxi" for c in switched.citations)
    assert "公租房" in switched.text
    bare = answer("我在银川")
    assert bare.kind == "smalltalk" and bare.region == "ningxia"


def test_operator_box_listing_counts_items(answer):
    reply = answer("广西规划专栏3“基本公共服务标准体系建设项目”一共几项？分别是什么？")
    assert "共 5 项" in reply.text and "全民健身基本公共服务标准化推动工程" in reply.text


def test_pure_follow_up_helpers():
    assert region_choice("柳州的") == "guangxi" and region_choice("银川的公租房谁能申请") is None
    ctx = Context(last_query="公租房谁能申请")
    assert resolve_follow_up("要钱吗", ctx) == ("公租房谁能申请 要钱吗", None)
    assert resolve_follow_up("宁夏呢", ctx) == ("公租房谁能申请", "ningxia")
    assert resolve_follow_up("残疾人就业有什么帮扶政策", ctx)[0] == "残疾人就业有什么帮扶政策"
