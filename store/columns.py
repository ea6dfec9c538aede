"""Column types that keep the two promises of the ledger: exact amounts and aware times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

SCALE = 4  # the ledger keeps amounts in units of 0.0001: 1元 of a 万元 indicator, 1条 of 万条
_FACTOR = Decimal(10) ** SCALE


class Amount(TypeDecorator[Decimal]):
    """A Decimal stored as a scaled integer, so SQLite and PostgreSQL both sum it exactly."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_scaled(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else to_amount(value)


def to_scaled(value: Decimal) -> int:
    """The scaled integer the ledger stores for an amount; a float or a fifth decimal place is refused."""
    if not isinstance(value, Decimal):
        raise TypeError(f"amounts must be Decimal, not {type(value).__name__}")
    scaled = value * _FACTOR
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {value} has more than {SCALE} decimal places")
    return int(scaled)


def to_amount(raw: int | None) -> Decimal:
    """Turn a raw scaled integer (e.g. from an aggregate) into the Decimal it stands for."""
    return (Decimal(int(raw or 0)) / _FACTOR).quantize(Decimal(1).scaleb(-SCALE))


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored as UTC; naive values are refused, never guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        utc = value.astimezone(dt.UTC)
        # SQLite has no time zone type: store naive UTC and re-attach UTC on the way out.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
