"""Test data for the benchmarks: a fresh bot on a temp database, bound chat users, and a big ledger.

Nothing here touches data/: every database lives in a temp folder the caller removes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, text

from bot.app import App, build_app
from bot.runner import freeze_start_up
from handlers.messages import Incoming, Reply
from store import directory
from store.directory import Person

TRANSPORT = "bench"  # a messaging transport like Telegram: throttled, not trusted like the console
START = dt.datetime(2023, 8, 15, 2, 0, tzinfo=dt.UTC)  # 10:00 in Sanming, inside the campaign


class TickingClock:
    """Advances one second per reading, so the per-user throttle (one message a second after a burst of 20)
    lets every benchmark message through, as it would for users who report at a human pace."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as name:
        yield Path(name)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'bot.db'}"


@dataclass
class Users:
    """Bound chat users: one per contact who has indicators to book, repeated to reach `count`."""

    app: App
    people: list[Person]
    prefix: str
    _ids: Iterator[int]
    _sent: dict[int, int] = field(default_factory=dict)  # reports per contact, to vary the default text

    def message(self, n: int, text: str) -> Incoming:
        user = f"{self.prefix}{n % len(self.people)}"
        return Incoming(TRANSPORT, user, user, f"m{next(self._ids)}", text)

    def report(self, n: int, text: str | None = None) -> list[Reply]:
        """Send a report (report_message) to the core and return its replies."""
        return self.app.core.handle(self.report_message(n, text))

    def report_message(self, n: int, text: str | None = None) -> Incoming:
        """User n's next report; by default "1 k", k = 1…100 in turn for each contact, since the same text from
        the same contact within 10 minutes is asked about (刚才…已记过同样的内容), not booked. 100 is the
        usual size of the smallest row (万条, 万元)."""
        if text is None:
            contact = self.people[n % len(self.people)].id
            self._sent[contact] = self._sent.get(contact, 0) + 1
            text = f"1 {(self._sent[contact] - 1) % 100 + 1}"
        return self.message(n, text)


def bind_users(app: App, count: int, *, admins: bool = False) -> Users:
    """`count` chat accounts, spread over the contacts whose departments book indicators (or the admins)."""
    with app.db.session() as s:
        if admins:
            bookers = [p for p in directory.people(s) if p.is_admin]
        else:
            bookers = [p for p in directory.people(s) if app.campaign.indicators_of(p.department)]
        people = [bookers[n % len(bookers)] for n in range(count)]
        for n, person in enumerate(people):
            user = f"bench-{'admin-' if admins else ''}{n}"
            directory.bind(s, transport=TRANSPORT, user_id=user, chat_id=user, contact_id=person.id, now=START)
    return Users(app, people, f"bench-{'admin-' if admins else ''}", itertools.count(1))


def open_app(url: str) -> App:
    app = build_app(url=url, clock=TickingClock())
    freeze_start_up()  # as bot/runner.serve does once everything has started
    return app


# --- a big ledger, written in bulk ------------------------------------------------------------------------

LINES_PER_BOOKING = 5


def fill_ledger(app: App, entries: int) -> None:
    """Append `entries` ledger entries (five per booking) as months of reporting would have left them,
    then bring the maintained totals up to date as migration 0004 does on an existing database.

    Written with set-based SQL, not through book(): a million bookings through the handler would take
    longer than the whole benchmark may. The rows are what book() writes: positive amounts, valid
    departments, contacts and indicators, times spread over the campaign.
    """
    with app.db.session() as s:
        ids = directory.department_ids(s)
        contacts = {p.department_id: p.id for p in directory.people(s)}
    admin = next(iter(contacts.values()))
    pairs = [(ids[d.key], contacts.get(ids[d.key], admin), i.key)
             for d in app.campaign.departments for i in app.campaign.indicators_of(d.key)]
    bookings = -(-entries // LINES_PER_BOOKING)
    dialect = app.db.dialect
    with app.db.engine.begin() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE bench_pairs (n INTEGER PRIMARY KEY, department_id INTEGER,"
                          " contact_id INTEGER, indicator VARCHAR(32))"))
        conn.execute(text("INSERT INTO bench_pairs VALUES (:n, :d, :c, :i)"),
                     [{"n": n, "d": d, "c": c, "i": i} for n, (d, c, i) in enumerate(pairs)])
        first = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM bookings")).scalar_one()
        series, at = _series(dialect)
        # Booking b belongs to pair (b mod P): each booking's five lines are of one department.
        conn.execute(text(
            f"INSERT INTO bookings (id, transport, chat_id, message_id, contact_id, department_id, kind, text,"
            f" booked_at) SELECT :first + g, 'bulk', 'c' || p.contact_id, 'b' || (:first + g), p.contact_id,"
            f" p.department_id, 'report', '1 3，2 1，3 2，4 1，5 4', {at.format('g')}"
            f" FROM {series.format(n=':bookings')} JOIN bench_pairs p ON p.n = g % :pairs"
        ), {"first": first, "bookings": bookings, "pairs": len(pairs)})
        conn.execute(text(
            f"INSERT INTO entries (booking_id, department_id, indicator, amount, booked_at)"
            f" SELECT :first + 1 + (g - 1) / {LINES_PER_BOOKING}, p.department_id, p.indicator,"
            f" 10000 * (1 + g % 5), {at.format('(1 + (g - 1) / ' + str(LINES_PER_BOOKING) + ')')}"
            f" FROM {series.format(n=':entries')}"
            f" JOIN bench_pairs p ON p.n = ((g - 1) / {LINES_PER_BOOKING} + 1) % :pairs"
        ), {"first": first, "entries": entries, "pairs": len(pairs)})
        conn.execute(text("DROP TABLE bench_pairs"))
        if dialect == "postgresql":  # explicit ids leave the sequence behind: later bookings would collide
            conn.execute(text("SELECT setval(pg_get_serial_sequence('bookings', 'id'), MAX(id)) FROM bookings"))
        rebuild_totals(conn)
        conn.execute(text("ANALYZE"))  # fresh statistics, as a database that grew slowly would have


def rebuild_totals(conn: Connection) -> None:
    """The back-fill of migration 0004: the maintained totals are the ledger's sums."""
    conn.execute(text("DELETE FROM totals"))
    conn.execute(text("INSERT INTO totals (department_id, indicator, amount) SELECT department_id, indicator,"
                      " SUM(amount) FROM entries GROUP BY department_id, indicator"))


def _series(dialect: str) -> tuple[str, str]:
    """A FROM item yielding g = 1..n, and an expression for the booking time of row `{}`."""
    if dialect == "postgresql":
        return ("generate_series(1, {n}) AS s(g)",
                "TIMESTAMPTZ '2023-08-09 01:00:00+00' + ({} * 30 % 8000000) * INTERVAL '1 second'")
    # SQLite has no generate_series without the extension: a recursive CTE counts as fast.
    return ("(WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < {n}) SELECT g FROM c) AS s",
            "strftime('%Y-%m-%d %H:%M:%S.000000', 1691542800 + ({} * 30 % 8000000), 'unixepoch')")
