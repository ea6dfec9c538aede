"""Numerals against a kept library: cn2an is the oracle for every integer up to 10^8 and the colloquial forms."""

from __future__ import annotations

from decimal import Decimal

import cn2an
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.numbers import VAGUE, NumberError, parse_number

COLLOQUIAL = ["一百一", "两百五", "一万二", "三千五", "1万5千", "1.2万", "十二万五", "一千零五十", "两千零五",
              "一万零一十", "三万五千", "五千零八", "九十九", "一万二千三"]


def oracle(text: str) -> Decimal:
    return Decimal(str(cn2an.cn2an(text, "smart")))


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=10**8))
def test_every_integer_up_to_10_8_reads_as_cn2an_writes_it(n: int) -> None:
    written = cn2an.an2cn(n)
    assert parse_number(written) == n == oracle(written)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=10**8))
def test_colloquial_twos_and_arabic_digits(n: int) -> None:
    # 两 for 二 before a unit, as people say it, and the Arabic number itself.
    written = cn2an.an2cn(n)
    spoken = written.replace("二千", "两千").replace("二百", "两百").replace("二万", "两万") if n >= 100 else written
    assert parse_number(spoken) == n
    assert parse_number(str(n)) == n


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=1, max_value=9999), st.integers(min_value=0, max_value=9999))
def test_mixed_arabic_and_chinese_units(high: int, low: int) -> None:
    # 1万5千, 12万3456: the Arabic digits of each section with the Chinese unit words.
    text = f"{high}万{low}" if low >= 1000 or low == 0 else f"{high}万零{low}"
    if low == 0:
        text = f"{high}万"
    assert parse_number(text) == high * 10000 + low


@pytest.mark.parametrize("text", COLLOQUIAL)
def test_colloquial_forms_read_as_the_oracle(text: str) -> None:
    assert parse_number(text) == oracle(text)


@pytest.mark.parametrize(("text", "value"), [("1,200", "1200"), ("12,000", "12000"), ("1,234,567", "1234567")])
def test_thousands_separators_in_the_loose_reader(text: str, value: str) -> None:
    from handlers.reading import arabic_with_separators

    assert arabic_with_separators(text) == Decimal(value) == oracle(text.replace(",", ""))


@pytest.mark.parametrize("text", ["十百", "万万", "万三", "百", "一千千", "1.5千", "亿亿", "12百", "1万12000"])
def test_no_reading_is_made_up(text: str) -> None:
    with pytest.raises(NumberError):
        parse_number(text)


@pytest.mark.parametrize("text", ["十几件", "几十条", "上百个", "约3件", "3件左右", "20多件", "大约五件", "近百条",
                                  "若干", "几件", "约5"])
def test_vague_figures_are_recognised(text: str) -> None:
    assert VAGUE.search(text)


@pytest.mark.parametrize("text", ["查处网络违法案件 12", "每月一周查网红 一次", "约谈平台",
                                  "检查网络餐饮服务第三方平台 3", "近一周查处网络违法案件3起", "近期检查网红店5家"])
def test_clear_figures_are_not_vague(text: str) -> None:
    assert not VAGUE.search(text)
