"""Quantities in a text (a number and its unit) and the ones a reply states that its quotes do not.

Pure functions for the chat evaluation: a grounded reply may only state figures its citations contain.
A figure is a number (digits, a decimal, or Chinese numerals such as 三/十二/两) followed by a unit
(元, 万元, %, 所, 张床位, 岁, 年 as a duration …), as the plans write it: "3 万", "5.9 张", "1500 多所",
"2—3 所", "0-6 岁". Years ("2020 年", "2021—2025 年"), section references (专栏4, 第三章, 第 2 节), list
numbers ("1. ") and hotlines (12345) are not figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_WS = re.compile(r"\s+")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_POWERS = {"十": 10, "百": 100, "千": 1000}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_POWERS)

# Longest first, so 张床位 wins over 张 and 个月 over 个.
UNITS = (
    "个百分点 张床位 平方米 百分点 个月 小时 公里 周岁 人次 "
    "元 % ％ ‰ 个 项 所 张 人 名 岁 次 天 月 床 倍 家 处 支 套 户 年"
).split()
_UNIT = "|".join(re.escape(u) for u in UNITS)
_NUM = rf"(?:\d+(?:\.\d+)?|[{_CN_CHARS}]+)"
_SP = r"[ \u00a0\u2002\u3000]*"  # spaces, not tabs or line breaks (those separate table cells and lines)
_RANGE = r"(?:——|[-—–~～至到])"
_MULT = r"[万亿]"
_FIGURE = re.compile(
    rf"(?P<first>{_NUM})(?:{_SP}(?P<first_mult>{_MULT}))?"
    rf"(?:{_SP}{_RANGE}{_SP}(?P<second>{_NUM}))?"
    rf"{_SP}(?:(?P<mult>{_MULT}){_SP})?(?P<more>[多余])?{_SP}(?P<unit>{_UNIT})?"
)
# A number is not a figure after these (ordinals, section and box references) or inside a Latin/digit run.
_NOT_AFTER = re.compile(r"(第|专栏|附件|附表)\s*$|[A-Za-z\d.．/]$")
_DATE_AFTER_MONTH = re.compile(rf"^{_SP}(\d+|[{_CN_CHARS}]+){_SP}[日号]|^[底初中份末]")
_NOT_A_COUNT = frozenset("一二百千")
_NOT_DURATION_YEAR = re.compile(r"^[级代]")


@dataclass(frozen=True)
class Figure:
    text: str  # as written, whitespace removed: "3万", "2—3所", "1.5%"
    numbers: tuple[str, ...]  # the number(s) as written: ("2", "3")
    unit: str  # with its magnitude: "万人", "所", "万", "%"
    start: int
    end: int


def chinese_number(s: str) -> int | None:
    """三 → 3, 十二 → 12, 两百零五 → 205, 二〇二五 → 2025; None when it is not one number (十四五)."""
    if not s or any(c not in _CN_DIGITS and c not in _CN_POWERS for c in s):
        return None
    if all(c in _CN_DIGITS for c in s):
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total, digit, last_power = 0, None, 10_000
    for c in s:
        if c in _CN_POWERS:
            if _CN_POWERS[c] >= last_power:
                return None
            total += (1 if digit is None else digit) * _CN_POWERS[c]
            digit, last_power = None, _CN_POWERS[c]
        elif _CN_DIGITS[c] == 0:
            if digit is not None:
                return None
        elif digit is not None:
            return None  # two digits in a row after a power: 十四五
        else:
            digit = _CN_DIGITS[c]
    return total + (digit or 0)


def number_value(s: str) -> Decimal | None:
    if s[0].isdigit():
        try:
            return Decimal(s).normalize()
        except InvalidOperation:
            return None
    value = chinese_number(s)
    return None if value is None else Decimal(value)


def figures(text: str) -> list[Figure]:
    """The quantities stated in a text, in order."""
    found: list[Figure] = []
    for m in _FIGURE.finditer(text):
        first, second, unit = m["first"], m["second"], m["unit"]
        if second:  # "2—3 所", "10万—15万人": the magnitude after the range counts
            mult, end = m["mult"] or "", m.end("unit") if unit else m.end("mult")
        else:  # "3 万", "3 万多人"
            mult = (m["first_mult"] or "") + (m["mult"] or "")
            end = m.end("unit") if unit else max(m.end("first_mult"), m.end("mult"))
        if not unit and not mult:
            continue
        numbers = (first, second) if second else (first,)
        values = [number_value(n) for n in numbers]
        if any(v is None for v in values):
            continue
        if first in _NOT_A_COUNT and not mult:
            continue  # 一个中心, 一次性, 千家万户: a word, not a count
        if _NOT_AFTER.search(text[max(0, m.start() - 4) : m.start()]):
            continue
        after = text[end:]
        if (
            unit == "年"
            and not mult
            and (
                all(_is_year(n, v) for n, v in zip(numbers, values, strict=True))
                or _NOT_DURATION_YEAR.match(after)
            )
        ):
            continue  # a year (2020 年, 2021—2025 年), a grade (三年级) or a decade (1990年代)
        if (
            unit == "月"
            and not mult
            and (_DATE_AFTER_MONTH.match(after) or re.search(r"年\s*$", text[: m.start()]))
        ):
            continue  # a date (2022 年 2 月 14 日, 3 月底)
        written = _WS.sub("", text[m.start() : end]).replace("％", "%")
        found.append(Figure(written, numbers, mult + (unit or "").replace("％", "%"), m.start(), end))
    return found


def _is_year(written: str, value: Decimal | None) -> bool:
    return len(written) == 4 and value is not None and 1900 <= value <= 2099 and value == int(value)


def _numbers_in(text: str) -> set[Decimal]:
    """Every whole number of a text: 2.6 is in "2.6 万" but not in "12.6" or "2.65"."""
    values = set()
    for m in re.finditer(rf"(?<![\d.]){_NUM}", text):
        if (value := number_value(m.group())) is not None:
            values.add(value)
    return values


def _normalise(text: str) -> str:
    return _WS.sub("", text).replace("％", "%")


def unquoted_figures(text: str, quotes: list[str]) -> list[str]:
    """Figures of ``text`` that no quote states: no quote holds all of its numbers (as whole numbers) and its unit.

    A table row quote such as "人均体育场地面积\\t平方米\\t2.01\\t2.6" states 2.6 平方米."""
    # Numbers are read before removing whitespace: a table row "2.01\t2.6" holds 2.01 and 2.6, not 2.012.6.
    quoted = [(_numbers_in(q.replace("％", "%")), _normalise(q)) for q in quotes]
    missing: list[str] = []
    for f in figures(text):
        values = {number_value(n) for n in f.numbers}
        if any(values <= numbers and f.unit in q for numbers, q in quoted):
            continue
        if f.text not in missing:
            missing.append(f.text)
    return missing
