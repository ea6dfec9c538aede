"""Fifty users booking at once through the asyncio path the messaging transports use.

Telegram and WeCom hand each message to the core with asyncio.to_thread(core.handle, msg); here
fifty simulated users each send their reports one after another (a user waits for the answer before
the next message), all fifty at the same time. There is no group commit: each report is its own
durable transaction, and SQLite's single writer lock (BEGIN IMMEDIATE, busy_timeout) queues them.
"""

from __future__ import annotations

import asyncio
import time

from bench.booking import LIMIT, sqlite_limit
from bench.harness import Figure, percentile, timings_us
from bench.workload import Users, bind_users, open_app, sqlite_url, temp_dir
from bot.runner import use_worker_pool

USERS = 50


async def _burst(users: Users, per_user: int) -> tuple[float, list[float]]:
    """Throughput (reports/s) and every report's latency (ms) from send to reply."""
    latencies: list[float] = []
    use_worker_pool(asyncio.get_running_loop())  # as bot/runner.serve does: enough threads for batches

    async def user(n: int) -> None:
        for _ in range(per_user):
            start = time.perf_counter()
            replies = await asyncio.to_thread(users.report, n)
            latencies.append((time.perf_counter() - start) * 1000)
            if not replies or not replies[0].text.startswith("已记录"):
                raise RuntimeError(f"report not booked: {replies}")

    start = time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(USERS)))
    return USERS * per_user / (time.perf_counter() - start), latencies


def run(quick: bool = False) -> list[Figure]:
    per_user, limit_rows, reps = (2, 200, 2) if quick else (12, 1500, 3)
    throughput = Figure("concurrent.sqlite", f"Concurrent booking, {USERS} users at once (asyncio.to_thread "
                        "path, no group commit)", "reports/s", LIMIT, "tx/s",
                        ratio_meaning="value / baseline: the fraction of the disk's durable-commit limit")
    p99 = Figure("concurrent.sqlite.p99", f"Concurrent booking, {USERS} users: p99 latency send→reply",
                 "ms", "one report alone (median latency, no contention)", "ms",
                 ratio_meaning="value / baseline: how much waiting in line adds")
    with temp_dir("concurrent") as folder:
        app = open_app(sqlite_url(folder))
        try:
            users = bind_users(app, USERS)
            for n in range(USERS):  # warm up every user's first message
                users.report(n)
            for _ in range(reps):
                alone = timings_us(lambda: users.report(0), 50 if not quick else 5)
                limit = sqlite_limit(folder, limit_rows)
                rate_, latencies = asyncio.run(_burst(users, per_user))
                throughput.add(rate_, limit)
                p99.add(percentile(latencies, 99), sorted(alone)[len(alone) // 2] / 1000)
        finally:
            app.close()
    throughput.notes.append(
        "Each report stays one durable transaction. Group commit was not built: with fsync switched off "
        "entirely (booking.sqlite.no_fsync, the most any batching could win) booking still misses 0.5 of "
        "the limit, because the time goes to Python in the handler path, not to the disk."
    )
    return [throughput, p99]
