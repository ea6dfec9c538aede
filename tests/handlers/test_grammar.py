"""The report grammar as a pure function: text in, items out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.grammar import GrammarError, clean, parse
from handlers.numbers import NumberError, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", "3"), ("1.5", "1.5"), ("1.2万", "12000"), ("三", "3"), ("十二", "12"), ("两", "2"),
        ("两千", "2000"), ("一点五", "1.5"), ("一百零五", "105"), ("三万", "30000"), ("一万二千", "12000"),
        ("二十", "20"), ("十万", "100000"), ("零点五", "0.5"),
    ],
)
def test_numbers(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "万", "点", "十百", "1.2.3", "abc", "万万", "两两", "1" * 20, "一点二点三"])
def test_not_numbers(text: str) -> None:
    with pytest.raises(NumberError):
        parse_number(text)


def one(text: str) -> tuple[str, int | None, Decimal, str | None]:
    parsed = parse(text)
    assert len(parsed.items) == 1
    item = parsed.items[0]
    return item.name, item.index, item.amount, item.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("查处网络违法案件 3", ("查处网络违法案件", None, Decimal(3), None)),
        ("查处网络违法案件3件", ("查处网络违法案件", None, Decimal(3), "件")),
        ("查处网络违法案件 三件", ("查处网络违法案件", None, Decimal(3), "件")),
        ("查处网络违法案件十二", ("查处网络违法案件", None, Decimal(12), None)),
        ("2 5", ("", 2, Decimal(5), None)),
        ("１２　３", ("", 12, Decimal(3), None)),
        ("清理网上违法违规信息 12000条", ("清理网上违法违规信息", None, Decimal(12000), "条")),
        ("网售药品违法案件处罚金额 1.5万元", ("网售药品违法案件处罚金额", None, Decimal(15000), "元")),
        ("查处网络违法案件 -1", ("查处网络违法案件", None, Decimal(-1), None)),
        ("查处网络违法案件：2", ("查处网络违法案件", None, Decimal(2), None)),
        # Chinese numerals inside names are not numbers.
        ("检查网络餐饮服务第三方平台 3", ("检查网络餐饮服务第三方平台", None, Decimal(3), None)),
        ("每月一周查网红 一次", ("每月一周查网红", None, Decimal(1), "次")),
        ("开展“每月一周查网红”执法行动2次", ("开展“每月一周查网红”执法行动", None, Decimal(2), "次")),
    ],
)
def test_one_item(text: str, expected: tuple[str, int | None, Decimal, str | None]) -> None:
    assert one(text) == expected


def test_several_items_by_any_separator() -> None:
    text = "查处网络违法案件 3，清理网上违法有害信息 5、2 1；督促互联网企业关停违法违规账号 4\n3 1 关停账号 2"
    items = parse(text).items
    assert [(i.name, i.index, int(i.amount)) for i in items] == [
        ("查处网络违法案件", None, 3), ("清理网上违法有害信息", None, 5), ("", 2, 1),
        ("督促互联网企业关停违法违规账号", None, 4), ("", 3, 1), ("关停账号", None, 2),
    ]


def test_names_with_inner_commas_stay_whole() -> None:
    name = "向公安机关、市场监管部门、网信部门和邮政部门提交网上非法交易野生动植物线索数量"
    assert one(f"{name} 3")[0] == name


def test_correction_prefix() -> None:
    parsed = parse("更正 查处网络违法案件 5")
    assert parsed.correction and parsed.items[0].amount == 5
    assert not parse("查处网络违法案件 5").correction


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("你好", "没有看到数量"),
        ("查处网络违法案件", "没有看到数量"),
        ("查处网络违法案件 3 清理", "后面缺少数量"),
        ("5", "前面缺少项目名称或序号"),
        ("3件 查处网络违法案件 2", "前面缺少项目名称或序号"),
        ("x" * 1001 + " 3", "消息太长"),
        (" ".join(["1 1"] * 61), "最多60项"),
    ],
)
def test_not_a_report(text: str, reason: str) -> None:
    with pytest.raises(GrammarError, match=reason):
        parse(text)


def test_clean_folds_width_and_drops_controls() -> None:
    assert clean("ＡＢＣ１２３\x00\u200b\x1b 4") == "ABC123 4"
    assert clean("a\nb") == "a\nb"
