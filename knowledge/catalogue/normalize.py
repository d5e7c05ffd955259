"""Turn a resident's free-text answer to one bot question into a typed ``ResidentProfile`` value (pure).

Answers are colloquial Chinese typed on a phone ("62了", "没有残疾", "户口在玉林"). Everything here is
word tables plus a few number rules; when an answer is unclear, contradictory or hedged ("不知道") the
result is not ok with a short re-ask, because a wrong guess would silently change eligibility.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from knowledge.catalogue.profile import PROFILE_FIELDS, ResidentProfile
from knowledge.regions import place_names


class Normalized(BaseModel):
    field: str
    value: Any | None = None  # valid for ResidentProfile when ok; None when not understood
    ok: bool
    message: str | None = None  # plain-Chinese re-ask when not ok


class UnknownFieldError(ValueError, KeyError):
    """A field name that ResidentProfile does not have (catchable as ValueError or KeyError)."""


# ---- numbers -------------------------------------------------------------------------------------

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = r"\d+|[零〇一二两三四五六七八九十百千]+"


def chinese_number(text: str) -> int | None:
    """Read a number: 三十五 → 35, 一百零二 → 102, 一百二 → 120, 一九六二 → 1962, 35 → 35; else None."""
    s = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"\d+", s, re.ASCII):
        return int(s)
    if not s or any(c not in _DIGITS and c not in _UNITS for c in s):
        return None
    if not any(c in _UNITS for c in s):  # digit by digit, as years are read ("一九六二", "六零")
        return int("".join(str(_DIGITS[c]) for c in s))
    total, digit, last_unit, zero = 0, None, 10**9, False
    for c in s:
        if c in ("零", "〇"):
            zero = True
        elif c in _DIGITS:
            if digit is not None:  # "五六十" is a range, not a number
                return None
            digit = _DIGITS[c]
        else:
            unit = _UNITS[c]
            if unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit  # bare "十" means ten
            digit, last_unit, zero = None, unit, False
    if digit is not None:  # "一百二" is 120 in speech, "一百零二" is 102
        total += digit * (last_unit // 10 if last_unit > 10 and not zero else 1)
    return total


# ---- text helpers ---------------------------------------------------------------------------------

# Words that contain 不/没/无 without negating anything; masked before yes/no and negation checks.
_FILLERS = "不过 不久 前不久 没多久 没几天 没几个月 非常 无论 不管 不少 不然 要不然 未来 特别 没办法 不得了 受不了 不错"
_REWRITES = {"没错": "对", "差不多": "对", "可不是": "对", "没问题": "对", "不可能": "不"}
# Hedged answers are re-asked rather than guessed ("可能是吧", "不太清楚", "有没有?").
_UNSURE = re.compile(
    r"(不|没)(太|大|是很)?(知道|清楚|确定|晓得|懂|了解|记得|一定|好说)|说不(好|准|清)|[搞弄]不(清|懂)"
    r"|忘了|记不(得|清)|没想好|想想|看情况|再说|可能|也许|或许|好像|大概|是不是|有没有|要不要|会不会|算不算|\?"
)
_NEGATOR = re.compile(r"[不没无非未冇]|唔|莫得|莫有")
_CLAUSE = re.compile(r"[,.;!、。；！:：]|但|而是|可是|只有")
_COUNT = re.compile(r"(\d+|[一两二三四五六七八九十几])个(?!月)")  # "一个3岁": 一个 counts, it is no age
_ORDINAL = re.compile(
    r"老[大二三四五六七八九幺小]|第[一二三四五六七八九十\d]+[个胎]?|[大小头一二三四五]宝|[大小二三]娃|[头一二三]胎"
)


def _clean(text: str) -> str:
    t = re.sub(r"\s+", ",", unicodedata.normalize("NFKC", text).strip().lower())
    for old, new in _REWRITES.items():
        t = t.replace(old, new)
    return t


def _words(spec: str) -> tuple[str, ...]:
    return tuple(spec.split())


@cache
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so at each position the alternation takes the longest word ("没有残疾" → 没有, 残疾).
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


def _mask_fillers(text: str) -> str:
    return _pattern(_words(_FILLERS)).sub(",", text)


def _scan(text: str, table: dict[str, Any]) -> list[tuple[int, Any]]:
    return [(m.start(), table[m.group()]) for m in _pattern(tuple(table)).finditer(text)]


def _negated(text: str, start: int) -> bool:
    """A negator in the same clause just before a keyword: 不是低保, 没有职工医保, 不在城里."""
    window = _CLAUSE.split(text[max(0, start - 4) : start])[-1]
    return bool(_NEGATOR.search(window))


# ---- choice fields (Literal values) ----------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    table: dict[str, tuple[str, bool]]  # word → (value, weak); weak words count only if nothing else does
    negated: dict[str, str]  # "not X" → Y where that is the only other answer (不是低保 → none)
    ask: str


def _choice(
    ask: str,
    strong: dict[str, str],
    weak: dict[str, str] | None = None,
    negated: dict[str, str] | None = None,
) -> _Choice:
    table = {w: (v, True) for v, spec in (weak or {}).items() for w in spec.split()}
    table |= {w: (v, False) for v, spec in strong.items() for w in spec.split()}
    return _Choice(table, negated or {}, ask)


_OTHER_PLACES = (
    "其他 其它 其他省 外省 外地 别的省 别的地方 省外 区外 都不是 都不在 北京 天津 河北 山西 内蒙古 内蒙 辽宁 吉林 黑龙江 上海"
    " 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 新疆 香港 澳门 台湾"
    " 广州 深圳 东莞 佛山 珠海 中山 惠州 湛江 茂名 杭州 宁波 温州 义乌 成都 武汉 长沙 西安 兰州 西宁 郑州 贵阳 昆明 海口"
    " 三亚 福州 厦门 泉州 南京 苏州 无锡 合肥 济南 青岛 石家庄 太原 沈阳 大连 长春 哈尔滨 呼和浩特 包头 乌鲁木齐 拉萨 南昌"
    " 阿拉善 平凉 庆阳 天水 白银 武威"
)


@cache
def _region_choice() -> _Choice:
    by_region: dict[str, list[str]] = {"guangxi": [], "ningxia": [], "other": _OTHER_PLACES.split()}
    for name, region in place_names().items():
        by_region[region].append(name)
    return _choice(
        "请告诉我在“广西”“宁夏”还是“其他省份”，也可以直接说城市或县名，例如“南宁”。",
        {region: " ".join(names) for region, names in by_region.items()},
    )


_CHOICES: dict[str, _Choice] = {
    "urban_rural": _choice(
        "请回答住在“城镇”还是“农村”。",
        {
            "urban": "城里 城镇 市区 县城 城市 城区 镇上 街道 小区 市里 县里 城中村",
            "rural": "农村 乡下 村里 村 屯 寨 乡里 农村户口",
        },
        negated={"urban": "rural", "rural": "urban"},
    ),
    "sex": _choice(
        "请回答“男”或“女”。",
        {"male": "男 男的 男性 先生 男孩 儿子", "female": "女 女的 女性 女士 女孩 妇女 孕妇 女儿"},
        negated={"male": "female", "female": "male"},
    ),
    "marital_status": _choice(
        "请回答：未婚、已婚、离异，还是丧偶。",
        {
            "single": "未婚 单身 没结婚 没有结婚 还没结婚 没结 没成家 没对象 光棍 单着",
            "married": "已婚 结婚了 结婚 结了 有老婆 有老公 有老伴 成家了 成家 已经结婚 领证了",
            "divorced": "离婚 离异 离了 离过",
            "widowed": "丧偶 老伴走了 老伴去世 老伴没了 老伴过世 老伴不在了 守寡 寡妇 鳏夫 去世了 过世了",
        },
        weak={"married": "老伴 老公 老婆 爱人"},
    ),
    "school_stage": _choice(
        "请回答学段：幼儿园、小学、初中、高中、中职、大学；没有在读请说“无”。",
        {
            "preschool": "幼儿园 托班 托儿所 学前班 小班 中班 大班 早教",
            "primary": "小学 一年级 二年级 三年级 四年级 五年级 六年级 1年级 2年级 3年级 4年级 5年级 6年级",
            "junior": "初中 初一 初二 初三 七年级 八年级 九年级 7年级 8年级 9年级",
            "senior": "高中 普高 普通高中 高一 高二 高三",
            "vocational": "中职 中专 技校 职高 职校 职业学校 职业高中 技工学校 卫校 中等职业",
            "university": "大学 大专 本科 研究生 读研 硕士 博士 高职 专科 大一 大二 大三 大四 研一 研二 研三 学院",
            "none": "没上学 不上学 没读书 不读书 没念书 没在读 不读了 不上了 辍学 毕业",
        },
        weak={"none": "无 没有 没 都不是"},
    ),
    "income_status": _choice(
        "请回答：低保、特困（五保）、低收入，还是“都不是”。",
        {
            "dibao": "低保 低保户 吃低保 领低保",
            "tekun": "特困 特困户 特困供养 五保 五保户",
            "low_income": "低收入 低收入户 低收入家庭 边缘户 低保边缘 边缘易致贫",
            "none": "都不是 都没有 啥也不是 一般 普通",
        },
        weak={"none": "不是 没有 没 无 否 不算"},
        negated={"dibao": "none", "tekun": "none", "low_income": "none"},
    ),
    "employment_status": _choice(
        "请回答：在职、失业、个体或灵活就业、退休、学生，还是务农。",
        {
            "employed": "上班 在职 打工 有工作 工作 上着班 单位 公司 进厂 厂里 务工 工人 农民工 公务员 老师 员工 职工",
            "unemployed": "失业 没工作 没有工作 没上班 不上班 下岗 被裁 裁员 没活干 没活 待业 找工作 闲着 无业 待岗 没事做",
            "self_employed": "个体 个体户 灵活就业 自己干 做生意 开店 小生意 摆摊 跑滴滴 网约车 送外卖 跑外卖 打零工 零工 自由职业",
            "retired": "退休 退了 退休金",
            "student": "学生 在读 上学 读书 念书 在校",
            "farmer": "种地 务农 农民 种田 种菜 种果 种甘蔗 种枸杞 种玉米 种水稻 养殖 养猪 养牛 养羊 养鸡",
        },
        negated={"employed": "unemployed"},
    ),
    "medical_insurance": _choice(
        "请回答：职工医保、居民医保（新农合），还是“没有参保”。",
        {
            "employee": "职工医保 职工 城镇职工 单位交 单位买 单位缴 单位给交 公司交 公司买 公司给交 厂里交 五险一金",
            "resident": "居民医保 居民 城乡居民 新农合 农合 合作医疗 农村医保",
            "none": "没交 没有交 没参保 没有参保 没参加 没买 没保险 没医保 没有医保 不交 断缴 断交 停交",
        },
        weak={"none": "没有 没 无 都没 否"},
    ),
    "housing_status": _choice(
        "请回答：自己的房子、租房，还是住房困难。",
        {
            "own": "自己的房 自己房子 有房 有房子 自有 自己家的 自家 自建房 自己盖 自己建 买了房 买的房 买房了 商品房 房改房 祖屋",
            "renting": "租房 租的 租住 租了 租着 租 公租房 廉租房 出租屋",
            "housing_difficulty": "没房 没有房 无房 住房困难 住不下 挤 危房 借住 寄住 亲戚家 没地方住 没住处 无家可归",
        },
        negated={"own": "housing_difficulty"},
    ),
}


def _resolve_choice(choice: _Choice, text: str) -> str | None:
    strong, negated, weak = set(), set(), set()
    for start, (value, is_weak) in _scan(text, choice.table):
        if is_weak:
            weak.add(value)
        elif _negated(text, start):
            negated.add(value)
        else:
            strong.add(value)
    if not strong and negated:
        strong = {choice.negated.get(v) for v in negated}
    candidates = strong or weak
    return candidates.pop() if len(candidates) == 1 and None not in candidates else None


# ---- yes/no fields -------------------------------------------------------------------------------

_YES = "是 对 嗯 恩 有 要 会 准备 打算 计划 想 算 算是 属于 当然 肯定 确实 对头 yes ok 需要"
_NO = "不是 不 没有 没 否 无 还没 未 非 不用 不要 不需要 没得 莫得 莫有 冇 唔系 唔係 no 不算 不属于"
# Field words: a True word may contain 不/没 ("动不了", "没钱"); the longest word wins at each position.
_BOOL_WORDS: dict[str, tuple[str, str]] = {
    "planning_marriage": ("结婚 领证 登记 办酒 摆酒 订婚 要结", "已婚 已经结婚 结过婚 早结了"),
    "planning_pregnancy": ("备孕 要孩子 要个孩子 要二胎 要三胎 生孩子 生二胎 生三胎 想生 要宝宝", "丁克"),
    "pregnant": ("怀孕 怀了 怀上 有了 有喜 孕 待产 快生了 要生了", "已经生了 生了 生完"),
    "recently_gave_birth": (
        "刚生 生了 生完 刚出生 坐月子 月子 产后 顺产 剖腹产 剖宫产 产假",
        "还没生 没生 怀着 还在怀",
    ),
    "family_economic_difficulty": (
        "困难 穷 紧张 拮据 没钱 没有钱 缺钱 吃不起 交不起 供不起 负担不起 付不起 揭不开锅 难 吃力 艰难 紧巴 欠债 借钱 负债",
        "还行 还可以 过得去 凑合 宽裕 还好 挺好",
    ),
    "disability": ("残疾 残障 残疾证 残 瘸 聋 哑 盲 瞎 智障 截肢 智力障碍 肢残", "健全"),
    "severe_illness": ("重病 大病 癌 肿瘤 尿毒症 白血病 透析 化疗 重症 脑梗 中风 瘫痪 肾衰 心梗", ""),
    "chronic_disease": (
        "慢性病 慢病 高血压 血压高 糖尿病 血糖高 心脏病 冠心病 三高 风湿 哮喘 慢阻肺 痛风 关节炎 慢性",
        "",
    ),
    "lives_alone": (
        "独居 一个人住 自己住 空巢 孤寡 老两口 没人陪 没人管",
        "一起住 住一起 同住 和儿子 跟儿子 和女儿 跟女儿 和子女 跟子女 和孩子 跟孩子 有人陪",
    ),
    "needs_care": (
        "失能 半失能 瘫 卧床 要人照顾 需要人照顾 不能自理 无法自理 没法自理 自理不了 半自理 动不了 下不了床 离不开人 走不了 走不动",
        "能自理 生活自理 能动 能走 自己能照顾",
    ),
    "veteran": ("退伍 退役 当过兵 当兵 军人 复员 转业 军属 烈属 优抚 参过军 参军 部队", ""),
    "dilapidated_house": ("危房 漏雨 漏水 裂 快塌 要塌 塌了 倒了 土坯房 泥瓦房 破房", "新房 楼房 新盖 结实"),
    "child_in_difficulty": (
        "孤儿 困境儿童 无人抚养 没人抚养 没人管 没人养 父母双亡 没爹没妈 父母都不在",
        "跟爸妈 跟父母 父母在身边",
    ),
    "left_behind_child": (
        "留守 外出打工 出去打工 在外打工 外出务工 爸妈打工 父母打工 跟爷爷奶奶 爷爷奶奶带 奶奶带 爷爷带 外婆带 姥姥带",
        "跟爸妈 跟父母 父母在家 爸妈在家 在身边",
    ),
    "disaster_affected": (
        "受灾 灾 水灾 洪水 发大水 淹 地震 冰雹 台风 干旱 旱灾 泥石流 塌方 滑坡 火灾 着火 失火 冲垮 冲走 暴雨 雪灾",
        "",
    ),
    "sudden_hardship": ("突发 突然 出事 车祸 急病 失火 着火 意外 急需用钱 急用钱 没钱 困难", ""),
    "family_planning_household": (
        "独生 独生子女 双女 两个女儿 两个闺女 计生 独女 独子 失独 只有一个孩子 就一个孩子 只生了一个 结扎 绝育",
        "",
    ),
    "work_injury": (
        "工伤 上班时 上班的时候 干活时 干活的时候 工作时 工作中 工地 厂里 做工",
        "自己摔 在家 下班后",
    ),
}


@cache
def _bool_table(field: str) -> dict[str, bool]:
    yes, no = _BOOL_WORDS.get(field, ("", ""))
    table = dict.fromkeys(_YES.split(), True) | dict.fromkeys(_NO.split(), False)
    return table | dict.fromkeys(yes.split(), True) | dict.fromkeys(no.split(), False)


def _resolve_bool(field: str, text: str) -> bool | None:
    found = {value for _, value in _scan(text, _bool_table(field))}
    if False in found:  # negation wins: "没有残疾", "不太困难", "是的，没有" are all no
        return False
    return True if found else None


# ---- number fields -------------------------------------------------------------------------------

_INFANT = re.compile(r"刚出生|刚生|几个月|没满月|满月|半岁|不到一岁|不满一岁|吃奶|婴儿|新生儿")
_AGED = re.compile(rf"{_INFANT.pattern}|({_NUM})(周岁|岁|个月)?")


def _aged_numbers(text: str) -> list[tuple[int | None, bool]]:
    """(age, had a 岁/个月 suffix) for each age-like mention, in order; counts and ordinals dropped."""
    t = _COUNT.sub(",", _ORDINAL.sub(",", text))
    out: list[tuple[int | None, bool]] = []
    for m in _AGED.finditer(t):
        if m.group(1) is None:
            out.append((0, True))
        else:
            n = chinese_number(m.group(1))
            out.append((n // 12 if n is not None and m.group(2) == "个月" else n, m.group(2) is not None))
    return out


def _age(text: str) -> int | None:
    this_year = date.today().year
    born = re.search(rf"({_NUM})年(生|出生|的)?", text)  # "1962年" / "六二年的" is a birth year
    if born and (y := chinese_number(born.group(1))) is not None:
        if len(born.group(1)) == 2 and born.group(2):
            y += 1900 if y > this_year % 100 else 2000
        if 1900 <= y <= this_year:
            return this_year - y
    found = {n for n, _ in _aged_numbers(text)}
    return found.pop() if len(found) == 1 else None  # "我78，老伴80" names two people: ask again


def _children_ages(text: str) -> list[int | None] | None:
    if _UNSURE.search(text):
        return None
    found = _aged_numbers(text)
    if not found:
        return [] if _NEGATOR.search(text) else None  # "没有" / "没孩子" / "无"
    suffixed = [n for n, suffix in found if suffix]
    return suffixed or [n for n, _ in found]


# ---- dispatch ------------------------------------------------------------------------------------

_ASK_BOOL = "请回答“是”或“不是”。"
_ASK_AGE = "请告诉我一个 0 到 120 之间的年龄，例如“35”。"
_ASK_CHILDREN = "请说出每个孩子的年龄，例如“3岁和7岁”；没有孩子请说“没有”。"
_ASK_LEVEL = "请告诉我残疾等级：一级、二级、三级或四级。"
_REGION_FIELDS = frozenset({"hukou_region", "residence_region", "spouse_hukou_region"})


def _parse(field: str, text: str) -> tuple[Any, str]:
    """(value or None, re-ask message) for one field; the value is still unchecked."""
    if field == "age":
        n = _age(text)
        return (n if n is not None and 0 <= n <= 120 else None), _ASK_AGE
    if field == "children_ages":
        ages = _children_ages(text)
        ok = ages is not None and all(a is not None and 0 <= a <= 30 for a in ages)
        return (ages if ok else None), _ASK_CHILDREN
    if field == "disability_level":
        found = [n for n, _ in _aged_numbers(text)]
        return (found[0] if found and found[0] in (1, 2, 3, 4) else None), _ASK_LEVEL
    unsure, text = _UNSURE.search(text), _mask_fillers(text)
    choice = _region_choice() if field in _REGION_FIELDS else _CHOICES.get(field)
    if choice is not None:
        return (None if unsure else _resolve_choice(choice, text)), choice.ask
    if bool in get_args(ResidentProfile.model_fields[field].annotation):
        return (None if unsure else _resolve_bool(field, text)), _ASK_BOOL
    return None, "这个问题暂时无法自动识别，请换个说法。"


def normalize_answer(field: str, text: str) -> Normalized:
    """The typed value of ``field`` in the answer ``text``, or not ok with a plain-Chinese re-ask."""
    if field not in PROFILE_FIELDS:
        raise UnknownFieldError(f"unknown profile field: {field!r}")
    value, ask = _parse(field, _clean(text or ""))
    if value is not None:
        try:  # the contract is a value ResidentProfile accepts; anything else is a re-ask, not a crash
            ResidentProfile(**{field: value})
            return Normalized(field=field, value=value, ok=True)
        except ValidationError:
            pass
    return Normalized(field=field, value=None, ok=False, message=ask)
