import random
from datetime import date

import pytest

from knowledge.catalogue.normalize import chinese_number, normalize_answer
from knowledge.catalogue.profile import PROFILE_FIELDS, ResidentProfile

NOT_OK = object()  # the answer must be re-asked, not guessed

CASES = [
    # regions: region words, cities, counties, other provinces, sentences around them
    ("hukou_region", "广西", "guangxi"),
    ("hukou_region", "广西壮族自治区", "guangxi"),
    ("hukou_region", "桂", "guangxi"),
    ("hukou_region", "户口在南宁", "guangxi"),
    ("hukou_region", "玉林北流的", "guangxi"),
    ("hukou_region", "我是银川的", "ningxia"),
    ("hukou_region", "宁夏固原西吉县", "ningxia"),
    ("hukou_region", "四川", "other"),
    ("hukou_region", "外省", "other"),
    ("hukou_region", "别的省", "other"),
    ("hukou_region", "都不是", "other"),
    ("hukou_region", "不在广西", NOT_OK),
    ("hukou_region", "广西人，在广东打工", NOT_OK),
    ("hukou_region", "不知道", NOT_OK),
    ("residence_region", "常住柳州", "guangxi"),
    ("residence_region", "在杭州打工", "other"),
    ("residence_region", "我在上海原来住过", "other"),  # 上海 is matched before Ningxia's 海原
    ("spouse_hukou_region", "她是吴忠的", "ningxia"),
    ("spouse_hukou_region", "广东的", "other"),
    # age
    ("age", "35", 35),
    ("age", "35岁", 35),
    ("age", "三十五岁", 35),
    ("age", "62了", 62),
    ("age", "今年六十二", 62),
    ("age", "八十多", 80),
    ("age", "我78", 78),
    ("age", "３５", 35),
    ("age", "一百零二岁", 102),
    ("age", "我一个人住，78了", 78),
    ("age", "8个月", 0),
    ("age", "1960年出生", date.today().year - 1960),
    ("age", "150", NOT_OK),
    ("age", "不记得了", NOT_OK),
    ("age", "五六十岁", NOT_OK),
    ("age", "我78，老伴80", NOT_OK),
    # yes/no with negation winning
    ("planning_marriage", "是的", True),
    ("planning_marriage", "打算下个月领证", True),
    ("planning_marriage", "不打算", False),
    ("planning_marriage", "已经结婚了", False),
    ("planning_pregnancy", "在备孕", True),
    ("planning_pregnancy", "暂时不要", False),
    ("planning_pregnancy", "还没想好", NOT_OK),
    ("pregnant", "怀了", True),
    ("pregnant", "怀孕了", True),
    ("pregnant", "没怀", False),
    ("pregnant", "还没有", False),
    ("recently_gave_birth", "刚生完没几天", True),
    ("recently_gave_birth", "还怀着呢", False),
    ("family_economic_difficulty", "困难", True),
    ("family_economic_difficulty", "挺困难的，没钱", True),
    ("family_economic_difficulty", "不困难", False),
    ("family_economic_difficulty", "不太困难", False),
    ("family_economic_difficulty", "还过得去", False),
    ("disability", "残疾", True),
    ("disability", "有残疾证", True),
    ("disability", "没有残疾", False),
    ("disability", "冇", False),
    ("disability", "可能是吧", NOT_OK),
    ("disability", "有没有都行", NOT_OK),
    ("severe_illness", "得了癌症", True),
    ("chronic_disease", "有高血压", True),
    ("chronic_disease", "没有慢性病", False),
    ("lives_alone", "一个人住", True),
    ("lives_alone", "和儿子一起住", False),
    ("needs_care", "生活不能自理", True),
    ("needs_care", "瘫在床上动不了", True),
    ("needs_care", "能自理", False),
    ("veteran", "退伍了", True),
    ("veteran", "没当过兵", False),
    ("dilapidated_house", "不是危房", False),
    ("work_injury", "在工地上摔的", True),
    ("work_injury", "不是工伤", False),
    ("left_behind_child", "爸妈都在外面打工，跟爷爷奶奶", True),
    ("disaster_affected", "发大水淹了", True),
    ("sudden_hardship", "嗯", True),
    ("family_planning_household", "独生子女家庭", True),
    ("child_in_difficulty", "否", False),
    ("veteran", "没错", True),
    ("pregnant", "不可能", False),
    ("veteran", "天气不错", NOT_OK),
    ("pregnant", "", NOT_OK),
    # children
    ("children_ages", "没有", []),
    ("children_ages", "没孩子", []),
    ("children_ages", "无", []),
    ("children_ages", "3岁", [3]),
    ("children_ages", "一个3岁一个7岁", [3, 7]),
    ("children_ages", "3岁和7岁", [3, 7]),
    ("children_ages", "3、7", [3, 7]),
    ("children_ages", "两个，老大五岁老二两岁", [5, 2]),
    ("children_ages", "刚出生", [0]),
    ("children_ages", "几个月", [0]),
    ("children_ages", "十二岁和刚生的", [12, 0]),
    ("children_ages", "三个孩子", NOT_OK),
    ("children_ages", "45岁", NOT_OK),
    ("children_ages", "不清楚", NOT_OK),
    # school stage
    ("school_stage", "幼儿园", "preschool"),
    ("school_stage", "托班", "preschool"),
    ("school_stage", "读小学", "primary"),
    ("school_stage", "三年级", "primary"),
    ("school_stage", "初二", "junior"),
    ("school_stage", "普高", "senior"),
    ("school_stage", "职业高中", "vocational"),
    ("school_stage", "技校", "vocational"),
    ("school_stage", "在读大专", "university"),
    ("school_stage", "研究生", "university"),
    ("school_stage", "没上学", "none"),
    ("school_stage", "无", "none"),
    ("school_stage", "没上高中，读中专", "vocational"),
    # income status
    ("income_status", "低保户", "dibao"),
    ("income_status", "五保", "tekun"),
    ("income_status", "边缘户", "low_income"),
    ("income_status", "都不是", "none"),
    ("income_status", "一般", "none"),
    ("income_status", "不是低保户", "none"),
    ("income_status", "不是低保，是低收入", "low_income"),
    ("income_status", "没错是低保", "dibao"),
    ("income_status", "低保边缘", "low_income"),
    # employment
    ("employment_status", "在厂里上班", "employed"),
    ("employment_status", "打工", "employed"),
    ("employment_status", "下岗了", "unemployed"),
    ("employment_status", "没活干", "unemployed"),
    ("employment_status", "一直没找到工作", "unemployed"),
    ("employment_status", "自己开店做生意", "self_employed"),
    ("employment_status", "退休了", "retired"),
    ("employment_status", "还在读书", "student"),
    ("employment_status", "在家种甘蔗", "farmer"),
    ("employment_status", "农民工", "employed"),
    # medical insurance
    ("medical_insurance", "单位交的", "employee"),
    ("medical_insurance", "新农合", "resident"),
    ("medical_insurance", "城乡居民", "resident"),
    ("medical_insurance", "没交", "none"),
    ("medical_insurance", "没有", "none"),
    ("medical_insurance", "不是职工医保，是居民医保", "resident"),
    ("medical_insurance", "没有职工医保", NOT_OK),
    # housing
    ("housing_status", "自己的房子", "own"),
    ("housing_status", "租的", "renting"),
    ("housing_status", "住公租房", "renting"),
    ("housing_status", "没房", "housing_difficulty"),
    ("housing_status", "没有自己的房子", "housing_difficulty"),
    ("housing_status", "一家五口住不下", "housing_difficulty"),
    # small enums
    ("disability_level", "一级", 1),
    ("disability_level", "1级", 1),
    ("disability_level", "一", 1),
    ("disability_level", "残疾证上是四级", 4),
    ("disability_level", "五级", NOT_OK),
    ("sex", "男", "male"),
    ("sex", "女的", "female"),
    ("sex", "不是男的", "female"),
    ("marital_status", "单身", "single"),
    ("marital_status", "还没结婚", "single"),
    ("marital_status", "结婚了", "married"),
    ("marital_status", "离异", "divorced"),
    ("marital_status", "老伴走了", "widowed"),
    ("urban_rural", "城里", "urban"),
    ("urban_rural", "住县城", "urban"),
    ("urban_rural", "村里", "rural"),
    ("urban_rural", "我们屯里", "rural"),
    ("urban_rural", "不在城里", "rural"),
]


