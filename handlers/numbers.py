"""Numbers as office staff type them: 3, 1.5, 1.2万, 三, 十二, 两千, 一点五."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
CHINESE_CHARS = "".join(DIGITS) + "".join(SMALL_UNITS) + "万点"
MAX_DIGITS = 12  # nobody books a trillion of anything; longer input is refused, not computed


class NumberError(ValueError):
    """The text is not a number the bot can read."""


def parse_number(text: str) -> Decimal:
    """Read an Arabic or Chinese number; raise NumberError if it is not one."""
    text = text.strip()
    if not text:
        raise NumberError("empty")
    if text[0].isascii():
        return _arabic(text)
    return _chinese(text)


def _arabic(text: str) -> Decimal:
    factor = Decimal(1)
    if text.endswith("万"):
        factor, text = Decimal(10000), text[:-1]
    if len(text.replace(".", "")) > MAX_DIGITS or not text.replace(".", "", 1).isdigit():
        raise NumberError(text)
    try:
        return Decimal(text) * factor
    except InvalidOperation:
        raise NumberError(text) from None


def _chinese(text: str) -> Decimal:
    if len(text) > MAX_DIGITS or any(ch not in CHINESE_CHARS for ch in text):
        raise NumberError(text)
    whole, _, fraction = text.partition("点")
    if "点" in fraction or (not whole and not fraction):
        raise NumberError(text)
    value = Decimal(_chinese_integer(whole)) if whole else Decimal(0)
    if fraction:
        if any(ch not in DIGITS for ch in fraction):
            raise NumberError(text)
        value += Decimal("0." + "".join(str(DIGITS[ch]) for ch in fraction))
    return value


def _chinese_integer(text: str) -> int:
    # A plain run of digits (一二三) reads as 123; otherwise the usual 万/千/百/十 positions.
    if all(ch in DIGITS for ch in text):
        if len(text) > 1 and ("两" in text):
            raise NumberError(text)
        return int("".join(str(DIGITS[ch]) for ch in text))
    high, _, low = text.rpartition("万")
    if "万" in high:
        raise NumberError(text)
    if "万" in text and not high:
        raise NumberError(text)  # 万三: a 万 with nothing before it
    return (_below_10000(high) * 10000 if high else 0) + (_below_10000(low) if low else 0)


def _below_10000(text: str) -> int:
    total, digit, last_unit = 0, None, 10000
    for ch in text:
        if ch in DIGITS:
            if digit is not None and DIGITS[ch] != 0 and digit != 0:
                raise NumberError(text)  # 三四 inside a positional number
            digit = DIGITS[ch]
        elif ch in SMALL_UNITS:
            unit = SMALL_UNITS[ch]
            if unit >= last_unit:
                raise NumberError(text)  # 十百, 百百: units must fall
            if digit is None:
                if unit != 10 or total:
                    raise NumberError(text)  # only 十 may stand alone at the start (十二)
                digit = 1
            total += digit * unit
            digit, last_unit = None, unit
        else:
            raise NumberError(text)
    return total + (digit or 0)
