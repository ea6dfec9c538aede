"""Units of the 附件2 table and the units a user may type for each of them.

A typed unit must fit the indicator's own unit. The factor converts an amount in the typed
unit to the indicator's unit exactly (12000条 is 1.2万条, 5000元 is 0.5万元).
"""

from __future__ import annotations

from decimal import Decimal

# Indicator units whose amounts may be fractional; every other unit counts whole things.
FRACTIONAL_UNITS = frozenset({"万条", "万元", "吨"})

# indicator unit -> {typed unit: factor into the indicator unit}
ACCEPTED: dict[str, dict[str, Decimal]] = {
    "万条": {"万条": Decimal(1), "条": Decimal("0.0001")},
    "万元": {"万元": Decimal(1), "元": Decimal("0.0001"), "亿元": Decimal(10000)},
    "吨": {"吨": Decimal(1), "千克": Decimal("0.001"), "公斤": Decimal("0.001"), "kg": Decimal("0.001")},
    "条": {"条": Decimal(1)},
    "个": {"个": Decimal(1)},
    "个次": {"个次": Decimal(1), "个": Decimal(1), "次": Decimal(1)},
    "家": {"家": Decimal(1), "个": Decimal(1)},
    "件": {"件": Decimal(1), "起": Decimal(1)},
    "批次": {"批次": Decimal(1), "批": Decimal(1)},
    "次": {"次": Decimal(1)},
    "期": {"期": Decimal(1)},
    "户": {"户": Decimal(1), "家": Decimal(1)},
}

KNOWN_UNITS = frozenset(ACCEPTED)

# Words staff write for a table unit (起/宗 for 件, 家 for 个): read loosely, so a report using one is
# proposed and booked only on 确认. config.toml [units] replaces this table; an indicator's `unit_words`
# adds words for that row alone (家 for the 个次 rows that count businesses). The factor is always 1.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "件": ("起", "宗"),
    "个": ("家",),
    "个次": ("家次",),
    "户": ("家",),
    "批次": ("批",),
}
# Counting words that fit no table unit: a figure in them is named as not understood, never booked.
OTHER_COUNTERS = ("人次", "人", "份", "篇", "项", "处", "张", "台", "箱", "盒", "瓶", "万人次")

# Every unit a user may type, longest first so that 万条 wins over 条 in a regex.
TYPED_UNITS: tuple[str, ...] = tuple(
    sorted({typed for table in ACCEPTED.values() for typed in table}, key=len, reverse=True)
)


def conversion(indicator_unit: str, typed_unit: str) -> Decimal | None:
    """Return the factor from the typed unit into the indicator's unit, or None if it does not fit."""
    return ACCEPTED.get(indicator_unit, {}).get(typed_unit)
