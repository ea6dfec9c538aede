"""Numbers as office staff type them: 3, 1.5, 1.2万, 三, 十二, 两千, 一点五, 一百一, 一万二, 1万5千.

A digit after 百/千/万/亿 with no 零 between takes the next lower place, as everyone reads it:
一百一 is 110, 两百五 250, 三千五 3500, 一万二 12000, 十二万五 125000 (一百零一 stays 101).
tests/handlers/test_numbers.py checks every reading against cn2an over all integers up to 10^8.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
BIG_UNITS = {"万": 10**4, "亿": 10**8}
CHINESE_CHARS = "".join(DIGITS) + "".join(SMALL_UNITS) + "万亿点"
MAX_DIGITS = 12  # nobody books a trillion of anything; longer input is refused, not computed
MAX_CHARS = 24  # 九千九百九十九万九千九百九十九 is 15 characters
_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?|.", re.S)
# Words that make a figure vague: 十几, 几十, 上百, 约3, 3个左右, 20多, 近百. Such a figure is never booked.
_COUNTED = "件条个次家户起宗期批吨万元"
VAGUE = re.compile(
    rf"[十百千万][几多余]|几[十百千万{_COUNTED}]|上[百千万]|大约|左右|若干|好几|数[十百千]|"
    rf"[约近][0-9一二三四五六七八九十百千两.]+(?=[{_COUNTED}]|$|[,，。;；\s])|"  # 约3件, 近百条; not 近一周
    rf"[0-9][0-9,.]*[多余][{_COUNTED}]"
)


class NumberError(ValueError):
    """The text is not a number the bot can read."""


def parse_number(text: str) -> Decimal:
    """Read an Arabic, Chinese or mixed number (1万5千); raise NumberError if it is not one."""
    text = text.strip()
    if not text or len(text) > MAX_CHARS:
        raise NumberError(text)
    if "点" in text:
        return _with_point(text)
    if all(ch in DIGITS for ch in text):
        # A plain run of digits (一二三, 二〇二三) reads as 123; 两 is no digit of such a run.
        if len(text) > 1 and "两" in text:
            raise NumberError(text)
        return Decimal("".join(str(DIGITS[ch]) for ch in text))
    return _positional(text)


def _with_point(text: str) -> Decimal:
    whole, _, rest = text.partition("点")
    unit = 1
    if rest and rest[-1] in BIG_UNITS:
        unit, rest = BIG_UNITS[rest[-1]], rest[:-1]  # 一点五万 is 1.5万
    if not rest or any(ch not in DIGITS for ch in rest) or (unit > 1 and any(c in BIG_UNITS for c in whole)):
        raise NumberError(text)
    value = parse_number(whole) if whole else Decimal(0)
    if value != value.to_integral_value():
        raise NumberError(text)
    return (value + Decimal("0." + "".join(str(DIGITS[ch]) for ch in rest))) * unit


def _digit(token: str) -> Decimal:
    if token in DIGITS:
        return Decimal(DIGITS[token])
    if len(token.replace(".", "")) > MAX_DIGITS:
        raise NumberError(token)
    try:
        return Decimal(token)
    except InvalidOperation:
        raise NumberError(token) from None


def _positional(text: str) -> Decimal:
    tokens = _TOKEN.findall(text)
    total = Decimal(0)  # the 亿 part, finished
    section = Decimal(0)  # the 万 part of the current 亿 section
    small = Decimal(0)  # below 万
    digit: Decimal | None = None
    digit_token = ""
    last_small = 10**4  # small units must fall inside a section: 十百 is no number
    last_unit = 0  # the place of the unit just before a trailing digit
    zero = False  # a 零 since that unit: 一百零一 is 101, not 110
    seen_wan = False
    for tok in tokens:
        if tok in ("零", "〇"):
            if last_unit == 0 or digit is not None:
                raise NumberError(text)
            zero = True
        elif tok in SMALL_UNITS:
            unit = SMALL_UNITS[tok]
            if unit >= last_small:
                raise NumberError(text)
            if digit is None:
                if unit != 10 or small:
                    raise NumberError(text)  # only 十 may stand alone at the start of a section (十二, 二万十)
                digit = Decimal(1)
            elif digit != digit.to_integral_value() or digit >= 10:
                raise NumberError(text)  # 1.5千, 12百: no reading anyone means
            small += digit * unit
            digit, last_small, last_unit, zero = None, unit, unit, False
        elif tok in BIG_UNITS:
            part = small + _trailing(digit, digit_token, last_small if small else 0, zero, text)
            if part == 0:
                raise NumberError(text)  # 万三, 万万: a 万 with nothing before it
            if tok == "万":
                if seen_wan:
                    raise NumberError(text)
                section += part * 10**4
                seen_wan = True
            else:
                if total or seen_wan:
                    raise NumberError(text)  # 亿亿, 万亿: beyond any count
                total = part * 10**8
            small, digit, last_small, last_unit, zero = Decimal(0), None, 10**4, BIG_UNITS[tok], False
        elif tok in DIGITS or tok[0] in "0123456789":
            if digit is not None:
                raise NumberError(text)  # 三四 inside a positional number
            digit, digit_token = _digit(tok), tok
        else:
            raise NumberError(text)
    return total + section + small + _trailing(digit, digit_token, last_unit, zero, text)


def _trailing(digit: Decimal | None, token: str, last_unit: int, zero: bool, text: str) -> Decimal:
    """The last digit of a section: 一百一 -> 10, 一万二 -> 2000, 一万零二 -> 2, 1万2000 -> 2000."""
    if digit is None:
        return Decimal(0)
    if last_unit == 0 or zero:
        if last_unit and digit >= last_unit:
            raise NumberError(text)
        return digit
    if len(token) == 1 and last_unit > 1:
        return digit * (last_unit // 10)
    if digit != digit.to_integral_value() or digit >= last_unit:
        raise NumberError(text)  # 1万12000 is no number
    return digit
