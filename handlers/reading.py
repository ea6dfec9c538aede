"""The loose reader: sentences and pasted work summaries, as staff write them, read into proposed lines.

Nothing read here is booked at once. The handler shows the lines, row by row with item numbers, and
books them only on 确认 (handlers/proposals.py). Framing words (今天, 本周, 我局, 其中, emoji) are
dropped, dates are no figures, unit words (起/宗, 家) and thousands separators (1,200) are read,
names may be shortened or misspelt (handlers/matching.py Catalogue.loose). Every figure that maps to
one of the sender's rows becomes a line; the rest are named back as not understood.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from campaign import Campaign, Indicator
from campaign.units import OTHER_COUNTERS, TYPED_UNITS, conversion
from handlers.grammar import CORRECTION_WORDS, clean
from handlers.matching import Catalogue
from handlers.numbers import NumberError, parse_number

CUMULATIVE = re.compile("截至|截止|累计|共计|总计|合计|一共|总共|累积")
QUESTION = re.compile(r"[?？]|吗|多少|是否|怎么|如何|能不能")
_DATE = re.compile(
    r"(?:\d{4}年)?\d{1,2}月(?:\d{1,2}[日号])?(?:[前底初中末]|以来|份)?|\d{1,2}[日号](?:前|以来)?|\d{4}年(?:以来)?|"
    r"\d{1,2}[:：]\d{2}|\d{1,2}(?:点|时)(?:\d{1,2}分)?(?=前|以前|之前)"
)
_SEPARATED = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d.])")
_CLAUSE = re.compile(r"[。;!?\n,]+")
_CHINESE_DIGITS = "零〇一二三四五六七八九两十百千万亿"
_RUN = re.compile(rf"[0-9.{_CHINESE_DIGITS}点]*[0-9{_CHINESE_DIGITS}]")
_PREFIX = re.compile(
    r"^(?:今天|今日|昨天|昨日|本周|上周|这周|本月|上月|本季度|近期|近日|目前|当前|截至目前|截止目前|截至|截止|至今|"
    r"[近前这上][0-9一二三四五六七八九十两]+(?:周|个月|月|天|日)(?:以来|内)?|今年|本年度|上半年|下半年|"
    r"今年以来|以来|行动以来|专项行动以来|专项行动期间|行动期间|期间|我局|我办|我队|我支队|我单位|我科|我们|全市|全局|"
    r"其中|另外|此外|同时|一共|总共|共计|累计|总计|合计|共|已经|又|还|再|并|均|新增|本次|这次|报|上报|汇报|"
    r"[、:=\s-])+"
)
_SUFFIX = re.compile(r"(?:累计|共计|总计|合计|一共|共|达到|达|数量为|数为|计|[:=\s-])+$")


@dataclass(frozen=True)
class Line:
    indicator: Indicator
    amount: Decimal  # in the indicator's unit
    source: str  # the figure as written, for the reply


@dataclass(frozen=True)
class Reading:
    lines: tuple[Line, ...] = ()
    unread: tuple[str, ...] = ()  # figures that map to none of the sender's rows, named back
    problems: tuple[str, ...] = ()  # what makes the message a refusal (fraction of a whole count, misfit unit…)
    ambiguous: bool = False  # a figure fits several rows
    cumulative: bool = False  # 截至/累计/共计: the figures may be new totals
    correction: bool = False  # 更正 …
    figures: int = 0


@dataclass(frozen=True)
class _Figure:
    name: str
    amount: Decimal
    unit: str | None
    wan: bool
    source: str


def arabic_with_separators(text: str) -> Decimal:
    """1,200 or 12,000: digits grouped by threes (only such groups are read as one number)."""
    if not _SEPARATED.fullmatch(text):
        raise NumberError(text)
    return Decimal(text.replace(",", ""))


def _units(campaign: Campaign) -> re.Pattern[str]:
    words = set(TYPED_UNITS) | set(OTHER_COUNTERS)
    words |= {w for ws in campaign.unit_synonyms.values() for w in ws}
    words |= {w for i in campaign.indicators for w in i.unit_words}
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


_unit_patterns: dict[int, tuple[Campaign, re.Pattern[str]]] = {}


def _unit_pattern(campaign: Campaign) -> re.Pattern[str]:
    cached = _unit_patterns.get(id(campaign))
    if cached is None or cached[0] is not campaign:
        cached = (campaign, _units(campaign))
        _unit_patterns[id(campaign)] = cached
    return cached[1]


def _plain(text: str) -> str:
    """Drop emoji and other symbols; keep letters, digits and punctuation."""
    return "".join(" " if unicodedata.category(ch) in ("So", "Sk", "Cs", "Co") or ch == "\ufe0f" else ch for ch in text)


def figures(text: str, campaign: Campaign) -> tuple[list[_Figure], bool, bool]:
    """Every figure in the text with the words before it: (figures, cumulative, correction)."""
    text = _plain(clean(text))
    correction = False
    for word in CORRECTION_WORDS:
        if text.startswith(word):
            correction, text = True, text[len(word):]
            break
    cumulative = CUMULATIVE.search(text) is not None
    text = _DATE.sub(" ", text)
    text = _SEPARATED.sub(lambda m: m.group(0).replace(",", ""), text)
    units = _unit_pattern(campaign)
    found: list[_Figure] = []
    for clause in _CLAUSE.split(text):
        pos = 0
        name_before = ""
        for m in _RUN.finditer(clause):
            if m.start() < pos:
                continue
            raw = m.group(0).lstrip(".点")
            after = clause[m.end():]
            unit_m = units.match(after.lstrip(" \t"))
            arabic = any(ch.isdigit() for ch in raw)
            rest = after.lstrip(" \t")[unit_m.end():] if unit_m else after
            if not arabic and unit_m is None and rest.strip(" \t、"):
                continue  # a numeral inside a name: 第三方, 每月一周
            try:
                amount = parse_number(raw)
            except NumberError:
                continue
            unit = unit_m.group(0) if unit_m else None
            end = m.end() + (len(after) - len(after.lstrip(" \t")) + unit_m.end() if unit_m else 0)
            name = _frame(clause[pos:m.start()]) or name_before  # 侵权货物3批次、12件: the same row's name
            found.append(_Figure(name, amount, unit, unit is None and raw.endswith("万"),
                                 clause[pos:end].strip(" 、")))
            name_before, pos = name, end
    return found, cumulative, correction


def _frame(name: str) -> str:
    """Strip the framing words around a name: 今天查处… -> 查处…, 本周我局… -> …, …累计 -> …."""
    previous = None
    name = name.replace("了", "").strip(" \t、:")
    while previous != name:
        previous = name
        name = _SUFFIX.sub("", _PREFIX.sub("", name))
    return name


def read(text: str, campaign: Campaign, catalogue: Catalogue, department: str = "本单位") -> Reading:
    """Read every figure of a message against the sender's own rows."""
    found, cumulative, correction = figures(text, campaign)
    lines: list[Line] = []
    unread: list[str] = []
    problems: list[str] = []
    ambiguous = False
    hint = ""
    for fig in found:
        if not fig.name:
            unread.append(fig.source)
            continue
        res = catalogue.resolve(fig.name, fig.unit if fig.unit in TYPED_UNITS else None, suggest=False)
        candidates = (res.match,) if res.match is not None else res.candidates or res.unit_misfit
        if not candidates:
            loose = catalogue.loose(fig.name, hint)
            if loose.elsewhere is not None:
                where = (f"「{fig.source}」是{loose.elsewhere.group}的项目，"
                         f"{department}只能填报本单位的项目（发“指标”查看）")
                (problems if len(found) == 1 else unread).append(where)
                continue
            candidates = (loose.match,) if loose.match is not None else loose.candidates
        elif len(candidates) > 1:
            candidates = catalogue.consistent(fig.name, candidates, hint) or candidates
        hint += fig.name
        fitting = tuple(i for i in candidates if _factor(campaign, i, fig) is not None)
        if not candidates:
            unread.append(fig.source)
        elif not fitting:
            ind = candidates[0]
            problems.append(f"「{fig.source}」：{ind.name}的单位是{ind.unit}，不能用{fig.unit}。")
        elif len(fitting) > 1:
            ambiguous = True
            unread.append(f"{fig.source}（对应{len(fitting)}个项目）")
        else:
            ind = fitting[0]
            factor = _factor(campaign, ind, fig)
            assert factor is not None
            value = fig.amount * factor
            if not ind.fractional and value != value.to_integral_value():
                problems.append(f"「{fig.source}」：{ind.name}按{ind.unit}计，只能填整数。")
                continue
            exponent = value.normalize().as_tuple().exponent
            if isinstance(exponent, int) and -exponent > campaign.limits.decimal_places:
                places = campaign.limits.decimal_places
                problems.append(f"「{fig.source}」：最多保留{places}位小数（单位：{ind.unit}）。")
                continue
            lines.append(Line(ind, value.normalize() if value == value.to_integral_value() else value, fig.source))
    return Reading(tuple(lines), tuple(unread), tuple(problems), ambiguous, cumulative, correction, len(found))


def _factor(campaign: Campaign, ind: Indicator, fig: _Figure) -> Decimal | None:
    unit = fig.unit
    if unit is None:
        return Decimal("0.0001") if fig.wan and ind.unit.startswith("万") else Decimal(1)
    exact = conversion(ind.unit, unit)
    if exact is not None:
        return exact
    return Decimal(1) if campaign.unit_fits_loosely(ind, unit) else None
