"""The counties at scale: a city department's system (11 counties) over a million entries, and 进度 for 1,000 units.

- 汇总 and 导出 of the city 公安局 contact (方广成) through Core.handle, with 1,000,000 ledger entries spread over
  every unit of the shipped config (99 units, 11 counties), so the 公安局 system (12 units) holds its share of them
  and its 明细 sheet that share. 汇总 reads the maintained totals; 导出 sums the entries as of today.
  Baselines: the plain aggregate over the system's entries (stdlib sqlite3), and reading + csv-writing them.
- 进度 of an admin for a province-sized campaign: the shipped config plus 125 generated counties of 8 departments
  each (1,099 units), a ledger in which most have reported. Baseline: the newest booking per department, one
  GROUP BY with the stdlib driver.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path

from bench.harness import Figure, Target, median_ms
from bench.workload import START, TRANSPORT, TickingClock, fill_ledger, sqlite_url, temp_dir
from bot.app import App, build_app
from campaign.scopes import system_scope
from handlers.messages import Incoming, Reply
from store import directory

ENTRIES = 1_000_000
PROVINCE_COUNTIES = 125  # (11 + 125) counties x 8 departments + the city's 11: 1,099 units
TOTALS_TARGET = Target("< 50 ms", "value", "<=", 50.0)
EXPORT_TARGET = Target("< 5 s", "value", "<=", 5.0)
PROGRESS_TARGET = Target("< 200 ms", "value", "<=", 200.0)
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


class _Chat:
    def __init__(self, app: App, name: str) -> None:
        self.app, self.user, self.n = app, f"bench-{name}", 0
        with app.db.session() as s:
            person = next(p for p in directory.people(s) if p.name == name)
            directory.bind(s, transport=TRANSPORT, user_id=self.user, chat_id=self.user, contact_id=person.id,
                           now=START)

    def ask(self, text: str, expect: str) -> Callable[[], list[Reply]]:
        def call() -> list[Reply]:
            self.n += 1
            replies = self.app.core.handle(Incoming(TRANSPORT, self.user, self.user, f"q{self.n}", text))
            if not replies or expect not in replies[0].text:
                raise RuntimeError(f"unexpected answer to {text}: {replies}")
            return replies

        return call


def _system_ids(app: App) -> str:
    with app.db.session() as s:
        ids = directory.department_ids(s)
    return ",".join(str(ids[k]) for k in system_scope(app.campaign, "gaj").members)


def _aggregate(db: Path, ids: str) -> Callable[[], int]:
    def call() -> int:
        conn = sqlite3.connect(db)
        try:
            return len(conn.execute(f"SELECT department_id, indicator, SUM(amount) FROM entries WHERE department_id"
                                    f" IN ({ids}) GROUP BY department_id, indicator").fetchall())
        finally:
            conn.close()

    return call


def _csv(db: Path, ids: str) -> Callable[[], int]:
    def call() -> int:
        conn = sqlite3.connect(db)
        try:
            writer = csv.writer(io.StringIO())
            rows = 0
            for row in conn.execute(
                "SELECT e.booked_at, d.short, c.name, e.indicator, e.amount, b.text FROM entries e"
                " JOIN bookings b ON b.id = e.booking_id JOIN contacts c ON c.id = b.contact_id"
                f" JOIN departments d ON d.id = e.department_id WHERE e.department_id IN ({ids}) ORDER BY e.id"
            ):
                writer.writerow(row)
                rows += 1
            return rows
        finally:
            conn.close()

    return call


def _system(quick: bool) -> list[Figure]:
    entries, calls, reps = (20_000, 5, 2) if quick else (ENTRIES, 20, 3)
    totals = Figure("counties.sqlite.system_totals", f"汇总 of a city department's system (市公安局 + 11 counties)"
                    f" with {entries:,} entries, sqlite (Core.handle)", "ms",
                    "plain aggregate over the system's entries (sqlite3, GROUP BY department, indicator)", "ms",
                    target=TOTALS_TARGET, ratio_meaning="value / baseline: below 1 is faster than summing")
    export = Figure("counties.sqlite.system_export", f"导出 of a city department's system (a sheet per county)"
                    f" with {entries:,} entries in the ledger, sqlite (Core.handle)", "s",
                    "stdlib sqlite3 read + csv.writer of the system's entries", "s", target=EXPORT_TARGET,
                    ratio_meaning="value / baseline: times the bare read-and-write of the rows")
    with temp_dir("counties") as folder:
        app = build_app(url=sqlite_url(folder), clock=TickingClock())
        try:
            fill_ledger(app, entries)
            ids = _system_ids(app)
            rows = _csv(folder / "bot.db", ids)()
            police = _Chat(app, "方广成")
            ask_totals = police.ask("汇总", "【本系统合计】")
            ask_export = police.ask("导出", "统计表已生成")
            ask_export()  # warm: openpyxl's first workbook loads its templates
            for _ in range(reps):
                base = median_ms(_aggregate(folder / "bot.db", ids), 1)
                totals.add(median_ms(ask_totals, calls), base)
                export.add(median_ms(ask_export, 1) / 1000, median_ms(_csv(folder / "bot.db", ids), 1) / 1000)
        finally:
            app.close()
    totals.extra = {"entries": entries, "system_units": 12, "calls_per_repetition": calls}
    export.extra = {"entries": entries, "system_entries": rows}
    export.notes.append(f"the system's 明细 sheet holds {rows:,} of the {entries:,} entries")
    return [totals, export]


def province_config(folder: Path, counties: int) -> Path:
    """The shipped config with `counties` more generated counties (every one with the 8 departments)."""
    extra = "".join(f'\n[[counties]]\nkey = "p{n}"\nname = "测试{n}县"\naliases = ["测{n}县"]\n'
                    for n in range(counties))
    path = folder / "province.toml"
    path.write_text(CONFIG.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def _progress(quick: bool) -> list[Figure]:
    counties, entries, calls, reps = (20, 20_000, 5, 2) if quick else (PROVINCE_COUNTIES, 200_000, 20, 3)
    figure = Figure("counties.sqlite.progress", f"进度 for {11 + (11 + counties) * 8:,} units, sqlite (Core.handle)",
                    "ms", "newest booking per department (sqlite3, one GROUP BY over the bookings)", "ms",
                    target=PROGRESS_TARGET, ratio_meaning="value / baseline")
    with temp_dir("province") as folder:
        app = build_app(province_config(folder, counties), url=sqlite_url(folder), clock=TickingClock())
        try:
            fill_ledger(app, entries)
            admin = _Chat(app, "王永辉")
            ask = admin.ask("进度", "报数进度")
            db = folder / "bot.db"

            def baseline() -> int:
                conn = sqlite3.connect(db)
                try:
                    return len(conn.execute("SELECT department_id, MAX(booked_at) FROM bookings"
                                            " GROUP BY department_id").fetchall())
                finally:
                    conn.close()

            for _ in range(reps):
                figure.add(median_ms(ask, calls), median_ms(baseline, 1))
            units = len(app.campaign.departments)
        finally:
            app.close()
    figure.extra = {"units": units, "entries": entries, "calls_per_repetition": calls}
    return [figure]


def run(quick: bool = False) -> list[Figure]:
    return [*_system(quick), *_progress(quick)]
