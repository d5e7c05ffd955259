"""What a resident already said in the conversation, as profile facts for the eligibility form (pure).

"我在南宁，准备要孩子了" followed by "帮我看看能不能享受" must not be asked where they live or whether they
plan a child. Only plain statements count (a question "怀孕了能领什么" says nothing about the resident, but
"老婆刚怀孕" does); later statements win, so a correction ("不对，是我爸，他七十了") overrides.
"""

from __future__ import annotations

import re
from typing import Any

from knowledge.catalogue.normalize import chinese_number

_NOT_YET = r"(?<!准备)(?<!打算)(?<!想)(?<!计划)(?<!要是)(?<!如果)"
_PREGNANT = re.compile(rf"{_NOT_YET}(刚怀孕|怀孕了|怀上了|怀上|有喜了|怀了|正在怀孕|已经怀孕|怀着)")
_PLANNING_CHILD = re.compile(
    r"准备要孩子|准备要娃|打算要孩子|想要个孩子|想要孩子|要二胎|要三胎|在备孕|正在备孕|准备怀孕|计划怀孕|备孕"
)
_PLANNING_MARRIAGE = re.compile(
    r"准备结婚|快结婚|要结婚了|打算结婚|准备领证|快领证|要领证|下个月结婚|年底结婚"
)
_NUM = r"\d{1,3}|[一二两三四五六七八九十百]{1,4}"
_AGE = re.compile(
    rf"(我|俺|本人|我爸|我妈|我爷爷|我奶奶|老人|老人家|他|她)(今年|都|已经)?({_NUM})(周岁|岁|了)"
)
_ASKING = re.compile(r"[吗么嘛？?]|能不能|可不可以|有没有|什么|啥|哪|怎么|咋|多少")


def _statement(sentence: str) -> bool:
    return not _ASKING.search(sentence)


def profile_hints(messages: list[str], region: str | None = None) -> dict[str, Any]:
    """Profile fields stated in the resident's messages (oldest first); ``region`` is the region the
    conversation settled on from a place the resident named, taken as where they live."""
    hints: dict[str, Any] = {}
    if region in ("guangxi", "ningxia"):
        hints["residence_region"] = region
    for message in messages:
        for sentence in re.split(r"[，,。！!；;？?\n]", message):
            if _PLANNING_MARRIAGE.search(sentence):
                hints["planning_marriage"] = True
            if _PLANNING_CHILD.search(sentence):
                hints["planning_pregnancy"] = True
            if _PREGNANT.search(sentence) and _statement(sentence):
                hints["pregnant"] = True
            for m in _AGE.finditer(sentence):
                value = int(m.group(3)) if m.group(3).isdigit() else chinese_number(m.group(3))
                if value is not None and 0 < value <= 120 and (m.group(4) != "了" or value >= 10):
                    hints["age"] = value
    return hints
