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

# Every unit a user may type, longest first so that 万条 wins over 条 in a regex.
TYPED_UNITS: tuple[str, ...] = tuple(
    sorted({typed for table in ACCEPTED.values() for typed in table}, key=len, reverse=True)
)


def conversion(indicator_unit: str, typed_unit: str) -> Decimal | None:
    """Return the factor from the typed unit into the indicator's unit, or None if it does not fit."""
    return ACCEPTED.get(indicator_unit, {}).get(typed_unit)
