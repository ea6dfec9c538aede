"""汇总 for the whole city with a million ledger entries, on SQLite (PostgreSQL: bench/postgres.py).

The subject is what the admin gets through Core.handle: `汇总 全市` (the city's sum of every
indicator) and plain `汇总` (each department's filled rows and its newest booking). Both read the
maintained totals (store/ledger.py, migration 0004) instead of summing the ledger. The baseline is
that sum: the plain aggregate over all entries (GROUP BY department, indicator) with the stdlib
driver, which is what 汇总 would cost without maintained totals. Before timing, the maintained
totals are checked against that aggregate.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal

from bench.harness import Figure, Target, median_ms
from bench.workload import Users, bind_users, fill_ledger, open_app, sqlite_url, temp_dir
from bot.app import App
from store import ledger
from store.columns import to_amount

ENTRIES = 1_000_000
TARGET = Target("< 50 ms", "value", "<=", 50.0)
AGGREGATE = "SELECT department_id, indicator, SUM(amount) FROM entries GROUP BY department_id, indicator"


def check_totals(app: App, ledger_sums: dict[tuple[int, str], Decimal]) -> None:
    """The maintained totals must be the ledger's sums, row for row."""
    with app.db.session() as s:
        maintained = ledger.totals(s)
    if maintained != ledger_sums:
        raise RuntimeError("maintained totals differ from the ledger's sums")


def ask(users: Users, text: str) -> Callable[[], None]:
    def call() -> None:
        replies = users.report(0, text)
        if not replies or not replies[0].text.startswith(("全市合计", "各单位报数情况", "全市各单位报数情况")):
            raise RuntimeError(f"unexpected answer to {text}: {replies}")

    return call


def figures(engine: str, entries: int) -> tuple[Figure, Figure]:
    baseline = f"plain aggregate over the ledger ({engine}, GROUP BY department, indicator)"
    city = Figure(f"totals.{engine}.city", f"汇总 全市 with {entries:,} entries, {engine} (Core.handle)", "ms",
                  baseline, "ms", target=TARGET, ratio_meaning="value / baseline: below 1 is faster than summing")
    overview = Figure(f"totals.{engine}.overview", f"汇总 (every department's progress) with {entries:,} entries, "
                      f"{engine} (Core.handle)", "ms", baseline, "ms", target=TARGET,
                      ratio_meaning="value / baseline: below 1 is faster than summing")
    return city, overview


def measure(app: App, engine: str, quick: bool,
            aggregate: Callable[[], dict[tuple[int, str], Decimal]]) -> list[Figure]:
    """Fill the ledger, check the maintained totals against `aggregate` (the baseline), then time both 汇总."""
    entries, calls, reps = (20_000, 5, 2) if quick else (ENTRIES, 30, 3)
    city, overview = figures(engine, entries)
    start = time.perf_counter()
    fill_ledger(app, entries)
    filled = time.perf_counter() - start
    admin = bind_users(app, 1, admins=True)
    check_totals(app, aggregate())
    for _ in range(reps):
        base = median_ms(aggregate, 1)
        city.add(median_ms(ask(admin, "汇总 全市"), calls), base)
        overview.add(median_ms(ask(admin, "汇总"), calls), base)
    for figure in (city, overview):
        figure.extra = {"entries": entries, "fill_seconds": round(filled, 2), "calls_per_repetition": calls}
        figure.notes.append("maintained totals checked equal to the ledger's sums before timing")
    return [city, overview]


def run(quick: bool = False) -> list[Figure]:
    with temp_dir("totals") as folder:
        app = open_app(sqlite_url(folder))
        raw = sqlite3.connect(folder / "bot.db")
        try:
            return measure(app, "sqlite", quick, lambda: {(d, i): to_amount(s) for d, i, s in raw.execute(AGGREGATE)})
        finally:
            raw.close()
            app.close()
