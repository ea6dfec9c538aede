"""[[deadlines]] materials, [materials] storage and [web]: the notice's lists, and bad values fail at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign import Campaign, ConfigError, load_campaign
from campaign.materials import base_url, kind_in, kind_of, web_settings
from store import checklist

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def test_the_notice_lists(campaign: Campaign) -> None:
    by_key = {d.key: d for d in campaign.deadlines}
    assert [m.key for m in by_key["midterm"].materials] == ["summary", "table"]
    final = by_key["final"].materials
    assert [m.key for m in final] == ["summary", "table", "media", "case", "practice"]
    case = next(m for m in final if m.key == "case")
    assert (case.owed_by, case.min_count, case.includes) == ("市场监管部门", 2, ("penalty",))
    assert by_key["midterm-copy"].collection == "midterm" and by_key["final-copy"].collection == "final"
    assert campaign.storage.class_of(".PDF".lower()) is not None and campaign.storage.class_of(".exe") is None
    assert campaign.web.listen == "127.0.0.1:8090"


def test_who_owes_what(campaign: Campaign) -> None:
    final = next(d for d in campaign.deadlines if d.key == "final")
    market, trade = campaign.department("scjgj"), campaign.department("swj")
    assert [line.text for line in checklist.checklist(campaign, final, market, ["case", "penalty"])] == [
        "总结报告 0/1 未交", "统计表 0/1 未交", "图片视频资料 0/1 未交", "典型案例 1/2 未交", "行政处罚决定书 1/2 未交",
        "先进经验做法 0/1 未交"]
    lines = checklist.checklist(campaign, final, trade, ["summary", "media", "practice"])
    assert [line.key for line in lines] == ["summary", "media", "practice"] and all(line.done for line in lines)
    three = checklist.checklist(campaign, final, market, ["case"] * 3 + ["penalty"] * 2)
    assert next(line for line in three if line.key == "penalty").text == "行政处罚决定书 2/3 未交"


def test_chinese_labels_work_wherever_a_key_does() -> None:
    assert kind_of("总结报告") == kind_of("summary") == "summary"
    assert kind_of("处罚决定书") == "penalty" and kind_of("图片视频") == "media" and kind_of("其他") is None
    assert kind_in("三明市公安局中期总结报告") == "summary" and kind_in("典型案例二：刷单炒信") == "case"


def write(tmp_path: Path, old: str, new: str) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    path = tmp_path / "config.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "key", "reason"), [
    ('key = "summary"\n[[deadlines.materials]]\nkey = "table"',
     'key = "resume"\n[[deadlines.materials]]\nkey = "table"', "deadlines[0].materials[0].key", "unknown material"),
    ('owed_by = "市场监管部门"', 'owed_by = "市场监督"', "deadlines[2].materials[3].owed_by", "department group"),
    ("min_count = 2", "min_count = 0", "deadlines[2].materials[3].min_count", "from 1 to 100"),
    ('includes = ["penalty"]', 'includes = ["fine"]', "deadlines[2].materials[3].includes", "material keys"),
    ('materials_from = "midterm"', 'materials_from = "nothing"', "deadlines[1].materials_from", "another deadline"),
    ("max_mb = 20", "max_mb = 0", "materials.documents.max_mb", "megabytes"),
    ('types = [".jpg"', 'types = ["jpg"', "materials.pictures.types", "suffixes"),
    ('listen = "127.0.0.1:8090"', 'listen = "everywhere"', "web.listen", "host:port"),
    ('public_url = ""', 'public_url = "desk.example"', "web.public_url", "http"),
])
def test_bad_values_name_file_key_and_reason(tmp_path: Path, old: str, new: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_campaign(write(tmp_path, old, new))
    assert caught.value.key == key and reason in caught.value.reason and caught.value.path.endswith("config.toml")


def test_the_environment_overrides_web(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_WEB_LISTEN", "127.0.0.1:9999")
    assert base_url(web_settings(campaign.web)) == "http://127.0.0.1:9999"
    monkeypatch.setenv("BOT_WEB_PUBLIC_URL", "https://bot.example.gov.cn/")
    assert base_url(web_settings(campaign.web)) == "https://bot.example.gov.cn"
