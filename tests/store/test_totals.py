"""Maintained totals are a cache of the ledger's sums: equal after any bookings, undos and corrections."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from bot.app import App
from campaign import Campaign
from store import directory, ledger
from store.database import MIGRATIONS, Database
from store.errors import Duplicate, NothingToUndo, WouldGoNegative
from store.ledger import Line, MessageKey

T0 = dt.datetime(2023, 8, 20, 2, 0, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # an as-of after everything: the ledger's own sums


def maintained_and_summed(app: App) -> tuple[dict[tuple[int, str], Decimal], dict[tuple[int, str], Decimal]]:
    with app.db.session() as s:
        return ledger.totals(s), ledger.totals(s, as_of=FAR)


def test_maintained_totals_equal_the_ledger_after_random_work(app: App) -> None:
    rng = random.Random(2023)
    with app.db.session() as s:
        people = [p for p in directory.people(s) if app.campaign.indicators_of(p.department)][:4]
    refused = 0
    for n in range(120):
        person = rng.choice(people)
        own = [i.key for i in app.campaign.indicators_of(person.department)]
        key = MessageKey("t", str(person.id), f"m{n}")
        kind = rng.choice(["report", "report", "report", "undo", "correction"])
        try:
            with app.db.session() as s:
                if kind == "undo":
                    ledger.undo_last(s, key=key, contact_id=person.id, text="撤销", now=T0)
                elif kind == "correction":  # as handlers/reports.py does it: book the difference
                    ind = rng.choice(own)
                    ledger.lock_department(s, person.department_id)
                    now = ledger.totals(s, [person.department_id], [ind]).get((person.department_id, ind),
                                                                               Decimal(0))
                    target = Decimal(rng.randint(0, 20))
                    ledger.book(s, key=key, contact_id=person.id, department_id=person.department_id,
                                kind="correction", text="更正", lines=[Line(ind, target - now)], now=T0)
                else:
                    lines = [Line(rng.choice(own), Decimal(rng.randint(-4, 9)) / rng.choice([1, 10]))
                             for _ in range(rng.randint(1, 3))]
                    ledger.book(s, key=key, contact_id=person.id, department_id=person.department_id,
                                kind="report", text="报数", lines=lines, now=T0)
        except (WouldGoNegative, NothingToUndo):
            refused += 1  # rolled back: the totals must not have moved either
        maintained, summed = maintained_and_summed(app)
        assert maintained == summed, f"after step {n} ({kind})"
    assert 0 < refused < 100  # the walk went through refusals and bookings alike
    assert any(v > 0 for v in maintained.values())


def test_a_repeated_message_changes_no_total(app: App) -> None:
    with app.db.session() as s:
        person = next(p for p in directory.people(s) if p.name == "陈明栋")
    def deliver() -> None:
        with app.db.session() as s:
            ledger.book(s, key=MessageKey("t", "c", "same"), contact_id=person.id, department_id=person.department_id,
                        kind="report", text="1 2", lines=[Line("yp1", Decimal(2))], now=T0)

    deliver()
    with pytest.raises(Duplicate):
        deliver()
    maintained, summed = maintained_and_summed(app)
    assert maintained == summed == {(person.department_id, "yp1"): Decimal(2)}


def test_migration_0004_back_fills_the_totals_from_the_ledger(db_url: str, campaign: Campaign) -> None:
    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        command.downgrade(cfg, "0003")  # PostgreSQL's test databases are copies of one already at head
    # SQLite keeps times as naive UTC text, PostgreSQL as timestamptz (see store/columns.py).
    at: object = "2023-08-20 02:00:00.000000" if db.dialect == "sqlite" else T0
    person = SimpleNamespace(id=1, department_id=1)
    with db.engine.begin() as conn:  # a department and contact as the 0003 schema held them (the models are newer)
        conn.execute(text("INSERT INTO departments (id, key, name, short, group_name) VALUES (1, 'yjj', 'y', 'y', 'g')"
                          ))
        conn.execute(text(
            "INSERT INTO contacts (id, name, department_id, section, mobile, office, fax, email, role, active, origin,"
            " updated_at) VALUES (1, '陈明栋', 1, '', '', '', '', '', 'member', :t, 'config', :at)"
        ), {"t": True, "at": at})
    with db.engine.begin() as conn:  # a ledger written before 0004, straight into the tables
        for n, amount in enumerate((30000, 50000, -20000)):
            conn.execute(text(
                "INSERT INTO bookings (id, transport, chat_id, message_id, contact_id, department_id, kind, text,"
                " booked_at) VALUES (:n, 't', 'c', :m, :c, :d, 'report', 'x', :at)"
            ), {"n": n + 1, "m": f"m{n}", "c": person.id, "d": person.department_id, "at": at})
            conn.execute(text(
                "INSERT INTO entries (booking_id, department_id, indicator, amount, booked_at)"
                " VALUES (:n, :d, 'yp1', :a, :at)"
            ), {"n": n + 1, "d": person.department_id, "a": amount, "at": at})
    db.migrate()
    with db.session() as s:
        assert ledger.totals(s) == ledger.totals(s, as_of=FAR) == {(person.department_id, "yp1"): Decimal(6)}
    db.dispose()


def test_an_undo_brings_the_total_back(app: App) -> None:
    with app.db.session() as s:
        person = next(p for p in directory.people(s) if p.name == "陈明栋")
    with app.db.session() as s:
        ledger.book(s, key=MessageKey("t", "c", "a"), contact_id=person.id, department_id=person.department_id,
                    kind="report", text="1 3", lines=[Line("yp1", Decimal(3))], now=T0)
    with app.db.session() as s:
        ledger.undo_last(s, key=MessageKey("t", "c", "u"), contact_id=person.id, text="撤销", now=T0)
    maintained, summed = maintained_and_summed(app)
    assert maintained == summed == {(person.department_id, "yp1"): Decimal(0)}
