"""Wiring: config, database and core, built once at start."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from bot.dispatcher import Dispatcher
from campaign import Campaign, load_campaign
from handlers.context import Clock
from handlers.core import Core, system_clock
from store.database import Database, database_url
from store.directory import sync_campaign


@dataclass
class App:
    campaign: Campaign
    db: Database
    core: Core
    clock: Clock
    # How the transports reach the core: bookings that arrive together go together (bot/dispatcher.py).
    dispatcher: Dispatcher = field(init=False)

    def __post_init__(self) -> None:
        self.dispatcher = Dispatcher(self.core)

    def now(self) -> dt.datetime:
        return self.clock()

    def close(self) -> None:
        self.db.dispose()


def check_sections(campaign: Campaign) -> None:
    """The sections other modules read, checked at start like the rest: a typo there must not wait for `run`."""
    from bot import dingtalk_settings, telegram_settings, wecom_settings  # no platform library: only key checks
    from reminders.calendar import calendar_from_config

    telegram_settings.check_section(campaign)
    wecom_settings.check_section(campaign)
    dingtalk_settings.check_section(campaign)
    calendar_from_config(campaign.sections.get("calendar"), campaign.path)


def build_app(config: Path | str | None = None, url: str | None = None, clock: Clock = system_clock) -> App:
    """Read config, open and migrate the database, seed departments and contacts."""
    campaign = load_campaign(config)
    check_sections(campaign)
    db = Database(url or database_url(campaign.database_url))
    db.migrate()
    with db.session() as s:
        db.lock_setup(s)  # several instances may start together on one PostgreSQL database
        sync_campaign(s, campaign, clock())
    return App(campaign, db, Core(campaign, db, clock), clock)
