"""Config refuses what it does not know: a typo never silently keeps a default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.app import build_app
from campaign import ConfigError, load_campaign

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def _variant(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "config.toml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def _refused(path: Path, pattern: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_campaign(path)
    message = str(caught.value)
    assert str(path) in message
    assert re.search(pattern, message), message


@pytest.mark.parametrize(("old", "new", "pattern"), [
    ("max_amount = 10000", "max_amout = 5", r"limits\.max_amout: unknown key; did you mean 'max_amount'\?"),
    ('key = "midterm"\ndate', 'key = "midterm"\ndat = 2023-08-20\ndate', r"deadlines\[0\]\.dat: .*did you mean 'date'"),
    ("grace_hours = 48", "grace_hour = 48", r"reminders\.grace_hour: .*did you mean 'grace_hours'"),
    ("week = 2", "weeks = 2", r"wanghong\.weeks: .*did you mean 'week'"),
    ('[campaign]\n', '[campaign]\ntitel = "x"\n', r"campaign\.titel: .*did you mean 'title'"),
    ('[[phases]]\nname = "集中治理"', '[[phases]]\nnam = "x"\nname = "集中治理"', r"phases\[0\]\.nam: unknown key"),
    ('[reminders]', '[reminder]', r"reminder: unknown section; did you mean \[reminders\]\?"),
])
def test_unknown_keys_are_refused_with_a_did_you_mean(tmp_path: Path, old: str, new: str, pattern: str) -> None:
    _refused(_variant(tmp_path, old, new), pattern)


def test_unknown_keys_in_departments_contacts_and_indicators(tmp_path: Path) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    for old, new, pattern in (
        ("[[departments]]\n", "[[departments]]\nshrt = 'x'\n", r"departments\[0\]\.shrt: .*did you mean 'short'"),
        ("[[contacts]]\n", "[[contacts]]\nmobil = '1'\n", r"contacts\[0\]\.mobil: .*did you mean 'mobile'"),
    ):
        assert old in text
        path = tmp_path / "config.toml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        _refused(path, pattern)
    indicator = re.search(r'\{ ?key = "[^"]+"', text)
    assert indicator is not None
    path = tmp_path / "config.toml"
    path.write_text(text.replace(indicator.group(0), indicator.group(0) + ', unti = "件"', 1), encoding="utf-8")
    _refused(path, r"groups\[0\]\.indicators\[0\]\.unti: .*did you mean 'unit'")


@pytest.mark.parametrize(("old", "new", "pattern"), [
    ("offsets_days = [7, 3, 1, 0]", "offsets_days = [true]", r"reminders\.offsets_days"),
    ("max_amount = 10000", "max_amount = true", r"limits\.max_amount"),
    ("week = 2", "week = true", r"wanghong\.week"),
])
def test_bool_is_not_a_number(tmp_path: Path, old: str, new: str, pattern: str) -> None:
    _refused(_variant(tmp_path, old, new), pattern)


def test_a_phase_may_not_end_before_it_starts(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'name = "督促指导"\nstart = 2023-09-01\nend = 2023-11-30',
                    'name = "督促指导"\nstart = 2023-09-01\nend = 2023-08-30')
    _refused(path, r"phases\[1\]\.end: 2023-08-30 is before the phase's start 2023-09-01")


def test_duplicate_short_names_and_mobiles_are_refused(tmp_path: Path) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    shorts = re.findall(r'short = "([^"]+)"', text)
    path = tmp_path / "config.toml"
    path.write_text(text.replace(f'short = "{shorts[1]}"', f'short = "{shorts[0]}"', 1), encoding="utf-8")
    _refused(path, rf"departments\[1\]\.short: short name '{shorts[0]}' is already used")
    mobiles = re.findall(r'mobile = "(1\d{10})"', text)
    path.write_text(text.replace(f'mobile = "{mobiles[1]}"', f'mobile = "{mobiles[0]}"', 1), encoding="utf-8")
    _refused(path, rf"\.mobile: {mobiles[0]} is already the mobile of")


@pytest.mark.parametrize(("section", "pattern"), [
    ("[telegram]\npoll_timout = 30\n", r"telegram\.poll_timout: unknown key; did you mean 'poll_timeout'"),
    ("[telegram]\ntoken = 'x'\n", r"telegram\.token: secrets belong in the environment"),
    ("[wecom]\nmember_per_minut = 30\n", r"wecom\.member_per_minut: .*did you mean 'member_per_minute'"),
    ("[calendar]\nholidays = ['2027-01-01']\n", r"calendar\.holidays\[0\]: must be a date"),
])
def test_other_sections_are_checked_at_every_start(tmp_path: Path, section: str, pattern: str) -> None:
    """Even without a token or WeCom credentials (the console): before, a bad [calendar] was a traceback at
    `run` and an apology to 日程, and a typo in [telegram] passed until a token was set."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.read_text(encoding="utf-8") + "\n" + section, encoding="utf-8")
    with pytest.raises(ConfigError, match=pattern):
        build_app(path, f"sqlite:///{tmp_path / 'bot.db'}")
