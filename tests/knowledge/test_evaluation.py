from knowledge.evaluation import (
    ChatMessage,
    ChatTurn,
    ConversationTurn,
    LengthStats,
    answer_length_report,
    figure_report,
    first_hit_rank,
    is_conversation_file,
    length_stats,
    load_conversations,
    matches,
    score_conversation_turn,
    score_ranks,
    summarise_conversations,
)


def test_match_ignores_whitespace_and_accepts_long_overlap():
    assert matches("要办好 2—3 所公办幼儿园", "办好2—3所公办")
    assert matches("每千人口拥有注册护士数\t人\t3.34\t3.96", "每千人口拥有注册护士数\t人\t3.34\t3.96")
    assert matches(
        "前文……完善职工基本医疗保险门诊共济", "完善职工基本医疗保险门诊共济保障机制"
    )  # 14/17 shared
    assert not matches("公租房保障", "完善职工基本医疗保险门诊共济保障机制")


def test_ranks_and_scores():
    assert first_hit_rank(["a", "b 目标", "c"], ["目标"]) == 2
    assert first_hit_rank(["a"], ["目标"]) is None
    s = score_ranks([1, 2, None, 6])
    assert (s.r_at_1, s.r_at_5) == (0.25, 0.5)
    assert s.mrr_at_10 == round((1 + 0.5 + 1 / 6) / 4, 3)


# --- conversations, answer length, figures -------------------------------------------------------------
def turn(**kw) -> ConversationTurn:
    return ConversationTurn(**{"message": "宁夏呢", "expect_kind": ["answer"], "gold_quotes": [], **kw})


def reply(kinds: list[str], text: str, quotes: tuple[str, ...] = ()) -> ChatTurn:
    return ChatTurn.of(
        [
            ChatMessage(
                kind=k,
                text=text if i == 0 else "",
                citations=[{"source": "s.txt", "quote": q} for q in quotes],
            )
            for i, k in enumerate(kinds)
        ]
    )


NX_QUOTE = "新建改扩建城市社区卫生服务中心40所"


def test_turn_needs_an_expected_kind():
    t = turn(expect_kind=["clarify", "answer"])
    assert score_conversation_turn(t, reply(["clarify"], "您在哪个地区？")).ok
    assert score_conversation_turn(t, reply(["answer"], "…")).ok
    s = score_conversation_turn(t, reply(["refuse"], "抱歉"))
    assert not s.ok and s.why() == "kind"
    assert score_conversation_turn(turn(expect_kind=["handoff"]), reply(["answer", "handoff"], "…")).ok


def test_turn_with_gold_quotes_needs_a_matching_citation():
    t = turn(gold_quotes=[NX_QUOTE, "补齐城市社区卫生服务中心(站)短板"])
    assert score_conversation_turn(t, reply(["answer"], "…", ("……新建改扩建城市社区卫生服务中心40所，",))).ok
    s = score_conversation_turn(t, reply(["answer"], "…", ("全面开展社区医院建设",)))
    assert not s.ok and s.why() == "no gold citation"
    assert not score_conversation_turn(t, reply(["answer"], "…")).ok


def test_turn_without_gold_quotes_only_checks_kind_and_forbidden_strings():
    t = turn(message="加装电梯政府补多少钱", expect_kind=["answer", "handoff"], must_not_contain=["万元"])
    assert score_conversation_turn(t, reply(["answer"], "规划未写明具体金额。")).ok
    assert score_conversation_turn(t, reply(["handoff"], "已为您转人工。")).ok
    s = score_conversation_turn(t, reply(["answer"], "每部电梯补贴 10 万 元"))  # compared without whitespace
    assert not s.ok and s.forbidden == ["万元"] and s.why() == "contains 万元"


def test_forbidden_string_in_any_reply_of_the_turn():
    t = turn(gold_quotes=[NX_QUOTE], must_not_contain=["二级医院水平"])
    both = ChatTurn.of(
        [
            ChatMessage(
                kind="answer", text="宁夏：新建40所", citations=[{"source": "nx", "quote": NX_QUOTE}]
            ),
            ChatMessage(kind="answer", text="广西：升级为二级医院水平"),
        ]
    )
    s = score_conversation_turn(t, both)
    assert s.kind_ok and s.cites_ok and not s.ok


def test_conversation_summary():
    s = summarise_conversations({"c01": [True, True, True], "c02": [True, False], "c03": [True]})
    assert (s.conversations_right, s.conversations, s.turns_right, s.turns) == (2, 3, 5, 6)


def test_conversation_file_detection(tmp_path):
    conv = tmp_path / "c.jsonl"
    conv.write_text(
        '\n{"id": "c01", "region": "ningxia", "turns": [{"message": "我在中卫", "expect_kind": ["answer"], '
        '"gold_quotes": []}], "notes": ""}\n',
        encoding="utf-8",
    )
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "d001", "question": "婚检免费吗"}\n', encoding="utf-8")
    assert is_conversation_file(conv) and not is_conversation_file(questions)
    (item,) = load_conversations(conv)
    assert item.turns[0].must_not_contain == [] and item.turns[0].expect_kind == ["answer"]


def test_length_stats():
    assert length_stats([]) is None
    s = length_stats(["a" * n for n in (10, 30, 20, 40, 50, 60, 70, 80, 90, 100)])
    assert (s.n, s.median, s.p90) == (10, 55, 90)
    assert length_stats(["abc"]) == LengthStats(n=1, median=3, p90=3)


def test_answer_length_report_measures_answers_and_their_lead_line():
    turns = [
        reply(["answer"], "根据宁夏规划：\n• 新建40所"),  # 7 + 1 + 7
        reply(["answer"], "一行的回答"),  # no separate lead line
        reply(["refuse"], "抱歉，规划里没有找到。"),  # not an answer
        ChatTurn(kinds=["answer"], text="合并的\n文本", citations=[]),  # messages not kept: the merged text
    ]
    report = answer_length_report(turns)
    assert report["answer length"].n == 3 and report["answer length"].p90 == 15
    assert report["lead line"] == LengthStats(n=2, median=5, p90=7)
    assert answer_length_report([reply(["refuse"], "抱歉")]) == {}


def test_figure_report_lists_replies_stating_figures_their_quotes_lack():
    turns = {
        "c03.2": reply(["answer"], "宁夏：新建改扩建城市社区卫生服务中心40所", (NX_QUOTE,)),
        "c08.3": reply(["answer"], "加装电梯每台补贴 10 万元，每户 5000 元"),
        "d001": reply(["refuse"], "请拨打12345热线"),
        "d002": reply(["answer"], "（宁夏规划 第三章 第二节 专栏3）共 2 所", (NX_QUOTE,)),
    }
    assert figure_report(turns) == {"c08.3": ["10万元", "5000元"], "d002": ["2所"]}


def test_a_count_of_the_replys_own_cited_items_is_not_an_unquoted_figure():
    listing = reply(["answer"], "专栏4 共 2 项：1. 甲工程；2. 乙工程。", ("甲工程。", "乙工程。"))
    assert figure_report({"d039": listing}) == {}
    miscounted = reply(["answer"], "专栏4 共 3 项：1. 甲工程；2. 乙工程。", ("甲工程。", "乙工程。"))
    assert figure_report({"d039": miscounted}) == {"d039": ["3项"]}
