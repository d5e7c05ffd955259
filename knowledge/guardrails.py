"""What the bot must decline before (or instead of) answering: pure pattern checks on the question.

Declining is always safe; answering outside the two plans is not. Each check returns a reason code
and a plain-Chinese explanation the resident sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.regions import detect_elsewhere, detect_regions


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


_INJECTION = re.compile(
    r"(忽略|无视|忘掉|忘记|不要管|别管).{0,8}(指令|提示|规则|设定|要求|文件)|你现在是|扮演|system\s*prompt|系统提示|"
    r"管理员密码|后台密码|密码发|越狱|jailbreak",
    re.I,
)
_FABRICATE = re.compile(
    r"(编|捏造|虚构|杜撰|瞎写|假装|伪造).{0,12}(政策|文件|规定|通知|补贴)|写得?像真的|假的也行"
)
_PERSONAL = re.compile(
    r"(名单|花名册|联系电话|电话号码|手机号|身份证号?|家庭住址|住址|个人信息|隐私).{0,10}(导出|发我|给我|查|告诉|列出|提供)|"
    r"(导出|发我|给我|查一下|告诉我|列出|提供).{0,12}(名单|花名册|联系电话|电话号码|手机号|身份证号?|家庭住址|个人信息)"
)
_TRANSACTION = re.compile(
    r"(约|挂|预约|抢).{0,30}(专家号|号源|床位|门诊号)|挂号|约个号|代办|帮我(办|交|缴|申请|报名|提交|约)"
)
_AMOUNT = re.compile(
    r"(多少钱|多少元|几块|多少块|多少万|贷多少|能贷|发多少|给多少|补多少|报多少|金额|标准是多少|每个?月.{0,4}多少)"
)
_MONEY_FIGURE = re.compile(r"\d[\d.,，]*\s*(元|万元|亿元)")


def check_question(question: str) -> Refusal | None:
    """A refusal for requests no plan can answer: manipulation, invention, personal data, transactions, other provinces."""
    if _INJECTION.search(question):
        return Refusal("injection", "抱歉，我只能依据广西、宁夏的公共服务规划回答问题，不能执行这类指令。")
    if _FABRICATE.search(question):
        return Refusal("fabrication", "抱歉，我不能编造或改写政策。我只转述规划原文，并注明出处。")
    if _PERSONAL.search(question):
        return Refusal("personal_data", "抱歉，我不能查询或提供任何个人的信息（名单、电话、身份证号等）。")
    if _TRANSACTION.search(question):
        return Refusal("transaction", "抱歉，我不能代办、预约或挂号，只能解答规划里写明的公共服务。")
    mentioned_other = detect_elsewhere(question)
    if mentioned_other and not detect_regions(question):
        return Refusal(
            "other_region",
            f"抱歉，我只掌握广西和宁夏的“十四五”公共服务规划，没有{mentioned_other[0]}的政策信息。",
        )
    return None


def asks_for_amount(question: str) -> bool:
    return bool(_AMOUNT.search(question))


def states_money_figure(text: str) -> bool:
    return bool(_MONEY_FIGURE.search(text))
