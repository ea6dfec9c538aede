"""Shared fixtures: the real campaign, a fresh database per test, a clock the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App, build_app
from campaign import Campaign, load_campaign
from tests.support import FakeClock


@pytest.fixture(scope="session")
def campaign() -> Campaign:
    return load_campaign(Path(__file__).resolve().parent.parent / "config.toml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def app(db_url: str, clock: FakeClock) -> Iterator[App]:
    built = build_app(url=db_url, clock=clock)
    yield built
    built.close()
