"""The proposals table: migration 0006 keeps every existing row; one proposal per message; booked under its own key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from campaign import Campaign
from store import directory, ledger
from store import proposals as store
from store.database import MIGRATIONS, Database
from store.directory import sync_campaign
from store.errors import Duplicate
from store.ledger import Line, MessageKey

T0 = dt.datetime(2023, 8, 20, 2, 0, tzinfo=dt.UTC)


def test_migration_0006_keeps_the_ledger(db_url: str, campaign: Campaign) -> None:
    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        command.downgrade(cfg, "0005")  # PostgreSQL's test databases are copies of one already at head
    # SQLite keeps times as naive UTC text, PostgreSQL as timestamptz (see store/columns.py).
    at: object = "2023-08-20 02:00:00.000000" if db.dialect == "sqlite" else T0
    with db.engine.begin() as conn:  # a ledger as the 0005 schema held it (the models are newer), 3 in units of 0.0001
        conn.execute(text(
            "INSERT INTO departments (id, key, name, short, group_name) VALUES (1, 'yjj', 'y', 'y', 'g')"))
        conn.execute(text(
            "INSERT INTO contacts (id, name, department_id, section, mobile, office, fax, email, role, active, origin,"
            " updated_at) VALUES (1, '陈明栋', 1, '', '', '', '', '', 'member', :t, 'config', :at)"
        ), {"t": True, "at": at})
        conn.execute(text(
            "INSERT INTO bookings (id, transport, chat_id, message_id, contact_id, department_id, kind, text,"
            " booked_at) VALUES (1, 't', 'c', 'before', 1, 1, 'report', '1 3', :at)"), {"at": at})
        conn.execute(text("INSERT INTO entries (booking_id, department_id, indicator, amount, booked_at)"
                          " VALUES (1, 1, 'yp1', 30000, :at)"), {"at": at})
        conn.execute(text("INSERT INTO totals (department_id, indicator, amount) VALUES (1, 'yp1', 30000)"))
    db.migrate()
    with db.session() as s:
        assert ledger.totals(s) == {(1, "yp1"): Decimal(3)}
        assert s.execute(text("SELECT COUNT(*) FROM proposals")).scalar_one() == 0
    db.dispose()


def test_one_proposal_per_message_and_one_booking_per_proposal(db_url: str, campaign: Campaign) -> None:
    db = Database(db_url)
    db.migrate()
    key = MessageKey("t", "c", "m1")
    with db.session() as s:
        sync_campaign(s, campaign, T0)
        person = next(p for p in directory.people(s) if p.name == "陈明栋")
        made = store.create(s, key=key, contact_id=person.id, department_id=person.department_id, kind="report",
                            text="屏避网站 2", lines=[Line("yp1", Decimal(2))], note="…", now=T0)
        assert made is not None
        again = store.create(s, key=key, contact_id=person.id, department_id=person.department_id, kind="report",
                             text="屏避网站 2", lines=[Line("yp1", Decimal(2))], note="…", now=T0)
        assert again is None
        assert store.decode(made.lines) == (Line("yp1", Decimal(2)),)
        booking_key = store.booking_key(made)
    for attempt in range(2):
        with db.session() as s:
            try:
                ledger.book(s, key=booking_key, contact_id=person.id, department_id=person.department_id,
                            kind="report", text="屏避网站 2", lines=[Line("yp1", Decimal(2))], now=T0)
                assert attempt == 0
            except Duplicate:
                assert attempt == 1
    with db.session() as s:
        assert ledger.totals(s) == {(person.department_id, "yp1"): Decimal(2)}
    db.dispose()
