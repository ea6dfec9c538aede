"""The sender cache: one look-up per account, dropped by any directory change, aged out for other instances."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from bot.app import App
from store import directory
from store.database import Database
from store.directory import Person
from store.senders import TTL, UNNOTIFIED_TTL, DirectoryListener, SenderCache

T0 = dt.datetime(2023, 8, 20, 2, 0, tzinfo=dt.UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def person(app: App) -> Person:
    with app.db.read() as s:
        return next(p for p in directory.people(s) if p.name == "陈明栋")


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def cache(app: App, ticks: Ticks) -> SenderCache:
    return SenderCache(app.db, ttl=5.0, clock=ticks)


def bind(db: Database, user: str, contact_id: int) -> None:
    with db.session() as s:
        directory.bind(s, transport="telegram", user_id=user, chat_id=user, contact_id=contact_id, now=T0)


def test_one_look_up_per_account_until_something_changes(app: App, cache: SenderCache, person: Person) -> None:
    assert cache.person("telegram", "u1") is None  # a stranger, cached as such
    assert cache.person("telegram", "u1") is None
    assert cache.lookups == 1
    bind(app.db, "u1", person.id)  # registration: the stranger becomes a contact at once
    assert cache.person("telegram", "u1") == person
    assert cache.person("telegram", "u1") == person
    assert cache.lookups == 2


def test_contact_changes_reach_the_cache(app: App, cache: SenderCache, person: Person) -> None:
    bind(app.db, "u1", person.id)
    assert cache.person("telegram", "u1") == person
    with app.db.session() as s:
        changed, _ = directory.save_contact(s, department_id=person.department_id, name=person.name, now=T0,
                                            section="新科室")
    assert cache.person("telegram", "u1") == changed and changed.section == "新科室"
    with app.db.session() as s:
        directory.deactivate_contact(s, person.id, T0)
    assert cache.person("telegram", "u1") is None  # removed: no access from the next message on


def test_a_rolled_back_change_and_bookings_keep_the_cache(app: App, cache: SenderCache, person: Person) -> None:
    bind(app.db, "u1", person.id)
    cache.person("telegram", "u1")
    with pytest.raises(RuntimeError), app.db.session() as s:
        directory.deactivate_contact(s, person.id, T0)
        raise RuntimeError("rolled back")
    with app.db.session() as s:
        directory.people(s)  # reading the directory changes nothing
    assert cache.person("telegram", "u1") == person
    assert cache.lookups == 1


def test_another_instance_s_change_arrives_after_the_ttl(app: App, db_url: str, cache: SenderCache, ticks: Ticks,
                                                         person: Person) -> None:
    bind(app.db, "u1", person.id)
    assert cache.person("telegram", "u1") == person
    other = Database(db_url)  # a second instance on the same database: its commits are not seen here
    try:
        with other.session() as s:
            directory.deactivate_contact(s, person.id, T0)
    finally:
        other.dispose()
    ticks.now += 4.9
    assert cache.person("telegram", "u1") == person
    ticks.now += 0.2
    assert cache.person("telegram", "u1") is None


def test_postgresql_instances_tell_each_other(app: App, db_url: str, person: Person) -> None:
    if app.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite is one instance per file")
    cache = SenderCache(app.db)
    assert cache.ttl == UNNOTIFIED_TTL  # not listening yet: another instance's edit could be missed
    bind(app.db, "u1", person.id)
    assert cache.person("telegram", "u1") == person  # the first look-up starts the listener
    assert cache.listener is not None and cache.listener.listening.wait(30)
    assert cache.ttl == TTL
    heard = threading.Event()
    listener = DirectoryListener(app.db, heard.set)
    listener.start()
    assert listener.listening.wait(30)
    heard.clear()
    other = Database(db_url)  # a second instance on the same database
    try:
        with other.session() as s:
            directory.deactivate_contact(s, person.id, T0)
    finally:
        other.dispose()
    assert heard.wait(30)  # the other instance's NOTIFY arrived
    listener.stop()


@pytest.fixture
def statements(app: App) -> Iterator[list[str]]:
    """Every statement SQLite runs, as its own trace callback sees it (BEGIN goes straight to the driver)."""
    seen: list[str] = []

    def trace(dbapi_connection: Any, _record: object) -> None:
        if app.db.dialect == "sqlite":
            dbapi_connection.set_trace_callback(seen.append)

    app.db.writer.close()
    app.db.engine.dispose()  # new connections, each with the callback
    event.listen(app.db.engine, "connect", trace)
    yield seen
    event.remove(app.db.engine, "connect", trace)


def test_a_report_takes_the_write_lock_once_and_the_look_up_never(app: App, person: Person,
                                                                  statements: list[str]) -> None:
    if app.db.dialect != "sqlite":
        pytest.skip("BEGIN IMMEDIATE / DEFERRED are SQLite's; PostgreSQL reads in a READ ONLY transaction")
    from handlers.messages import Incoming

    bind(app.db, "u9", person.id)
    statements.clear()
    replies = app.core.handle(Incoming("telegram", "u9", "u9", "m1", "1 3"))
    assert replies[0].text.startswith("已记录")
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]  # the look-up in a snapshot, then the booking
    statements.clear()
    app.core.handle(Incoming("telegram", "u9", "u9", "m2", "1 4"))  # not the same text: that would be asked about
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]  # the sender is cached
