"""config.toml holds the notice; a bad config fails at start naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign import Campaign, ConfigError, load_campaign
from campaign.phones import is_mobile, normalize_phone

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def test_the_notice_in_numbers(campaign: Campaign) -> None:
    assert len([d for d in campaign.departments if d.county is None]) == 11
    assert len(campaign.counties) == 11 and len(campaign.departments) == 11 + 11 * 8
    assert len(campaign.contacts) == 12
    assert len(campaign.indicators) == 58
    assert [g.name for g in campaign.groups] == [
        "网信部门", "电信主管部门", "公安局", "海关", "林业部门", "邮政管理部门", "药品监管部门", "市场监管部门",
    ]
    assert [len(g.indicators) for g in campaign.groups] == [2, 1, 4, 3, 2, 1, 10, 35]


def test_every_indicator_has_a_unit_and_table_order_numbers(campaign: Campaign) -> None:
    for group in campaign.groups:
        assert [i.no for i in group.indicators] == list(range(1, len(group.indicators) + 1))
    labels = [i.label for i in campaign.indicators]
    assert labels[0] == "清理网上违法违规信息（万条）"
    assert labels[-1] == "列入严重违法失信名单经营主体（户）"
    assert len(set(labels)) == 58
    # The two 寄递 rows differ only by unit.
    assert [i.unit for i in campaign.indicators if i.name == "寄递渠道查获侵权货物"] == ["批次", "件"]
    assert {i.unit for i in campaign.indicators if i.fractional} == {"万条", "万元", "吨"}


def test_market_regulation_block_ends_with_twenty_wanghong_and_case_rows(campaign: Campaign) -> None:
    market = campaign.group("市场监管部门")
    assert market is not None
    assert market.indicators[15].name == "开展“每月一周查网红”执法行动"
    assert len(market.indicators[15:]) == 20


def test_departments_fill_their_groups(campaign: Campaign) -> None:
    filled = {d.short: d.group for d in campaign.departments if d.county is None}
    assert filled["市公安局"] == "公安局"
    assert filled["三明海关"] == "海关"
    assert filled["市市场监管局"] == "市场监管部门"
    assert filled["市商务局"] is None and filled["市文旅局"] is None and filled["市税务局"] is None
    assert sorted(g for g in filled.values() if g) == sorted(g.name for g in campaign.groups)


def test_contacts_are_cleaned(campaign: Campaign) -> None:
    by_name = {c.name: c for c in campaign.contacts}
    assert by_name["伊贤琦"].mobile == "13906983469"
    assert by_name["伊贤琦"].office == "0598-5106366"
    assert by_name["伊贤琦"].fax == "0598-5106388"
    assert by_name["王永辉"].office == "0598-8289060" and by_name["王永辉"].mobile == ""
    assert {c.name for c in campaign.contacts if c.is_admin} == {"王永辉", "张秀齐"}
    assert by_name["陈彬"].section == "野生动植物与湿地保护中心"
    assert all(is_mobile(c.mobile) for c in campaign.contacts if c.mobile)


def test_deadlines_and_dates(campaign: Campaign) -> None:
    assert [str(d.date) for d in campaign.deadlines] == ["2023-08-20", "2023-08-25", "2023-11-20", "2023-11-25"]
    assert [d.audience for d in campaign.deadlines] == ["all", "city", "all", "city"]
    assert str(campaign.issued) == "2023-08-09"
    assert campaign.wanghong.week == 2
    assert str(campaign.tz) == "Asia/Shanghai"


def test_find_department_by_any_name(campaign: Campaign) -> None:
    for text in ("公安局", "市公安局", "三明市公安局", "gaj"):
        found = campaign.find_department(text)
        assert found is not None and found.key == "gaj"
    assert campaign.find_department("不存在的局") is None


@pytest.mark.parametrize(
    ("raw", "phone"),
    [("+86 139 0698 3469", "13906983469"), ("0086-13906983469", "13906983469"),
     ("１３９０６９８３４６９", "13906983469")],
)
def test_phone_normalisation(raw: str, phone: str) -> None:
    assert normalize_phone(raw) == phone


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "config.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('unit = "万条"', 'unit = "斤"', "groups[0].indicators[0].unit", "unknown unit"),
        ('department = "gaj"', 'department = "nope"', "contacts[3].department", "no department"),
        ("date = 2023-08-20", 'date = "8月20日"', "deadlines[0].date", "must be a date"),
        ("date = 2023-08-20", "date = 2024-08-20", "deadlines[0].date", "within campaign"),
        ("week = 2", "week = 9", "wanghong.week", "from 1 to 5"),
        ('mobile = "13666987053"', 'mobile = "1366698"', "contacts[3].mobile", "11-digit"),
        ('time = "09:00"', 'time = "9点"', "reminders.time", "time like"),
        ('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"', "campaign.timezone", "unknown time zone"),
        ("[limits]", "[limitz]", "limitz", "unknown section"),
    ],
)
def test_bad_values_name_file_key_and_reason(tmp_path: Path, old: str, new: str, key: str, reason: str) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_campaign(path)
    assert caught.value.path == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)


def test_missing_file_and_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_campaign(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[campaign\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="syntax"):
        load_campaign(bad)


def test_bot_config_points_at_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = _broken(tmp_path, 'table_title = "三明市2023年网络市场监管行动情况统计表"', 'table_title = "测试表"')
    monkeypatch.setenv("BOT_CONFIG", str(other))
    assert load_campaign().table_title == "测试表"
