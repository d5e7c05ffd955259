"""Personal data masking (knowledge/privacy.py): what is found, what is left alone, what the masks look like."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.privacy import find, id_check_char, luhn_ok, mask, mask_data, redact, valid_id18


def make_id(first17: str = "45010319900307123") -> str:
    """A made-up resident ID with a correct check character."""
    return first17 + id_check_char(first17)


def wrong_check(number: str) -> str:
    return number[:17] + next(c for c in "0123456789X" if c != number[17])


def make_card(prefix: str = "622202123456789", length: int = 16) -> str:
    """A made-up card number passing Luhn."""
    body = prefix[: length - 1].ljust(length - 1, "0")
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def kinds(text: str) -> list[str]:
    return [m.kind for m in find(text)]


# --------------------------------------------------------------------------------- ID numbers
def test_id_check_character_follows_iso_7064():
    assert id_check_char("11010519491231002") == "X"  # the GB 11643 example
    assert valid_id18("11010519491231002X") and valid_id18("11010519491231002x")
    assert not valid_id18("110105194912310021")


def test_valid_id_is_masked_to_its_last_four():
    number = make_id()
    assert mask(f"我的身份证号是{number}，帮我查一下") == f"我的身份证号是{'*' * 14}{number[-4:]}，帮我查一下"
    assert mask("身份证 11010519491231002x") == "身份证 " + "*" * 14 + "002X"
    spaced = f"{number[:6]} {number[6:14]} {number[14:]}"
    assert kinds(f"号码 {spaced} 谢谢") == ["id_card"]


def test_wrong_check_character_is_not_an_id():
    assert "id_card" not in kinds(f"号码{wrong_check(make_id())}")
    assert "id_card" not in kinds("号码450103199013071234")  # month 13


def test_old_15_digit_id():
    assert kinds("老身份证 110105491231002 还能用吗") == ["id_card"]
    assert mask("老身份证 110105491231002") == "老身份证 " + "*" * 11 + "1002"
    assert kinds("编号 110105491331002") == []  # month 13: not a date


# --------------------------------------------------------------------------------- phones
@pytest.mark.parametrize(
    "typed, masked",
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+8613812345678", "+86 138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("19912345678", "199****5678"),
    ],
)
def test_mobile_numbers(typed, masked):
    assert mask(f"电话{typed}，回电") == f"电话{masked}，回电"


def test_not_mobile_numbers():
    assert kinds("12345678901") == []  # 12x is no mobile prefix
    assert kinds("编号 213812345678") == []  # part of a longer number
    assert kinds("1381234567") == []  # ten digits


@pytest.mark.parametrize(
    "typed, masked",
    [
        ("0771-5551234", "0771-****234"),
        ("0771 55512345", "0771-****2345"),
        ("07715551234", "0771-****234"),
        ("010-65551234", "010-****1234"),
        ("(0951)5551234", "0951-****234"),
        ("（0951）5551234", "0951-****234"),
    ],
)
def test_landlines(typed, masked):
    assert mask(f"家里座机{typed}") == f"家里座机{masked}"


# --------------------------------------------------------------------------------- cards, e-mail
def test_bank_cards_pass_luhn():
    card = make_card()
    assert kinds(f"卡号{card}") == ["bank_card"]
    assert mask(f"卡号{card}") == f"卡号{'*' * 12}{card[-4:]}"
    grouped = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    assert mask(f"卡号 {grouped} 到账了吗") == f"卡号 {'*' * 12}{card[-4:]} 到账了吗"
    nineteen = make_card("6217000123456789012", 19)
    assert mask(nineteen) == "*" * 15 + nineteen[-4:]
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert kinds(f"卡号{bad}") == []


def test_email():
    assert mask("邮箱zhang.san@example.com，谢谢") == "邮箱z***@example.com，谢谢"
    assert mask("发到 13812345678@qq.com") == "发到 1***@qq.com"  # one value, masked as an e-mail


# --------------------------------------------------------------------------------- no false positives
@pytest.mark.parametrize(
    "text",
    [
        "到2025年，每千人口拥有3岁以下婴幼儿托位数达到4.5个",
        "请拨打12345热线咨询",
        "每千人口执业（助理）医师数 3.0 人",
        "《“十四五”规划》（2021-2025年）",
        "补助标准为每人每年1500000元，比上年提高13.5%",
        "2021 2022 2023 2024 2025 年的数据",
        "第3章第12节 0.75 20250101",
        "家庭人均收入低于 12000 元，面积 60 平方米以下",
    ],
)
def test_plan_figures_are_left_alone(text):
    assert find(text) == [] and mask(text) == text


def test_shipped_plans_contain_nothing_that_looks_personal():
    sources = Path(__file__).resolve().parents[2] / "knowledge" / "data" / "sources"
    texts = [p.read_text(encoding="utf-8") for p in sorted(sources.glob("*.txt"))]
    assert texts and all(find(t) == [] for t in texts)


# --------------------------------------------------------------------------------- redaction
def test_several_values_in_one_message_and_idempotence():
    number = make_id()
    text = f"我叫张三，身份证{number}，手机13812345678，邮箱a.b@c.cn，座机0771-5551234"
    found = find(text)
    assert [m.kind for m in found] == ["id_card", "mobile", "email", "landline"]
    assert [text[m.start : m.end] for m in found] == [m.value for m in found]
    masked = mask(text)
    assert number not in masked and "13812345678" not in masked and "a.b@c.cn" not in masked
    assert mask(masked) == masked and find(masked) == []


def test_redaction_spans_point_into_the_masked_text():
    text = f"身份证{make_id()}，电话 138 1234 5678。"
    red = redact(text)
    assert [s.kind for s in red.spans] == ["id_card", "mobile"]
    for span in red.spans:
        assert red.text[span.start : span.end] == span.masked
        assert span.value in text
    assert red.spans[1].value == "138 1234 5678"


def test_mask_data_masks_strings_inside_structures():
    data = {"note": "电话13812345678", "age": 70, "list": ["a@b.cn", 3], "flag": True}
    assert mask_data(data) == {"note": "电话138****5678", "age": 70, "list": ["a***@b.cn", 3], "flag": True}


def test_empty_and_plain_text():
    assert mask("") == "" and find("") == []
    assert mask("低保怎么申请？") == "低保怎么申请？"
