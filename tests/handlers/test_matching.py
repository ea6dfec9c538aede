"""Which indicator a name means: exact, alias, unique part, unit; never a silent guess."""

from __future__ import annotations

from campaign import Campaign
from handlers.matching import Catalogue, normalize, split_unit


def catalogue(campaign: Campaign, department: str) -> Catalogue:
    return Catalogue(campaign.indicators_of(department), campaign.indicators)


def test_exact_name_alias_and_unique_part(campaign: Campaign) -> None:
    police = catalogue(campaign, "gaj")
    assert police.resolve("查处网络违法案件", None).match == campaign.indicator("ga1")
    assert police.resolve("关停账号", None).match == campaign.indicator("ga2")
    assert police.resolve("有害信息", None).match == campaign.indicator("ga4")


def test_the_unit_decides_between_the_two_postal_rows(campaign: Campaign) -> None:
    customs = catalogue(campaign, "hg")
    both = customs.resolve("寄递渠道查获侵权货物", None)
    assert both.match is None and [i.key for i in both.candidates] == ["hg1", "hg2"]
    assert customs.resolve("寄递渠道查获侵权货物", "批次").match == campaign.indicator("hg1")
    assert customs.resolve("寄递渠道查获侵权货物", "批").match == campaign.indicator("hg1")
    assert customs.resolve("寄递渠道查获侵权货物", "件").match == campaign.indicator("hg2")
    assert customs.resolve("侵权货物", "件").match == campaign.indicator("hg2")


def test_shared_parts_are_never_guessed(campaign: Campaign) -> None:
    market = catalogue(campaign, "scjgj")
    for part in ("罚没款", "回头看", "网红店", "案件"):
        outcome = market.resolve(part, None)
        assert outcome.match is None and len(outcome.candidates) >= 2, part
    drugs = catalogue(campaign, "yjj")
    assert len(drugs.resolve("处罚金额", None).candidates) == 3
    assert len(drugs.resolve("移送公安机关", None).candidates) == 3


def test_both_spellings_of_the_typo_match(campaign: Campaign) -> None:
    drugs = catalogue(campaign, "yjj")
    spellings = (
        "移送公安机关的网售医疗器械违违法案件",
        "移送公安机关的网售医疗器械违法案件",
        "移送公安机关网售医疗器械违法案件",
    )
    for text in spellings:
        assert drugs.resolve(text, None).match == campaign.indicator("yp9"), text
    market = catalogue(campaign, "scjgj")
    printed = "“回头看”检查网络餐饮服务第三平台和入网餐饮服务提供者"
    assert market.resolve(printed, None).match == campaign.indicator("sc15")


def test_a_label_copied_from_the_list_carries_its_unit(campaign: Campaign) -> None:
    web = catalogue(campaign, "wxb")
    assert web.resolve("清理网上违法违规信息（万条）", None).match == campaign.indicator("wx1")
    customs = catalogue(campaign, "hg")
    assert customs.resolve("寄递渠道查获侵权货物（件）", None).match == campaign.indicator("hg2")
    assert customs.resolve("寄递渠道查获侵权货物(批次)", None).match == campaign.indicator("hg1")
    telecom = catalogue(campaign, "txb")
    assert telecom.resolve("处置违法违规互联网应用(网站、APP等)（家）", None).match == campaign.indicator("dx1")


def test_a_unit_that_does_not_fit(campaign: Campaign) -> None:
    outcome = catalogue(campaign, "gaj").resolve("查处网络违法案件", "吨")
    assert outcome.match is None and outcome.unit_misfit == (campaign.indicator("ga1"),)


def test_another_departments_indicator_is_named(campaign: Campaign) -> None:
    outcome = catalogue(campaign, "lyj").resolve("查处网络违法案件", None)
    assert outcome.match is None and outcome.elsewhere == campaign.indicator("ga1")


def test_suggestions_for_near_misses(campaign: Campaign) -> None:
    outcome = catalogue(campaign, "scjgj").resolve("网络餐饮罚款", None)
    assert outcome.match is None
    assert campaign.indicator("sc14") in outcome.suggestions


def test_by_index(campaign: Campaign) -> None:
    police = catalogue(campaign, "gaj")
    assert police.by_index(1) == campaign.indicator("ga1")
    assert police.by_index(0) is None and police.by_index(5) is None


def test_normalize_and_split_unit() -> None:
    assert normalize("“回头看” 检查 的") == "回头看检查"
    assert normalize("违违法") == "违法"
    assert split_unit("查处网络违法案件（件）") == ("查处网络违法案件", "件")
    assert split_unit("处置违法违规互联网应用(网站、APP等)") == ("处置违法违规互联网应用(网站、APP等)", None)
