from knowledge.evaluation import first_hit_rank, matches, score_ranks


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
