"""The report grammar: a message becomes items of (indicator name or item number, amount, unit).

Arabic digits never occur in indicator names, so an Arabic number always ends a name. Chinese
numerals do (第三方平台, 每月一周), so a Chinese number counts only where a separator or the end
of the message follows it (with an optional unit in between).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from campaign.units import TYPED_UNITS
from handlers.numbers import CHINESE_CHARS, NumberError, parse_number

MAX_LENGTH = 1000  # characters; longer messages are refused, never half-read
MAX_ITEMS = 60
CORRECTION_WORDS = ("更正", "修正", "改为")
SEPARATORS = " \t\n\r，,、；;。.！!：:=＝"
_UNIT = "|".join(re.escape(u) for u in TYPED_UNITS)
_NUMBER = re.compile(
    rf"(?:(?P<sign>[+\-])[ \t]*)?(?:(?P<arabic>[0-9]+(?:\.[0-9]+)?万?)|(?P<chinese>[{CHINESE_CHARS}]+))"
    rf"(?:[ \t]*(?P<unit>{_UNIT}))?"
)


@dataclass(frozen=True)
class Item:
    """One requested change, before it is matched to an indicator."""

    amount: Decimal
    source: str  # the text of this item, for replies
    name: str = ""  # what the user called the indicator (empty when an item number was given)
    index: int | None = None
    unit: str | None = None
    quantity: str = ""  # the number as typed, with sign and unit: "-1", "5000元"
    wan: bool = False  # the number ends in 万 and no unit follows: on a 万元 or 万条 row it is the row's own unit


@dataclass(frozen=True)
class Parsed:
    items: tuple[Item, ...]
    correction: bool  # 更正: the amounts are the new totals


class GrammarError(ValueError):
    """The message is not a report; the text says why in Chinese."""


def clean(text: str) -> str:
    """Fold full-width forms and drop control characters, keeping line breaks."""
    if text.isascii() and text.isprintable():  # "1 3": nothing to fold or drop (NFKC leaves ASCII as it is)
        return text.strip()
    folded = unicodedata.normalize("NFKC", text)
    folded = folded.replace("\u2212", "-").replace("\u2014", "-").replace("\u2013", "-")
    return "".join(ch for ch in folded if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


def _numbers(text: str) -> list[re.Match[str]]:
    found: list[re.Match[str]] = []
    pos = 0
    while (m := _NUMBER.search(text, pos)) is not None:
        if m.group("chinese") is not None:
            end = m.end()
            if end < len(text) and text[end] not in SEPARATORS:
                pos = m.start() + 1  # a numeral inside a name, such as 第三方 or 一周
                continue
        found.append(m)
        pos = m.end()
    return found


def parse(text: str) -> Parsed:
    """Split a message into items; raise GrammarError with a Chinese reason if it is no report."""
    text = clean(text)
    if len(text) > MAX_LENGTH:
        raise GrammarError(f"消息太长了（{len(text)}字），一条最多{MAX_LENGTH}字，请分几条发送。")
    correction = False
    for word in CORRECTION_WORDS:
        if text.startswith(word):
            correction, text = True, text[len(word):].strip(SEPARATORS)
            break
    matches = _numbers(text)
    if not matches:
        raise GrammarError("没有看到数量。")
    pieces: list[tuple[str, re.Match[str]]] = []
    gaps: list[str] = []  # the raw text before each number: an item number needs a gap before its amount
    pos = 0
    for m in matches:
        gaps.append(text[pos:m.start()])
        pieces.append((gaps[-1].strip(SEPARATORS), m))
        pos = m.end()
    tail = text[pos:].strip(SEPARATORS)
    if tail:
        raise GrammarError(f"「{_short(tail)}」后面缺少数量。")
    items: list[Item] = []
    i = 0
    while i < len(pieces):
        name, m = pieces[i]
        if name:
            items.append(_item(m, name=name))
            i += 1
            continue
        nxt = pieces[i + 1] if i + 1 < len(pieces) else None
        if nxt is None or nxt[0] or not gaps[i + 1] or not _plain_integer(m):
            # "1+1" or "=1+1" is no "item amount" pair: that needs a space or separator between them.
            raise GrammarError(f"数量「{_short(m.group(0).strip())}」前面缺少项目名称或序号。")
        items.append(_item(nxt[1], index=int(m.group("arabic") or parse_number(m.group("chinese"))),
                           source=f"{m.group(0).strip()} {nxt[1].group(0).strip()}"))
        i += 2
        if len(items) > MAX_ITEMS:
            break
    if len(items) > MAX_ITEMS:
        raise GrammarError(f"一条消息最多{MAX_ITEMS}项，请分几条发送。")
    return Parsed(tuple(items), correction)


def _plain_integer(m: re.Match[str]) -> bool:
    if m.group("sign") or m.group("unit"):
        return False
    arabic = m.group("arabic")
    if arabic is not None:
        return arabic.isdigit() and len(arabic) <= 3
    try:
        value = parse_number(m.group("chinese"))
    except NumberError:
        return False
    return value == value.to_integral_value() and value < 1000


def _item(m: re.Match[str], *, name: str = "", index: int | None = None, source: str = "") -> Item:
    raw = m.group("arabic") or m.group("chinese")
    try:
        amount = parse_number(raw)
    except NumberError:
        raise GrammarError(f"「{_short(raw)}」不是一个能识别的数字。") from None
    if m.group("sign") == "-":
        amount = -amount
    quantity = m.group(0).replace(" ", "").replace("\t", "")
    return Item(amount=amount, source=source or f"{name} {quantity}".strip(), name=name, index=index,
                unit=m.group("unit"), quantity=quantity, wan=m.group("unit") is None and raw.endswith("万"))


def _short(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
