import pytest

from knowledge.catalogue.models import Condition
from knowledge.catalogue.profile import ResidentProfile
from knowledge.catalogue.rules import RuleError, compile_expression, evaluate, profile_facts


def facts(**kw):
    return profile_facts(ResidentProfile(**kw))


def test_compile_reports_fields_and_rejects_unknown():
    assert compile_expression("age >= 60 and hukou_region == 'ningxia'").fields == ("age", "hukou_region")
    with pytest.raises(RuleError, match="unknown profile field"):
        compile_expression("salary > 1")
    with pytest.raises(RuleError):
        compile_expression("age >= 'old'")


def test_leaf_is_three_valued():
    cond = Condition(when="age >= 60", because="60岁以上")
    assert evaluate(cond, facts(age=60)).value is True
    assert evaluate(cond, facts(age=59)).value is False
    unknown = evaluate(cond, facts())
    assert unknown.value is None and unknown.missing == ("age",)


def test_any_and_all_use_kleene_logic():
    any_of = Condition(
        any=[
            Condition(when="hukou_region == 'guangxi'", because="条件甲"),
            Condition(when="residence_region == 'guangxi'", because="条件乙"),
        ],
        because="广西",
    )
    assert evaluate(any_of, facts(hukou_region="guangxi")).value is True  # decided without residence
    assert evaluate(any_of, facts(hukou_region="ningxia")).missing == ("residence_region",)
    assert evaluate(any_of, facts(hukou_region="ningxia", residence_region="other")).value is False
    all_of = Condition(
        all=[
            Condition(when="age >= 60", because="条件甲"),
            Condition(when="lives_alone == true", because="条件乙"),
        ],
        because="条件丙",
    )
    assert evaluate(all_of, facts(age=30)).value is False  # decided without lives_alone
    assert evaluate(all_of, facts(age=70)).value is None


def test_list_fields():
    cond = Condition(when="[a for a in children_ages if a <= 6].length > 0", because="有 0-6 岁孩子")
    assert evaluate(cond, facts(children_ages=[6, 12])).value is True
    assert evaluate(cond, facts(children_ages=[7])).value is False
    assert evaluate(cond, facts(children_ages=[])).value is False


def test_condition_needs_exactly_one_form():
    with pytest.raises(ValueError):
        Condition(because="条件")
    with pytest.raises(ValueError):
        Condition(when="age > 1", any=[], because="条件")
