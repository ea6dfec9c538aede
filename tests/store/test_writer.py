"""The group-commit writer on a real database: batches share a transaction, refusals and failures stay local."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.app import App
from store import directory, ledger
from store.directory import Person
from store.errors import Duplicate, StoreUnavailable, WouldGoNegative
from store.ledger import Booked, Line, MessageKey
from store.models import Booking, Entry
from store.writer import Pending

T0 = dt.datetime(2023, 8, 20, 2, 0, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def person(app: App) -> Person:
    with app.db.read() as s:
        return next(p for p in directory.people(s) if p.name == "陈明栋")


def report(person: Person, message: str, amount: int, indicator: str = "yp1") -> Callable[[Session], Booked]:
    def job(s: Session) -> Booked:
        return ledger.book(s, key=MessageKey("t", "c", message), contact_id=person.id,
                           department_id=person.department_id, kind="report", text=message,
                           lines=[Line(indicator, Decimal(amount))], now=T0)
    return job


def counts(app: App) -> tuple[int, int]:
    with app.db.read() as s:
        return s.scalar(select(func.count(Booking.id))) or 0, s.scalar(select(func.count(Entry.id))) or 0


def outcome(item: Pending[Any]) -> object:
    assert item.done
    try:
        return item.outcome()
    except Exception as exc:  # the refusal is the outcome
        return exc


def assert_totals_match_ledger(app: App) -> None:
    with app.db.read() as s:
        assert ledger.totals(s) == ledger.totals(s, as_of=FAR)


def test_a_batch_books_the_good_reports_and_refuses_the_others_alone(app: App, person: Person) -> None:
    app.db.write(report(person, "earlier", 2))
    batch = [
        Pending(report(person, "good-1", 3)),
        Pending(report(person, "earlier", 2)),  # a redelivery of a booked message
        Pending(report(person, "minus", -100)),  # would take the total below zero
        Pending(report(person, "good-2", 4, "yp2")),
        Pending(report(person, "good-1", 3)),  # the same message twice in one batch
        Pending(report(person, "good-3", -1)),  # a decrease that fits
    ]
    before = app.db.writer.batches, app.db.writer.fallbacks
    app.db.writer.run_batch(batch)
    assert (app.db.writer.batches, app.db.writer.fallbacks) == (before[0] + 1, before[1])  # one transaction
    results = [outcome(item) for item in batch]
    assert isinstance(results[0], Booked) and results[0].totals == {"yp1": Decimal(5)}
    assert isinstance(results[1], Duplicate)
    assert isinstance(results[2], WouldGoNegative) and results[2].total == Decimal(5)
    assert isinstance(results[3], Booked) and results[3].totals == {"yp2": Decimal(4)}
    assert isinstance(results[4], Duplicate) and results[4].booking_id == results[0].booking_id
    assert isinstance(results[5], Booked) and results[5].totals == {"yp1": Decimal(4)}
    assert counts(app) == (4, 4)  # earlier, good-1, good-2, good-3: nothing of the refused ones
    with app.db.read() as s:
        assert ledger.find_booking(s, MessageKey("t", "c", "minus")) is None
        assert ledger.totals(s, [person.department_id]) == {
            (person.department_id, "yp1"): Decimal(4), (person.department_id, "yp2"): Decimal(4)}
    assert_totals_match_ledger(app)


def test_an_unexpected_error_rolls_the_batch_back_and_books_one_by_one(app: App, person: Person) -> None:
    calls: list[str] = []

    def broken(s: Session) -> Booked:
        report(person, "broken", 7)(s)  # half-written when it fails: the rollback must take this back
        raise RuntimeError("a bug")

    def flaky(s: Session) -> Booked:
        calls.append("flaky")
        if len(calls) == 1:
            raise RuntimeError("fails in the batch only")
        return report(person, "flaky", 5)(s)

    # "a" is booked, then flaky fails the batch: the rollback takes "a" back, and all four run alone.
    batch = [Pending(report(person, "a", 1)), Pending(flaky), Pending(report(person, "b", 2)), Pending(broken)]
    fallbacks = app.db.writer.fallbacks
    app.db.writer.run_batch(batch)
    assert app.db.writer.fallbacks == fallbacks + 1
    results = [outcome(item) for item in batch]
    assert all(isinstance(r, Booked) for r in results[:3])
    assert isinstance(results[3], RuntimeError)  # only its own caller hears of the bug
    assert calls == ["flaky", "flaky"]
    with app.db.read() as s:
        assert ledger.find_booking(s, MessageKey("t", "c", "broken")) is None
        assert ledger.totals(s, [person.department_id]) == {(person.department_id, "yp1"): Decimal(8)}
    assert counts(app) == (3, 3)
    assert_totals_match_ledger(app)


def test_reports_that_arrive_together_share_one_commit_and_each_gets_its_answer(app: App, person: Person) -> None:
    others = 12
    queued = threading.Event()
    release = threading.Event()
    writer = app.db.writer
    writer.on_queue = lambda waiting: queued.set() if waiting == others else None

    def first(s: Session) -> Booked:
        booked = report(person, "first", 1)(s)
        assert release.wait(30)  # hold the writer until everybody else is waiting
        return booked

    answers: dict[str, object] = {}

    def send(name: str, job: Callable[[Session], Booked]) -> None:
        try:
            answers[name] = app.db.write(job, person.department_id)
        except Exception as exc:
            answers[name] = exc

    leader = threading.Thread(target=send, args=("first", first))
    batches = writer.batches
    leader.start()
    threads = [threading.Thread(target=send, args=(f"r{n}", report(person, f"r{n}", 1))) for n in range(others)]
    threads.append(threading.Thread(target=send, args=("dup", report(person, "r0", 1))))
    others += 1
    for t in threads:
        t.start()
    assert queued.wait(30)
    release.set()
    for t in [leader, *threads]:
        t.join(30)
    writer.on_queue = None
    assert writer.batches == batches + 2  # the leader's own transaction, then all the others in one
    booked = [a for a in answers.values() if isinstance(a, Booked)]
    assert len(booked) == others and sum(isinstance(a, Duplicate) for a in answers.values()) == 1
    assert sorted(b.totals["yp1"] for b in booked) == [Decimal(n) for n in range(1, others + 1)]
    assert counts(app) == (others, others)
    assert_totals_match_ledger(app)


def test_a_refusal_before_any_write_costs_the_batch_nothing_and_one_after_a_write_runs_it_again(
        app: App, person: Person) -> None:
    writer = app.db.writer
    writer.run_batch([Pending(report(person, "seen", 1))])
    reruns = writer.reruns
    early = [Pending(report(person, "x1", 2)), Pending(report(person, "seen", 1)), Pending(report(person, "x2", 3))]
    writer.run_batch(early)  # the redelivery is found by its look-up, before it writes
    assert writer.reruns == reruns
    third = outcome(early[2])
    assert isinstance(outcome(early[1]), Duplicate) and isinstance(third, Booked)
    assert third.totals == {"yp1": Decimal(6)}
    late = [Pending(report(person, "y1", 1)), Pending(report(person, "y2", -100)), Pending(report(person, "y3", 1))]
    writer.run_batch(late)  # the negative total shows only after the UPDATE: that job's rows must go
    # SQLite counts changed rows, so only this batch runs again with SAVEPOINTs; PostgreSQL always has them.
    assert writer.reruns == reruns + (app.db.dialect == "sqlite")
    third = outcome(late[2])
    assert isinstance(outcome(late[1]), WouldGoNegative) and isinstance(third, Booked)
    assert third.totals == {"yp1": Decimal(8)}
    assert counts(app) == (5, 5)
    assert_totals_match_ledger(app)


def test_booking_statements_are_compiled_once(app: App, person: Person) -> None:
    from store.statements import Prepared

    app.db.write(report(person, "warm", 2))
    with pytest.raises(Duplicate):
        app.db.write(report(person, "warm", 2))  # the duplicate path's look-up, compiled here
    compiled = Prepared.compilations
    for n in range(20):
        app.db.write(report(person, f"m{n}", 1, "yp1" if n % 2 else "yp2"))
    with pytest.raises(Duplicate):
        app.db.write(report(person, "m3", 1))
    with app.db.session() as s:
        ledger.undo_last(s, key=MessageKey("t", "c", "u"), contact_id=person.id, text="撤销", now=T0)
    assert Prepared.compilations == compiled  # twenty bookings later: nothing compiled again
    for statement in ledger.BOOKING_STATEMENTS[app.db.dialect]:
        assert app.db.dialect in statement._plans


def test_a_lost_database_fails_the_batch_at_once_without_one_by_one(app: App, person: Person) -> None:
    def locked(s: Session) -> Booked:
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    batch = [Pending(report(person, "a", 1)), Pending(locked), Pending(report(person, "b", 1))]
    fallbacks = app.db.writer.fallbacks
    app.db.writer.run_batch(batch)
    assert app.db.writer.fallbacks == fallbacks  # retrying each alone would make every sender wait again
    assert all(isinstance(outcome(item), StoreUnavailable) for item in batch)
    assert counts(app) == (0, 0)


def test_a_dead_writer_connection_is_replaced(app: App, person: Person) -> None:
    if app.db.dialect != "postgresql":
        pytest.skip("a server-side disconnect: PostgreSQL's pg_terminate_backend")
    app.db.write(report(person, "before", 1))
    conn = app.db.writer._conn
    assert conn is not None
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    conn.rollback()
    with app.db.engine.connect() as other:
        other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})")
    booked = app.db.write(report(person, "after", 2))  # the restart of a server looks like this
    assert booked.totals == {"yp1": Decimal(3)}
    assert counts(app) == (2, 2)
