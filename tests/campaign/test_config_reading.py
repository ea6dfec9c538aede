"""Caps per unit and per indicator, and unit words, are config: checked at start, naming key and reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from campaign import Campaign, ConfigError, load_campaign

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def test_caps_and_unit_words_from_config(campaign: Campaign) -> None:
    limits = campaign.limits
    assert limits.cap(campaign.indicator("ga4")) == Decimal(50000)  # 条: 12000条 is a normal report
    assert limits.cap(campaign.indicator("sc14")) == Decimal(100)  # 万元
    assert limits.cap(campaign.indicator("ga1")) == limits.max_amount == Decimal(10000)
    assert campaign.unit_fits_loosely(campaign.indicator("ga1"), "宗")
    assert campaign.unit_fits_loosely(campaign.indicator("sc17"), "家")  # a 个次 row that counts shops
    assert not campaign.unit_fits_loosely(campaign.indicator("sc2"), "家")  # 责令整改网站: websites
    assert not campaign.unit_fits_loosely(campaign.indicator("ga1"), "吨")


def write(tmp_path: Path, old: str, new: str) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "c.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_per_indicator_cap_wins(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, "per_indicator = {}", "per_indicator = { ga1 = 50 }"))
    assert campaign.limits.cap(campaign.indicator("ga1")) == Decimal(50)


@pytest.mark.parametrize(("old", "new", "key", "reason"), [
    ("per_indicator = {}", "per_indicator = { zz9 = 5 }", "limits.per_indicator.zz9", "unknown indicator key"),
    ("per_indicator = {}", "per_indicator = { ga1 = 0 }", "limits.per_indicator.ga1", "must be a number above 0"),
    ('"条" = 50000,', '"斤" = 50000,', "limits.per_unit.斤", "unknown unit"),
    ('"件" = ["起", "宗"]', '"件" = "起"', "units.件", "must be a list of non-empty strings"),
    ('"件" = ["起", "宗"]', '"斤" = ["起"]', "units.斤", "unknown unit"),
])
def test_bad_values_name_key_and_reason(tmp_path: Path, old: str, new: str, key: str, reason: str) -> None:
    path = write(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_campaign(path)
    assert f"{path}: {key}: {reason}" in str(err.value)