@pytest.mark.parametrize(("field", "text", "expected"), CASES)
def test_normalize_answer(field, text, expected):
    result = normalize_answer(field, text)
    assert result.field == field
    if expected is NOT_OK:
        assert not result.ok and result.value is None and result.message
    else:
        assert result.ok and result.message is None, result.message
        assert result.value == expected and type(result.value) is type(expected)


@pytest.mark.parametrize(
    ("text", "number"),
    [("三十五", 35), ("六十二", 62), ("一百零二", 102), ("一百二", 120), ("两", 2), ("十", 10), ("十二", 12)]
    + [("35", 35), ("一九六二", 1962), ("零", 0), ("五六十", None), ("三十个", None), ("", None)],
)
def test_chinese_number(text, number):
    assert chinese_number(text) == number


def test_unknown_field_is_rejected():
    with pytest.raises(ValueError, match="unknown profile field"):
        normalize_answer("salary", "3000")
    with pytest.raises(KeyError):
        normalize_answer("salary", "3000")


JUNK = [
    "",
    "   ",
    "？？",
    "abc",
    "嗯不知道",
    "12345",
    "三十五",
    "是的",
    "没有",
    "广西南宁",
    "一百零二岁",
    "😀",
    "不是低保",
]


@pytest.mark.parametrize("field", PROFILE_FIELDS)
def test_every_field_is_handled_and_ok_values_validate(field):
    rng = random.Random(field)
    alphabet = "是不没有的了岁个一二三十百0123456789广西宁夏低保租房男女村城,，、 ?"
    texts = JUNK + ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(40)]
    for text in texts:
        result = normalize_answer(field, text)
        assert result.field == field
        if result.ok:
            ResidentProfile(**{field: result.value})  # strict model: right type, allowed value
        else:
            assert result.value is None and result.message


def test_every_field_understands_something():
    understood = {case[0] for case in CASES if case[2] is not NOT_OK}
    assert understood == set(PROFILE_FIELDS)
