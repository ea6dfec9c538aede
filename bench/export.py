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
import tracemalloc
from pathlib import Path

from bench.harness import Figure, Target, median_ms
from bench.workload import fill_ledger, open_app, sqlite_url, temp_dir
from bot.app import App
from store.statistics import build_export

ENTRIES = 100_000
TARGET = Target("< 5 s", "value", "<=", 5.0)
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


def run(quick: bool = False) -> list[Figure]:
    entries, reps = (5_000, 2) if quick else (ENTRIES, 3)
    figure = Figure("export.sqlite.city", f"Export: the city workbook with a {entries:,}-entry 明细 sheet", "s",
                    "stdlib sqlite3 read + csv.writer of the same rows", "s", target=TARGET,
                    ratio_meaning="value / baseline: times the bare read-and-write of the rows")
    memory = Figure("export.sqlite.peak_memory", "Export: peak memory while building it (tracemalloc)", "MiB",
                    "the finished workbook's size", "MiB",
                    ratio_meaning="value / baseline: memory held per byte of output")
    with temp_dir("export") as folder:
        app = open_app(sqlite_url(folder))
        try:
            fill_ledger(app, entries)
            if csv_baseline(folder / "bot.db") != entries:
                raise RuntimeError("the baseline did not read every entry")
            export_city(app)  # warm: openpyxl's first workbook loads its templates
            for _ in range(reps):
                base = median_ms(lambda: csv_baseline(folder / "bot.db"), 1) / 1000
                figure.add(median_ms(lambda: export_city(app), 1) / 1000, base)
            peak, size = peak_mib(app)  # allocation is deterministic: one run says it
            memory.add(peak, size / 2**20)
        finally:
            app.close()
    figure.extra = {"entries": entries}
    memory.notes.append("one untimed run under tracemalloc: Python allocations only, not the C libraries' buffers")
    return [figure, memory]
