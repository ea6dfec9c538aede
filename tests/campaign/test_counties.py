"""The counties in config: expanded from one template, checked at start, and found by any sensible name."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign import Campaign, ConfigError, load_campaign
from campaign.names import match_departments, match_unit
from campaign.scopes import city_scope, county_scope, system_scope

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
COUNTIES = ["三元区", "沙县区", "永安市", "明溪县", "清流县", "宁化县", "大田县", "尤溪县", "将乐县", "泰宁县",
            "建宁县"]
TEMPLATE = ["网信办", "市场监管局", "公安局", "商务局", "文旅局", "林业局", "邮政部门", "税务局"]


def test_eleven_counties_with_the_eight_departments_the_notice_addresses(campaign: Campaign) -> None:
    assert [c.name for c in campaign.counties] == COUNTIES
    for county in campaign.counties:
        deps = campaign.county_departments(county.key)
        assert [d.short.removeprefix(county.name) for d in deps] == TEMPLATE
        assert all(d.parent is not None and campaign.department(d.parent).county is None for d in deps)
    police = campaign.department("sanyuan-gaj")
    assert police.name == "三元区公安局" and police.group == "公安局" and police.system == "gaj"
    wx = campaign.department("sanyuan-wxb")
    assert wx.name == "三元区党委宣传部（网信办）" and wx.group == "网信部门"
    market = campaign.department("sanyuan-scjgj")
    assert market.groups == ("市场监管部门", "药品监管部门")
    assert [i.key for i in campaign.indicators_of(market.key)][:1] == ["yp1"]  # table order: 药品监管 first
    assert campaign.department("sanyuan-swj").group is None  # 商务局: no rows, still reports


@pytest.mark.parametrize(
    ("text", "near", "key"),
    [
        ("公安局", None, "gaj"),
        ("公安局", "sanyuan-wxb", "sanyuan-gaj"),  # a 三元区 contact means their own county's
        ("三元区公安局", None, "sanyuan-gaj"),
        ("三元区 公安局", None, "sanyuan-gaj"),
        ("三元公安", None, "sanyuan-gaj"),
        ("市公安局", "sanyuan-gaj", "gaj"),
        ("三明市公安局", None, "gaj"),
        ("沙县 市场监管", None, "shaxian-scjgj"),
        ("永安市林业局", None, "yongan-lyj"),
        ("宁化宣传部", None, "ninghua-wxb"),
    ],
)
def test_names_resolve_safely(campaign: Campaign, text: str, near: str | None, key: str) -> None:
    assert [d.key for d in match_departments(campaign, text, near=near)] == [key]


def test_a_name_that_fits_several_units_gives_choices(campaign: Campaign) -> None:
    found = match_departments(campaign, "宣传部")
    assert len(found) == 11 and campaign.find_department("宣传部") is None
    county = match_unit(campaign, "三元区")
    assert not isinstance(county, list) and county.key == "sanyuan"


def test_scopes_count_each_unit_once(campaign: Campaign) -> None:
    city = city_scope(campaign)
    assert len(city.members) == len(set(city.members)) == len(campaign.departments) == 99
    police = system_scope(campaign, "gaj")
    assert police.members[0] == "gaj" and len(police.members) == 12 and [p.label for p in police.parts][1] == "三元区"
    sanyuan = county_scope(campaign, "sanyuan")
    assert set(sanyuan.groups) == {"网信部门", "公安局", "林业部门", "邮政管理部门", "药品监管部门", "市场监管部门"}


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "config.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('aliases = ["沙县"]', 'aliases = ["三元"]', "counties[1].aliases", "already a name of 三元区"),
        ('aliases = ["沙县"]', 'aliases = ["海关"]', "counties[1].aliases", "already a name of 三明海关"),
        ('name = "三元区"\naliases = ["三元"]', 'name = "三元区"\naliases = ["三元"]\nmayor = "x"',
         "counties[0].mayor", "unknown key"),
        ('key = "gaj"\nparent = "gaj"', 'key = "gaj"\nparent = "nope"', "county_departments[2].parent",
         "no city department"),
        ('extra_groups = ["药品监管部门"]', 'extra_groups = ["药监"]', "county_departments[1].extra_groups",
         "no indicator group"),
        ('aliases = ["三元"]', 'aliases = ["三元"]\ndepartments = { nope = { extra_groups = [] } }',
         "counties[0].departments.nope", "no county_departments entry"),
        ('role = "admin"\n[[contacts]]\nname = "张秀齐"', 'role = "county_admin"\n[[contacts]]\nname = "张秀齐"',
         "contacts[0].role", "county department"),
    ],
)
def test_bad_county_config_names_file_key_and_reason(tmp_path: Path, old: str, new: str, key: str,
                                                     reason: str) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_campaign(path)
    assert caught.value.key == key and reason in caught.value.reason and str(path) in str(caught.value)


def test_a_county_may_change_its_market_bureau_rows(tmp_path: Path) -> None:
    override = 'aliases = ["建宁"]\ndepartments = { scjgj = { extra_groups = [] } }'
    path = _broken(tmp_path, 'aliases = ["建宁"]', override)
    changed = load_campaign(path)
    assert changed.department("jianning-scjgj").groups == ("市场监管部门",)
    assert "jianning-scjgj" not in system_scope(changed, "yjj").members
    assert changed.department("taining-scjgj").groups == ("市场监管部门", "药品监管部门")
