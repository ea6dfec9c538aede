"""Booking throughput on SQLite, against the limit of the disk: one durable INSERT + COMMIT at a time.

The subject is the whole handler path, Core.handle: throttle, who is this (cached for the process:
store/senders.py), parse, match the indicators, book in one durable transaction through the
group-commit writer (store/writer.py: BEGIN IMMEDIATE … COMMIT with synchronous=FULL in WAL, on the
process's one writer connection; one user at a time makes every batch a single report), build the
reply text. The baseline is the least any durable booking costs on this disk: a single-row
INSERT + COMMIT with the stdlib sqlite3 module on a file with the bot's journal and synchronous settings.

A second figure runs the same path with synchronous=OFF (no fsync at all): diagnostic, not shipped. The
gap between the two is the disk's share of a booking; the rest is Python.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.harness import Figure, Target, rate
from bench.profiling import profile_to
from bench.workload import Users, bind_users, open_app, sqlite_url, temp_dir

LIMIT = "sqlite3 single-row INSERT+COMMIT, WAL, synchronous=FULL"
TARGET = Target("≥ 0.5 of the limit", "ratio", ">=", 0.5)


def sqlite_limit(folder: Path, count: int, synchronous: str = "FULL") -> float:
    """Durable single-row transactions per second with nothing but the stdlib driver."""
    path = folder / f"limit-{synchronous}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, message TEXT, amount INTEGER)")

        def loop() -> None:
            for n in range(count):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t (message, amount) VALUES (?, ?)", (f"m{n}", 30000))
                conn.execute("COMMIT")

        return rate(count, loop)
    finally:
        conn.close()


def book_many(users: Users, count: int, text: str | None = None) -> float:
    """Reports per second through Core.handle; every reply must be a confirmation."""

    def loop() -> None:
        for n in range(count):
            replies = users.report(n, text)
            if not replies or not replies[0].text.startswith("已记录"):
                raise RuntimeError(f"report not booked: {replies}")

    return rate(count, loop)


def _no_fsync(engine: Any) -> None:
    engine.dispose()  # new connections pick up the listener below

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")  # runs after the bot's own PRAGMA synchronous=FULL


def run(quick: bool = False) -> list[Figure]:
    reports, limit_rows, reps = (60, 200, 2) if quick else (600, 1500, 3)
    durable = Figure("booking.sqlite", "Booking throughput, SQLite (whole handler path, one durable "
                     "transaction per report)", "reports/s", LIMIT, "tx/s", target=TARGET,
                     ratio_meaning="value / baseline: the fraction of the disk's durable-commit limit")
    ceiling = Figure("booking.sqlite.no_fsync", "Booking throughput, SQLite, synchronous=OFF (no fsync at all; "
                     "diagnostic, not shipped)", "reports/s", LIMIT, "tx/s",
                     ratio_meaning="value / baseline")
    with temp_dir("booking") as folder:
        app = open_app(sqlite_url(folder))
        fast = open_app(sqlite_url(folder / "nofsync"))
        try:
            _no_fsync(fast.db.engine)
            users, fast_users = bind_users(app, 50), bind_users(fast, 50)
            book_many(users, 20)  # warm caches and the connection pool: the bot runs for weeks
            book_many(fast_users, 20)
            for _ in range(reps):
                limit = sqlite_limit(folder, limit_rows)
                durable.add(book_many(users, reports), limit)
                ceiling.add(book_many(fast_users, reports), limit)
            if not quick:
                path = profile_to("booking", lambda: book_many(users, 300))
                durable.notes.append(f"profile: {path}")
            with app.db.engine.connect() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            levels = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            durable.extra = {"journal_mode": mode, "synchronous": levels.get(int(sync or 0), str(sync))}
        finally:
            app.close()
            fast.close()
    durable.notes.append(
        "The bot ships synchronous=FULL in WAL mode: COMMIT returns only after the WAL is fsynced, so a count "
        "the bot has confirmed survives a crash or a power cut (NORMAL could lose the last commits on power loss)."
    )
    return [durable, ceiling]
