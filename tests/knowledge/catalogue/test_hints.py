"""Profile facts the resident already stated, for the eligibility form (pure)."""

from knowledge.catalogue.hints import profile_hints


def test_region_and_plans_from_what_was_said():
    assert profile_hints(["我在南宁，准备要孩子了", "帮我看看能不能享受"], "guangxi") == {
        "residence_region": "guangxi",
        "planning_pregnancy": True,
    }


def test_a_statement_counts_a_question_does_not():
    assert profile_hints(["我老婆刚怀孕，能免费做哪些检查？"]) == {"pregnant": True}
    assert profile_hints(["怀孕了能领什么"]) == {}
    assert profile_hints(["准备怀孕，孕前检查免费吗"]) == {"planning_pregnancy": True}


def test_ages_in_words_and_the_latest_statement_wins():
    assert profile_hints(["我爸七十了，有啥补贴"], "ningxia") == {"residence_region": "ningxia", "age": 70}
    assert profile_hints(["我今年35岁", "不对，我36岁了"])["age"] == 36
