"""The ledger on a real database: once per message, exact sums, append-only undo, as-of totals."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import StatementError

from bot.app import App
from store import directory, ledger
from store.database import Database
from store.errors import Duplicate, NothingToUndo, WouldGoNegative
from store.ledger import Line, MessageKey
from store.models import Base, Booking, Entry

T0 = dt.datetime(2023, 8, 20, 15, 59, 59, tzinfo=dt.UTC)  # 23:59:59 in Shanghai


def ids(app: App) -> tuple[int, int]:
    with app.db.session() as s:
        person = next(p for p in directory.people(s) if p.name == "陈明栋")
        return person.id, person.department_id


def book(app: App, msg: str, lines: list[Line], when: dt.datetime = T0) -> ledger.Booked:
    contact, dep = ids(app)
    with app.db.session() as s:
        return ledger.book(s, key=MessageKey("t", "c", msg), contact_id=contact, department_id=dep, kind="report",
                           text=msg, lines=lines, now=when)


def test_the_unique_key_books_a_message_once(app: App) -> None:
    book(app, "m1", [Line("yp1", Decimal(2))])
    with pytest.raises(Duplicate):
        book(app, "m1", [Line("yp1", Decimal(2))])
    with app.db.session() as s:
        assert s.scalar(select(func.count(Booking.id))) == 1
        assert s.scalar(select(func.count(Entry.id))) == 1


def test_concurrent_deliveries_of_one_message_book_once(app: App) -> None:
    results: list[str] = []

    def deliver() -> None:
        try:
            book(app, "race", [Line("yp1", Decimal(1))])
            results.append("booked")
        except Duplicate:
            results.append("duplicate")

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["booked"] + ["duplicate"] * 7
    with app.db.session() as s:
        assert sum(ledger.totals(s).values()) == 1


def test_amounts_are_exact_decimals(app: App) -> None:
    for n in range(10):
        book(app, f"d{n}", [Line("yp5", Decimal("0.1"))])
    book(app, "tiny", [Line("yp5", Decimal("0.0001"))])
    with app.db.session() as s:
        (value,) = ledger.totals(s, indicators=["yp5"]).values()
    assert value == Decimal("1.0001") and isinstance(value, Decimal)


def test_floats_and_too_fine_amounts_are_refused(app: App) -> None:
    with pytest.raises(TypeError):
        book(app, "f", [Line("yp5", 0.1)])  # type: ignore[arg-type]
    with pytest.raises(StatementError, match="more than 4 decimal places"):
        book(app, "g", [Line("yp5", Decimal("0.00001"))])


def test_all_lines_or_none(app: App) -> None:
    book(app, "a", [Line("yp1", Decimal(1))])
    with pytest.raises(WouldGoNegative):
        book(app, "b", [Line("yp2", Decimal(5)), Line("yp1", Decimal(-2))])
    with app.db.session() as s:
        assert s.scalar(select(func.count(Entry.id))) == 1
        assert ledger.find_booking(s, MessageKey("t", "c", "b")) is None


def test_undo_is_a_compensating_booking(app: App) -> None:
    contact, dep = ids(app)
    book(app, "a", [Line("yp1", Decimal(3))])
    with app.db.session() as s:
        target, booked = ledger.undo_last(s, key=MessageKey("t", "c", "u"), contact_id=contact, text="撤销", now=T0)
    assert booked.totals == {"yp1": Decimal(0)}
    with app.db.session() as s:
        kinds = [b.kind for b in s.scalars(select(Booking).order_by(Booking.id))]
        assert kinds == ["report", "undo"]
        with pytest.raises(NothingToUndo):
            ledger.undo_last(s, key=MessageKey("t", "c", "u2"), contact_id=contact, text="撤销", now=T0)


def test_totals_as_of_a_moment(app: App) -> None:
    book(app, "before", [Line("yp1", Decimal(2))], T0)
    book(app, "after", [Line("yp1", Decimal(5))], T0 + dt.timedelta(seconds=1))
    with app.db.session() as s:
        assert sum(ledger.totals(s, as_of=T0).values()) == 2
        assert sum(ledger.totals(s).values()) == 7


def test_times_come_back_aware(app: App) -> None:
    book(app, "t", [Line("yp1", Decimal(1))], dt.datetime(2023, 8, 20, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    with app.db.session() as s:
        when = s.scalar(select(Booking.booked_at))
    assert when == dt.datetime(2023, 8, 20, 1, 0, tzinfo=dt.UTC)


def test_migrations_match_the_models(app: App) -> None:
    with app.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_with_full_sync(app: App) -> None:
    if app.db.dialect != "sqlite":
        pytest.skip("SQLite pragmas; PostgreSQL commits durably by default")
    with app.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_migrate_twice_is_harmless(db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    db.migrate()
    assert {"departments", "contacts", "identities", "bookings", "entries"} <= set(inspect(db.engine).get_table_names())
    db.dispose()


def test_binding_the_same_account_concurrently(app: App) -> None:
    contact, _ = ids(app)
    errors: list[BaseException] = []

    def bind() -> None:
        try:
            with app.db.session() as s:
                directory.bind(s, transport="wecom", user_id="u1", chat_id="u1", contact_id=contact, now=T0)
        except BaseException as exc:  # the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=bind) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.db.session() as s:
        assert directory.chats_of(s, contact) == [("wecom", "u1")]
