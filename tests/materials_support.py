"""A copy of config.toml with the campaign moved around today, for tests of real processes (whose clock is real):
the mid-term deadlines passed, the final one is `ahead` days away."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from campaign import load_campaign
from tests.fakes.process import PROJECT


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).astimezone(load_campaign(PROJECT / "config.toml").tz).date()


def shifted_config(folder: Path, ahead: int = 5, extra: str = "", edits: dict[str, str] | None = None) -> Path:
    t = today()
    text = (PROJECT / "config.toml").read_text(encoding="utf-8")
    for old, new in (
        ("start = 2023-08-09\nend = 2023-11-30\ntimezone",
         f"start = {t - dt.timedelta(days=100)}\nend = {t + dt.timedelta(days=ahead + 30)}\ntimezone"),
        ("date = 2023-08-20", f"date = {t - dt.timedelta(days=10)}"),
        ("date = 2023-08-25", f"date = {t - dt.timedelta(days=5)}"),
        ("date = 2023-11-20", f"date = {t + dt.timedelta(days=ahead)}"),
        ("date = 2023-11-25", f"date = {t + dt.timedelta(days=ahead + 5)}"),
        *(edits or {}).items(),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / "config.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path
