"""Fifty users booking at once through the asyncio path the messaging transports use.

Telegram, WeCom and DingTalk hand each message to the core with `await app.dispatcher.answer(msg)`
(bot/dispatcher.py), on the worker pool bot/runner.serve installs; here fifty simulated users each send
their reports one after another (a user waits for the answer before the next message), all fifty at the
same time. Reports that arrive together are handled together on one thread (store/gathering.py) and
booked in one transaction by the group-commit writer (store/writer.py): several reports share one fsync,
each answered after its COMMIT.
"""

from __future__ import annotations

import asyncio
import time

from bench.booking import LIMIT, sqlite_limit
from bench.harness import Figure, Target, percentile, timings_us
from bench.workload import Users, bind_users, open_app, sqlite_url, temp_dir
from bot.runner import use_worker_pool

USERS = 50
THROUGHPUT_TARGET = Target("≥ 1.0 of the limit", "ratio", ">=", 1.0)
LATENCY_TARGET = Target("p99 < 50 ms", "value", "<=", 50.0)


async def _burst(users: Users, per_user: int) -> tuple[float, list[float]]:
    """Throughput (reports/s) and every report's latency (ms) from send to reply."""
    latencies: list[float] = []
    use_worker_pool(asyncio.get_running_loop())  # as bot/runner.serve does: enough threads for batches

    async def user(n: int) -> None:
        for _ in range(per_user):
            start = time.perf_counter()
            replies = await users.app.dispatcher.answer(users.report_message(n))
            latencies.append((time.perf_counter() - start) * 1000)
            if not replies or not replies[0].text.startswith("已记录"):
                raise RuntimeError(f"report not booked: {replies}")

    start = time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(USERS)))
    return USERS * per_user / (time.perf_counter() - start), latencies


def run(quick: bool = False) -> list[Figure]:
    per_user, limit_rows, reps = (2, 200, 2) if quick else (12, 1500, 3)
    throughput = Figure("concurrent.sqlite", f"Concurrent booking, {USERS} users at once (the transports' "
                        "asyncio path, group commit)", "reports/s", LIMIT, "tx/s", target=THROUGHPUT_TARGET,
                        ratio_meaning="value / baseline: the fraction of the disk's durable-commit limit")
    p99 = Figure("concurrent.sqlite.p99", f"Concurrent booking, {USERS} users: p99 latency send→reply",
                 "ms", "one report alone (median latency, no contention)", "ms", target=LATENCY_TARGET,
                 ratio_meaning="value / baseline: how much waiting in line adds")
    sizes: list[float] = []
    with temp_dir("concurrent") as folder:
        app = open_app(sqlite_url(folder))
        try:
            users = bind_users(app, USERS)
            for n in range(USERS):  # warm up every user's first message
                users.report(n)
            writer = app.db.writer
            for _ in range(reps):
                alone = timings_us(lambda: users.report(0), 50 if not quick else 5)
                limit = sqlite_limit(folder, limit_rows)
                transactions, jobs = writer.batches, writer.batched_jobs
                rate_, latencies = asyncio.run(_burst(users, per_user))
                throughput.add(rate_, limit)
                p99.add(percentile(latencies, 99), sorted(alone)[len(alone) // 2] / 1000)
                sizes.append((writer.batched_jobs - jobs) / max(1, writer.batches - transactions))
        finally:
            app.close()
    throughput.extra = {"reports_per_commit": [round(size, 1) for size in sizes],
                        "fallbacks": writer.fallbacks}
    throughput.notes.append(
        "Group commit: the reports that arrive together are handled as one group on one thread "
        "(bot/dispatcher.py, store/gathering.py) and booked in one transaction (extra.reports_per_commit: the "
        "mean batch per repetition), each answered after that COMMIT. The rest of each report (parse, match, "
        "reply) is Python under one GIL, which sets the pace when the fsync is shared."
    )
    return [throughput, p99]
