"""Booking and totals on PostgreSQL, when it is installed: a throwaway cluster from tests/pg.py.

The test cluster runs with fsync, synchronous_commit and full_page_writes off (speed for tests);
here it is restarted with PostgreSQL's defaults (all on) before anything is measured, so a commit
waits for the disk as it does in production. Baselines run on the same server: a psycopg loop of single-row
INSERT + COMMIT for booking, and the plain aggregate over the ledger for totals.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
from sqlalchemy import create_engine, text

from bench.booking import TARGET as BOOKING_TARGET
from bench.booking import book_many
from bench.harness import Figure, rate
from bench.profiling import profile_to
from bench.totals import AGGREGATE, ENTRIES, measure
from bench.workload import bind_users, open_app
from store.columns import to_amount
from tests.pg import Cluster, start_cluster

LIMIT = "psycopg single-row INSERT+COMMIT on the same server"


def durable(cluster: Cluster) -> None:
    """Restart the test cluster with PostgreSQL's durable defaults and create the benchmark databases."""
    # The test options are on the command line, which outranks ALTER SYSTEM: restart without them.
    options = f"-k {cluster.socket_dir} -c listen_addresses='' -c max_connections=200"
    restarted = cluster._run(cluster.bin / "pg_ctl", "-D", str(cluster.root / "data"), "-o", options, "-w", "-l",
                             str(cluster.root / "log"), "restart")
    if restarted.returncode != 0:
        raise RuntimeError(f"pg_ctl restart failed: {restarted.stderr}")
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in ("bench_booking", "bench_totals"):
                conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        admin.dispose()


def connect(cluster: Cluster, database: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=str(cluster.socket_dir), dbname=database, user="postgres")


def pg_limit(cluster: Cluster, count: int) -> float:
    with connect(cluster, "bench_booking") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_limit (id SERIAL PRIMARY KEY, message TEXT, amount BIGINT)")
        conn.commit()

        def loop() -> None:
            for n in range(count):
                conn.execute("INSERT INTO bench_limit (message, amount) VALUES (%s, %s)", (f"m{n}", 30000))
                conn.commit()

        return rate(count, loop)


def unavailable(reason: str) -> list[Figure]:
    out = []
    for key, title in (("booking.postgresql", "Booking throughput, PostgreSQL"),
                       ("totals.postgresql.city", f"汇总 全市 with {ENTRIES:,} entries, postgresql"),
                       ("totals.postgresql.overview", f"汇总 with {ENTRIES:,} entries, postgresql")):
        figure = Figure(key, title, "", "", "", available=False)
        figure.notes.append(f"not available: {reason}")
        out.append(figure)
    return out


def run(quick: bool = False) -> list[Figure]:
    cluster = start_cluster()
    if cluster is None:
        return unavailable("PostgreSQL is not installed here (no initdb found)")
    try:
        durable(cluster)
        return [*_booking(cluster, quick), *_totals(cluster, quick)]
    finally:
        cluster.stop()


def _booking(cluster: Cluster, quick: bool) -> list[Figure]:
    reports, limit_rows, reps = (40, 100, 2) if quick else (400, 1000, 3)
    figure = Figure("booking.postgresql", "Booking throughput, PostgreSQL (whole handler path, one durable "
                    "transaction per report)", "reports/s", LIMIT, "tx/s", target=BOOKING_TARGET,
                    ratio_meaning="value / baseline: the fraction of the server's durable-commit limit")
    app = open_app(cluster.url("bench_booking"))
    try:
        with app.db.engine.connect() as conn:
            figure.extra = {setting: conn.execute(text(f"SHOW {setting}")).scalar()
                            for setting in ("fsync", "synchronous_commit", "full_page_writes")}
        users = bind_users(app, 50)
        book_many(users, 20)
        for _ in range(reps):
            limit = pg_limit(cluster, limit_rows)
            figure.add(book_many(users, reports), limit)
        if not quick:
            figure.notes.append(f"profile: {profile_to('booking-postgresql', lambda: book_many(users, 200))}")
    finally:
        app.close()
    return [figure]


def _totals(cluster: Cluster, quick: bool) -> list[Figure]:
    app = open_app(cluster.url("bench_totals"))
    try:
        with connect(cluster, "bench_totals") as raw:
            def aggregate() -> dict[tuple[int, str], Decimal]:
                rows = raw.execute(AGGREGATE).fetchall()
                raw.rollback()  # end the read transaction, as a short session would
                return {(int(str(d)), str(i)): to_amount(int(str(s))) for d, i, s in rows}

            return measure(app, "postgresql", quick, aggregate)
    finally:
        app.close()
