"""Grounded answers with the real retriever, catalogue and sources."""

import pytest

from knowledge.answering import Context, compose_answer, region_choice, resolve_follow_up
from knowledge.catalogue.loader import load_catalogue


@pytest.fixture(scope="module")
def answer(retriever, sources, source_text, route):
    catalogue = load_catalogue(sources)

    def ask(question, region=None, context=None):
        return compose_answer(
            question,
            retriever=retriever,
            catalogue=catalogue,
            source_texts=source_text,
            region=region,
            context=context,
            route=route,
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


# --- issue 11: indicators, money vs indicator figures, listings, declines ---------------------------
def test_indicator_question_gets_the_table_row_with_both_years(answer):
    reply = answer("广西人均体育场地面积2025年要达到多少")
    assert reply.kind == "answer" and reply.produced_by == "indicator_row"
    assert "2.6平方米" in reply.text and "2.01" in reply.text and "预期性" in reply.text
    assert any("专栏2" in c.section and "2.6" in c.quote for c in reply.citations)


def test_several_indicators_in_one_question_get_a_row_each(answer):
    reply = answer("广西九年义务教育巩固率和高中阶段教育毛入学率2025年目标各是多少")
    assert reply.kind == "answer"
    assert "九年义务教育巩固率" in reply.text and "高中阶段教育毛入学率" in reply.text
    assert len(reply.citations) == 2


def test_an_indicator_the_source_text_lacks_is_declined_not_borrowed(answer):
    # Ningxia's 专栏1 table is missing from the text: neither Guangxi's row nor a 十三五 figure may stand in.
    reply = answer("宁夏2025年人均预期寿命目标是多少")
    assert reply.kind == "refuse" and reply.reason == "indicator_not_in_text"
    assert not reply.citations and "76.58" not in reply.text


def test_an_indicator_without_a_region_asks_which_one(answer):
    reply = answer("每千人口拥有3岁以下婴幼儿托位数到2025年是多少")
    assert reply.kind == "clarify" and {b.payload for b in reply.buttons} == {"广西", "宁夏"}
    follow = answer("广西", context=Context(last_query=reply.query))
    assert follow.kind == "answer" and "4.5" in follow.text


def test_a_money_question_is_not_answered_with_an_indicator_figure(answer):
    reply = answer("广西困难残疾人生活补贴每个月发多少钱")
    assert reply.kind == "refuse" and reply.reason == "amount_not_stated"


def test_a_made_up_amount_is_not_confirmed(answer):
    reply = answer("听说宁夏给60岁以上老人每月发1000元养老补贴，是真的吗")
    assert reply.kind == "refuse" and not reply.citations and "1000元" in reply.text


def test_realtime_question_naming_a_city_is_declined_without_citations(answer):
    reply = answer("柳州明天限行吗")
    assert reply.kind == "refuse" and reply.reason == "realtime" and not reply.citations


def test_category_listing_quotes_the_list_and_its_own_total(answer):
    reply = answer("宁夏清单里老有所养包括哪些，共几项")
    assert reply.kind == "answer" and reply.produced_by == "listing"
    assert "共计4项" in reply.text and "城乡居民基本养老保险" in reply.text
    assert any("共计4项" in c.quote for c in reply.citations)


def test_box_listing_counts_the_numbered_items_and_cites_each(answer):
    reply = answer("广西规划专栏3一共几项？分别是什么？")
    assert reply.kind == "answer" and "共 5 项" in reply.text
    assert len(reply.citations) == 5 and all("专栏3" in c.section for c in reply.citations)


def test_a_service_question_opens_with_a_verified_lead_line(answer):
    reply = answer("准备要孩子了，孕前检查免费吗", region="guangxi")
    assert reply.kind == "answer" and reply.produced_by == "template_lead"
    first = reply.text.split("\n")[0]
    assert first.startswith("免费。") and "1 次" in first and len(first) <= 80
    assert any("专栏4" in c.section and "1 次" in c.quote for c in reply.citations)
    assert "（2021—2025年）" in reply.text and "规划期已结束" in reply.text
    # One quote after the lead: the sentence of the plan that states the service, not its whole paragraph.
    assert len(reply.citations) == 1 and reply.citations[0].quote.lstrip("*").startswith(
        "为符合生育政策并计划怀孕"
    )


def test_a_correction_is_asked_on_its_own_words():
    context = Context(last_query="贺州的，我有残疾证，广西对我们残疾人有啥帮扶", region="guangxi")
    query, switched = resolve_follow_up("不对，我是说我爸，他是当兵打仗落下的伤残", context)
    assert query == "我爸，他是当兵打仗落下的伤残" and switched is None


def test_a_message_meaning_nothing_alone_continues_the_last_topic(answer):
    first = answer("盐池县有没有老年养护院", region="ningxia")
    assert first.kind == "answer"
    follow = answer("那像我这样的能住进去不？", context=Context(last_query=first.query, region="ningxia"))
    assert follow.kind == "answer" and follow.query.startswith(first.query)


def test_a_long_follow_up_after_a_long_question_stays_within_the_search_limit():
    from knowledge.answering import carry_topic
    from knowledge.retrieval import MAX_QUERY_CHARS

    long_question, long_follow_up = "孕前检查" * 120, "那要钱吗" * 110
    assert len(carry_topic(long_question, "那要钱吗")) <= MAX_QUERY_CHARS
    assert carry_topic(long_question, "那要钱吗").endswith("那要钱吗")
    assert len(carry_topic(long_question, long_follow_up)) <= MAX_QUERY_CHARS
    assert carry_topic("孕前检查免费吗", "那要钱吗") == "孕前检查免费吗 那要钱吗"


def test_indicator_rows_are_quoted_only_for_indicator_questions(answer):
    # A bare figure (孕产妇死亡率 <18) does not answer a resident asking what support there is.
    reply = answer("老婆怀上老三了，政策上允许吧，有没有啥配套", region="guangxi")
    assert reply.kind == "answer" and "预期性指标" not in reply.text and "约束性指标" not in reply.text
    row = answer("广西每千人口执业（助理）医师数2025年目标是多少")
    assert row.kind == "answer" and row.produced_by == "indicator_row" and "执业(助理)医师" in row.text


def test_a_cost_follow_up_keeps_the_topic_and_asks_in_the_plans_words(answer):
    from knowledge.lexical import expand_query

    first = answer("柳州的，我妈想去社区里那种小型养老点，白天有人照看")
    assert first.kind == "answer"
    follow = answer("那要钱吗", context=Context(last_query=first.query, region=first.region))
    assert follow.kind == "answer" and follow.query.startswith(first.query)
    # "要钱" is searched in the plans' words (收费 / 价格 / 费用), so passages about what it costs can rise
    assert {"收费", "价格", "费用"} <= set(expand_query(follow.query).split())


def test_the_quote_under_a_lead_line_states_what_the_lead_says(answer):
    # The pregnancy service is also cited in a general paragraph about 孕前 checks; the quote shown must be the
    # sentence that states the lead's promise (母子健康手册), from 专栏4.
    reply = answer("我老婆刚怀孕，能免费做哪些检查？", region="guangxi")
    assert reply.kind == "answer" and reply.produced_by == "template_lead"
    assert "母子健康手册" in reply.text.split("\n")[0]
    assert any("专栏4" in c.section and "母子健康手册" in c.quote for c in reply.citations), reply.citations


def test_a_follow_up_that_points_back_is_read_with_the_last_topic(answer):
    from knowledge.answering import refers_back

    assert refers_back("那外面那些补课班呢") and refers_back("他看病有没有专门的医院")
    assert not refers_back("换个事问，老旧小区改造都改啥")
    first = answer("娃上初一作业太多，周末还被拉去上补习班，有没有人管", region="ningxia")
    follow = answer(
        "那外面那些补课班呢，收费贵得很", context=Context(last_query=first.query, region="ningxia")
    )
    assert follow.kind == "answer"
    assert any("校外培训" in c.quote for c in follow.citations)


def test_merged_follow_up_hits_favour_passages_both_searches_find():
    from datetime import date

    from knowledge.answering import merge_results
    from knowledge.retrieval import SearchResult
    from tests.plans import make_hit

    def hit(cid: str, score: float):
        return make_hit(cid, cid, score)

    own = SearchResult(
        hits=[hit("a", 0.05), hit("b", 0.04)], version="v", detected_regions=[], as_of=date(2026, 1, 1)
    )
    carried = SearchResult(hits=[hit("b", 0.05), hit("c", 0.06)], version="v", detected_regions=[])
    merged = merge_results(own, carried)
    assert [h.chunk_id for h in merged.hits] == [
        "b",
        "a",
    ]  # b: 0.04 + 0.025; c (0.03) only the old topic finds
    assert merged.version == "v" and merged.as_of == date(2026, 1, 1)
