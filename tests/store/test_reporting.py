"""An exact report's booking step on both databases: the SQLite statements and PostgreSQL's one round trip agree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app import App
from store import directory, ledger, proposals, reporting
from store.directory import Person
from store.errors import Duplicate, WouldGoNegative
from store.ledger import Booked, Line, MessageKey
from store.models import Booking, Entry, Proposal
from store.statements import Prepared

T0 = dt.datetime(2023, 8, 20, 2, 0, tzinfo=dt.UTC)
WINDOW = proposals.SAME_TEXT_WINDOW
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def person(app: App) -> Person:
    with app.db.read() as s:
        return next(p for p in directory.people(s) if p.name == "陈明栋")


def send(app: App, person: Person, message: str, text: str, lines: list[Line], *, now: dt.datetime = T0,
         chat: str = "c") -> Booked | dt.datetime:
    def job(s: Session) -> Booked | dt.datetime:
        return reporting.book_report(
            s, key=MessageKey("t", chat, message), contact_id=person.id,
            department_id=person.department_id, text=text, lines=lines, now=now,
            since=now - WINDOW)
    return app.db.write(job, person.department_id)


def counts(app: App) -> tuple[int, int]:
    with app.db.read() as s:
        return s.scalar(select(func.count(Booking.id))) or 0, s.scalar(select(func.count(Entry.id))) or 0


def test_a_report_is_booked_with_its_new_totals(app: App, person: Person) -> None:
    first = send(app, person, "m1", "1 3，2 1", [Line("yp1", Decimal(3)), Line("yp2", Decimal(1))])
    second = send(app, person, "m2", "1 2，1 4", [Line("yp1", Decimal(2)), Line("yp1", Decimal("4.5"))])
    assert isinstance(first, Booked) and first.totals == {"yp1": Decimal(3), "yp2": Decimal(1)}
    assert isinstance(second, Booked) and second.totals == {"yp1": Decimal("9.5")}
    assert counts(app) == (2, 4)
    with app.db.read() as s:
        assert ledger.totals(s) == ledger.totals(s, as_of=FAR)
        assert ledger.booking_lines(s, second.booking_id) == (Line("yp1", Decimal(2)), Line("yp1", Decimal("4.5")))


def test_the_same_text_moments_ago_is_returned_not_booked(app: App, person: Person) -> None:
    send(app, person, "m1", "1 3", [Line("yp1", Decimal(3))])
    again = send(app, person, "m2", "1 3", [Line("yp1", Decimal(3))], now=T0 + dt.timedelta(minutes=9))
    assert again == T0
    assert counts(app) == (1, 1)
    # Later than the window, in another chat, or another text: booked.
    assert isinstance(send(app, person, "m3", "1 3", [Line("yp1", Decimal(3))], now=T0 + WINDOW
                           + dt.timedelta(seconds=1)), Booked)
    assert isinstance(send(app, person, "m4", "1 3", [Line("yp1", Decimal(3))], now=T0 + WINDOW, chat="d"), Booked)
    assert isinstance(send(app, person, "m5", "1  3", [Line("yp1", Decimal(3))], now=T0 + WINDOW), Booked)
    assert counts(app) == (4, 4)


def test_a_redelivery_is_a_duplicate_even_within_the_same_text_window(app: App, person: Person) -> None:
    booked = send(app, person, "m1", "1 3", [Line("yp1", Decimal(3))])
    assert isinstance(booked, Booked)
    with pytest.raises(Duplicate) as raised:
        send(app, person, "m1", "1 3", [Line("yp1", Decimal(3))], now=T0 + dt.timedelta(seconds=5))
    assert raised.value.booking_id == booked.booking_id
    assert counts(app) == (1, 1)


def test_a_booking_drops_the_waiting_proposal_and_the_same_text_leaves_it(app: App, person: Person) -> None:
    def propose(message: str) -> None:
        with app.db.session() as s:
            proposals.create(s, key=MessageKey("t", "c", message), contact_id=person.id,
                             department_id=person.department_id, kind="report", text="三起", lines=[], note="",
                             now=T0)

    def open_ones() -> int:
        with app.db.read() as s:
            return s.scalar(select(func.count(Proposal.id)).where(Proposal.status == "open")) or 0

    send(app, person, "m1", "1 3", [Line("yp1", Decimal(3))])
    propose("p1")
    assert send(app, person, "m2", "1 3", [Line("yp1", Decimal(3))]) == T0
    assert open_ones() == 1
    assert isinstance(send(app, person, "m3", "1 4", [Line("yp1", Decimal(4))]), Booked)
    assert open_ones() == 0


def test_a_negative_total_books_nothing(app: App, person: Person) -> None:
    send(app, person, "m1", "1 3", [Line("yp1", Decimal(3))])
    with pytest.raises(WouldGoNegative) as raised:
        send(app, person, "m2", "2 1，1 -5", [Line("yp2", Decimal(1)), Line("yp1", Decimal(-5))])
    assert (raised.value.indicator, raised.value.total, raised.value.change) == ("yp1", Decimal(3), Decimal(-5))
    assert counts(app) == (1, 1)
    with app.db.read() as s:
        assert ledger.totals(s) == ledger.totals(s, as_of=FAR)
        assert ledger.find_booking(s, MessageKey("t", "c", "m2")) is None


def test_a_float_or_a_fifth_decimal_is_refused_before_any_sql(app: App, person: Person) -> None:
    with pytest.raises(TypeError):
        send(app, person, "m1", "1 0.1", [Line("yp1", 0.1)])  # type: ignore[arg-type]
    with pytest.raises(Exception, match="more than 4 decimal places"):
        send(app, person, "m2", "1 0.00001", [Line("yp1", Decimal("0.00001"))])
    assert counts(app) == (0, 0)


def test_the_statements_are_compiled_once(app: App, person: Person) -> None:
    send(app, person, "warm", "1 1", [Line("yp1", Decimal(1))])
    compiled = Prepared.compilations
    for n in range(10):
        send(app, person, f"m{n}", f"1 {n + 2}", [Line("yp1", Decimal(n + 2))])
    assert Prepared.compilations == compiled
    for statement in reporting.STATEMENTS[app.db.dialect]:
        assert app.db.dialect in statement._plans


def test_the_same_text_check_reads_the_department_s_last_minutes_not_the_contact_s_history(
        app: App, person: Person) -> None:
    """The plan, not a timing: a walk over every booking of the contact or the chat made each report slower as
    the ledger grew. Checked after ANALYZE, whose statistics made SQLite prefer the chat's unique key."""
    if app.db.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL's planner picks by statistics")
    with app.db.session() as s:  # a campaign's worth: 3,000 bookings of one department from 30 chats
        conn = s.connection()
        conn.exec_driver_sql(
            "INSERT INTO bookings (transport, chat_id, message_id, contact_id, department_id, kind, text, booked_at)"
            " VALUES (?, ?, ?, ?, ?, 'report', '1 1', ?)",
            [("t", f"c{n % 30}", f"m{n}", person.id, person.department_id,
              f"2023-08-{1 + n // 200:02d} {n % 24:02d}:00:00.000000") for n in range(3000)])
        conn.exec_driver_sql("ANALYZE")
    for statement in (reporting.BEFORE_REPORT, reporting.BOOK_REPORT_SQLITE):  # asked alone, and in the booking
        with app.db.read() as s:
            conn = s.connection()
            plan = statement.plan(conn.dialect)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            rows = cursor.execute("EXPLAIN QUERY PLAN " + plan.sql, [None] * len(plan.names)).fetchall()
        details = [str(row[-1]) for row in rows]
        same_text = [d for d in details if " b " in f" {d} "]
        assert same_text == ["SEARCH b USING INDEX ix_bookings_department_time (department_id=? AND booked_at>?)"], \
            details
