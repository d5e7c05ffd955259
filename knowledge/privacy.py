"""Personal data in what residents type: find it and mask it before anything is stored, logged or forwarded.

Pure functions, no I/O. What counts as personal data here:

- ``id_card``   resident ID numbers: 18 digits (birth date + ISO 7064 MOD 11-2 check character, X allowed)
                and the old 15-digit form (area + YYMMDD + sequence); spaces or dashes between the
                6-8-4 groups are accepted. An 18-digit number with a wrong check character is not an ID.
- ``mobile``    mainland mobile numbers 1[3-9]xxxxxxxxx, also 3-4-4 grouped and with +86 / 86.
- ``landline``  area code + local number: 010-12345678, 0771-5551234, (0951)5551234, 07715551234.
- ``bank_card`` 13–19 digits passing the Luhn check, plain or grouped by spaces/dashes, starting with 3–6 or 9
                (UnionPay 62…, Visa 4…, Mastercard 5…, JCB/Amex 3…, older domestic 9…): never a run of years.
- ``email``     addresses.

Plan figures never look like these: years (2025年), the 12345 hotline, ratios (3.0), amounts and periods
(2021-2025) are too short, do not start with 0/1[3-9], or fail the checksum.

Masks keep a hint an operator can recognise (``138****5678``, ``**************123X``,
``************1234``, ``a***@example.com``, ``0771-****1234``) and contain ``*``, so masking twice
changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["id_card", "mobile", "landline", "bank_card", "email"]
KINDS: tuple[Kind, ...] = ("email", "id_card", "bank_card", "mobile", "landline")  # priority on overlap
LABELS: dict[str, str] = {
    "id_card": "身份证号",
    "mobile": "手机号",
    "landline": "固定电话",
    "bank_card": "银行卡号",
    "email": "电子邮箱",
}


@dataclass(frozen=True)
class Match:
    kind: Kind
    start: int
    end: int
    value: str  # the text as typed, separators included

    @property
    def masked(self) -> str:
        return mask_value(self.kind, self.value)


@dataclass(frozen=True)
class Span:
    """Where a masked value sits in the masked text, and what it was."""

    kind: Kind
    start: int
    end: int
    masked: str
    value: str


@dataclass(frozen=True)
class Redaction:
    text: str  # the masked text
    spans: tuple[Span, ...]  # positions in ``text``, in order


# --------------------------------------------------------------------------------- checksums
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of an 18-digit resident ID."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def valid_id18(number: str) -> bool:
    return (
        len(number) == 18
        and number[:17].isdigit()
        and number[17].upper() == id_check_char(number[:17])
        and _plausible_date(number[6:14])
    )


def valid_id15(number: str) -> bool:
    return len(number) == 15 and number.isdigit() and _plausible_date("19" + number[6:12])


def _plausible_date(yyyymmdd: str) -> bool:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# --------------------------------------------------------------------------------- patterns
_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
_ID18 = re.compile(rf"{_NOT_DIGIT_BEFORE}[1-9]\d{{5}}[ -]?\d{{8}}[ -]?\d{{3}}[0-9Xx](?![0-9A-Za-z])")
_ID15 = re.compile(rf"{_NOT_DIGIT_BEFORE}[1-9]\d{{5}}[ -]?\d{{6}}[ -]?\d{{3}}{_NOT_DIGIT_AFTER}")
_CARD = re.compile(
    rf"{_NOT_DIGIT_BEFORE}[3-69](?:\d{{12,18}}|\d{{3,5}}(?:[ -]\d{{3,6}}){{2,4}}|\d{{3,5}}[ -]\d{{9,13}})"
    rf"{_NOT_DIGIT_AFTER}"
)
_MOBILE = re.compile(
    rf"(?:(?<![0-9+])\+?86[ -]?|{_NOT_DIGIT_BEFORE})1[3-9]\d(?:[ -]?\d{{4}}){{2}}{_NOT_DIGIT_AFTER}"
)
_LANDLINE = re.compile(
    rf"(?:{_NOT_DIGIT_BEFORE}0\d{{2,3}}|[(（]0\d{{2,3}}[)）])[ -]?[2-9]\d{{6,7}}{_NOT_DIGIT_AFTER}"
)
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SEPARATORS = re.compile(r"[ \-()（）]")


def _digits(value: str) -> str:
    return _SEPARATORS.sub("", value)


def _candidates(text: str) -> list[Match]:
    found: list[Match] = []
    for m in _EMAIL.finditer(text):
        found.append(Match("email", m.start(), m.end(), m.group()))
    for m in _ID18.finditer(text):
        if valid_id18(_digits(m.group())):
            found.append(Match("id_card", m.start(), m.end(), m.group()))
    for m in _ID15.finditer(text):
        if valid_id15(_digits(m.group())):
            found.append(Match("id_card", m.start(), m.end(), m.group()))
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(Match("bank_card", m.start(), m.end(), m.group()))
    for m in _MOBILE.finditer(text):
        found.append(Match("mobile", m.start(), m.end(), m.group()))
    for m in _LANDLINE.finditer(text):
        found.append(Match("landline", m.start(), m.end(), m.group()))
    return found


def find(text: str) -> list[Match]:
    """Personal data in ``text``, in order, non-overlapping (email > ID > bank card > mobile > landline)."""
    if not text:
        return []
    chosen: list[Match] = []
    for match in sorted(_candidates(text), key=lambda m: (KINDS.index(m.kind), m.start)):
        if all(match.end <= c.start or match.start >= c.end for c in chosen):
            chosen.append(match)
    return sorted(chosen, key=lambda m: m.start)


# --------------------------------------------------------------------------------- masks
def mask_value(kind: Kind, value: str) -> str:
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = _digits(value)
    if kind == "mobile":
        prefix = "+86 " if value.startswith("+") or len(digits) == 13 else ""
        core = digits[-11:]
        return f"{prefix}{core[:3]}****{core[-4:]}"
    if kind == "landline":
        area_len = 3 if digits[1] in "12" else 4  # 010, 02x; every other area code has four digits
        area, local = digits[:area_len], digits[area_len:]
        return f"{area}-****{local[4:]}"
    # id_card, bank_card: only the last four are shown
    return "*" * (len(digits) - 4) + digits[-4:].upper()


def redact(text: str) -> Redaction:
    """The masked text and, for each masked value, where its mask sits in it and what it replaced."""
    out: list[str] = []
    spans: list[Span] = []
    pos = 0
    length = 0
    for match in find(text):
        before = text[pos : match.start]
        out.append(before)
        length += len(before)
        masked = match.masked
        spans.append(Span(match.kind, length, length + len(masked), masked, match.value))
        out.append(masked)
        length += len(masked)
        pos = match.end
    out.append(text[pos:])
    return Redaction("".join(out), tuple(spans))


def mask(text: str) -> str:
    """``text`` with every personal value replaced by its mask (idempotent)."""
    return redact(text).text if text else text


def mask_data(value):
    """Every string inside a JSON-like value (dicts, lists) masked; other values unchanged."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: mask_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(v) for v in value]
    return value
