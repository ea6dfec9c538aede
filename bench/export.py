"""The city's 附件2 workbook with a 100,000-entry 明细 sheet: time and peak memory.

The subject is store/statistics.build_export for the whole city as of the campaign's last day (the
as-of totals are summed from the ledger, and every entry becomes a 明细 row). The baseline is the
least any export of those rows costs: the same join read with the stdlib sqlite3 module and written
as CSV into memory. Peak memory is measured with tracemalloc in a separate, untimed run (tracing
slows Python down, so it never runs inside a timed repetition).
"""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
import time
import tracemalloc
from pathlib import Path

from bench.harness import Figure, Target, median_ms, percentile
from bench.workload import Users, bind_users, fill_ledger, open_app, sqlite_url, temp_dir
from bot.app import App
from handlers import texts
from store.statistics import build_export

ENTRIES = 100_000
TARGET = Target("< 5 s", "value", "<=", 5.0)
BUSY_TARGET = Target("p99 < 50 ms", "value", "<=", 50.0)
NONE_REFUSED = Target("none refused", "value", "<=", 0.0)
ROWS = """
SELECT e.booked_at, d.short, c.name, e.indicator, e.amount, b.text
FROM entries e JOIN bookings b ON b.id = e.booking_id JOIN contacts c ON c.id = b.contact_id
JOIN departments d ON d.id = e.department_id ORDER BY e.id
"""


def csv_baseline(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        out = io.StringIO()
        writer = csv.writer(out)
        rows = 0
        for row in conn.execute(ROWS):
            writer.writerow(row)
            rows += 1
        return rows
    finally:
        conn.close()


def export_city(app: App) -> bytes:
    return build_export(app.db, app.campaign, None, app.campaign.end).data


def peak_mib(app: App) -> tuple[float, int]:
    """tracemalloc's peak while building one export, and the workbook's size."""
    tracemalloc.start()
    try:
        data = export_city(app)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, len(data)


def bookings(users: Users, count: int, first: int) -> tuple[list[float], int]:
    """Book `count` reports one after another; each one's latency (ms) and how many were refused as busy."""
    latencies: list[float] = []
    refused = 0
    for n in range(first, first + count):
        start = time.perf_counter()
        replies = users.report(n)
        latencies.append((time.perf_counter() - start) * 1000)
        if replies and replies[0].text == texts.STORE_DOWN:
            refused += 1
        elif not replies or not replies[0].text.startswith("已记录"):
            raise RuntimeError(f"report not booked: {replies}")
    return latencies, refused


def bookings_during_export(app: App, users: Users, count: int) -> tuple[list[float], int, int]:
    """The same bookings while city exports run back to back in another thread (as handlers/exports.py runs
    in a worker thread of the bot): latencies, refusals, and how many exports overlapped them."""
    running, stop = threading.Event(), threading.Event()
    exports = 0

    def export_loop() -> None:
        nonlocal exports
        while not stop.is_set():
            running.set()
            export_city(app)
            exports += 1

    worker = threading.Thread(target=export_loop, name="export")
    worker.start()
    try:
        running.wait()
        latencies, refused = bookings(users, count, 0)
    finally:
        stop.set()
        worker.join()
    return latencies, refused, exports + 1


def run(quick: bool = False) -> list[Figure]:
    entries, reps = (5_000, 2) if quick else (ENTRIES, 3)
    figure = Figure("export.sqlite.city", f"Export: the city workbook with a {entries:,}-entry 明细 sheet", "s",
                    "stdlib sqlite3 read + csv.writer of the same rows", "s", target=TARGET,
                    ratio_meaning="value / baseline: times the bare read-and-write of the rows")
    memory = Figure("export.sqlite.peak_memory", "Export: peak memory while building it (tracemalloc)", "MiB",
                    "the finished workbook's size", "MiB",
                    ratio_meaning="value / baseline: memory held per byte of output")
    busy = Figure("export.sqlite.booking_p99", f"Booking while the city export ({entries:,} entries) runs: p99 "
                  "send→reply", "ms", "the same bookings with no export running: p99", "ms", target=BUSY_TARGET,
                  ratio_meaning="value / baseline: what the running export adds")
    refused = Figure("export.sqlite.booking_refused", "Bookings refused as busy while the export runs",
                     "reports", "reports booked during the exports", "reports", target=NONE_REFUSED,
                     ratio_meaning="value / baseline: the fraction refused")
    with temp_dir("export") as folder:
        app = open_app(sqlite_url(folder))
        try:
            fill_ledger(app, entries)
            users = bind_users(app, 50)
            if csv_baseline(folder / "bot.db") != entries:
                raise RuntimeError("the baseline did not read every entry")
            export_city(app)  # warm: openpyxl's first workbook loads its templates
            for _ in range(reps):
                base = median_ms(lambda: csv_baseline(folder / "bot.db"), 1) / 1000
                figure.add(median_ms(lambda: export_city(app), 1) / 1000, base)
            peak, size = peak_mib(app)  # allocation is deterministic: one run says it
            memory.add(peak, size / 2**20)
            count = 40 if quick else 300
            bookings(users, 20, 10_000)  # warm: every sender's look-up cached, as in a bot that has run a while
            overlapped = 0
            for rep in range(reps):
                alone, _ = bookings(users, count, 20_000 + rep * count)
                during, refusals, exports = bookings_during_export(app, users, count)
                busy.add(percentile(during, 99), percentile(alone, 99))
                refused.add(refusals, count)
                overlapped += exports
            busy.extra = {"bookings": count, "exports_overlapped": overlapped}
        finally:
            app.close()
    figure.extra = {"entries": entries}
    busy.notes.append("The export reads in a snapshot (Database.read: BEGIN DEFERRED in WAL mode), so it never "
                      "holds the write lock; the bookings wait only for the CPU the export's thread takes.")
    memory.notes.append("one untimed run under tracemalloc: Python allocations only, not the C libraries' buffers")
    return [figure, memory, busy, refused]
