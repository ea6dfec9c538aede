"""End to end through the Telegram transport: the real `python -m bot run` against the fake Bot API.

The fake server (tests/fakes/telegram_api.py) runs on 127.0.0.1 in this process; the bot is a
separate process on a temp SQLite database whose Telegram users are bound beforehand (as if each had
shared their phone number once). A repetition pushes one report from each of many users and ends
when every confirmation (已记录) has arrived at the fake server.

Many users, because the bot's rate limiter allows about one message a second per private chat (and
30 a second overall, Telegram's own limit): from a few users the benchmark would measure the
limiter's per-chat pacing, not the bot. The baseline is measured: the same PTB rate limiter and HTTP
client sending as many messages to as many chats, one after another, with no handler behind them.
Two sizes: 90 reports exceed the limiter's burst of 30, so they show the sustained pace Telegram
allows; 25 fit inside the burst, so they show how fast the bot itself answers.
"""

from __future__ import annotations

import asyncio
import time

from telegram.ext import ExtBot

from bench.harness import Figure
from bench.workload import open_app, sqlite_url, temp_dir
from bot.telegram_send import TelegramRateLimiter
from store import directory
from tests.fakes import telegram_api
from tests.fakes.process import BotProcess, clean_env
from tests.fakes.telegram_api import FakeBotApi

# http.server answers in two writes (headers, then body). With Nagle's algorithm on, the body waits for
# the client's delayed ACK: 40 ms per Bot API call, which measured the fake server, not the bot.
# Real Bot API servers do not stall like that; the tests do not care, so only the benchmark turns it off.
telegram_api._Handler.disable_nagle_algorithm = True

TOKEN = "123456:TEST-token-bench"  # the shape of a token, no real one
FIRST_USER = 5_000_001


def bind_telegram_users(url: str, count: int) -> list[int]:
    app = open_app(url)
    try:
        with app.db.session() as s:
            bookers = [p for p in directory.people(s) if app.campaign.indicators_of(p.department)]
            users = [FIRST_USER + n for n in range(count)]
            for n, user in enumerate(users):
                directory.bind(s, transport="telegram", user_id=str(user), chat_id=str(user),
                               contact_id=bookers[n % len(bookers)].id, now=app.now())
        return users
    finally:
        app.close()


def push_reports(api: FakeBotApi, users: list[int], text: str = "1 1") -> float:
    """Push one report per user; return reports per second until every confirmation arrived."""
    mark = api.mark()
    wanted = set(users)
    start = time.perf_counter()
    for user in users:
        person = {"id": user, "is_bot": False, "first_name": "测试"}
        api.push({"message": {"message_id": api.next_message_id(user), "date": int(time.time()), "text": text,
                              "chat": {"id": user, "type": "private", "first_name": "测试"}, "from": person}})
    deadline = start + 120
    while True:
        confirmed = {c.chat_id for c in api.since(mark)
                     if c.method == "sendMessage" and c.status == 200 and c.text.startswith("已记录")}
        if wanted <= confirmed:
            return len(users) / (time.perf_counter() - start)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(wanted & confirmed)} of {len(users)} reports were confirmed")
        time.sleep(0.002)


def limiter_alone(api: FakeBotApi, chats: list[int]) -> float:
    """Messages per second through the bot's own rate limiter and HTTP stack with no handler behind it,
    sent one after another as the bot answers updates (one at a time, PTB's default)."""

    async def send_all() -> float:
        bot = ExtBot(TOKEN, base_url=api.url, rate_limiter=TelegramRateLimiter(max_retries=3))
        async with bot:
            start = time.perf_counter()
            for chat in chats:
                await bot.send_message(chat, "基线")
            return len(chats) / (time.perf_counter() - start)

    return asyncio.run(send_all())


def run(quick: bool = False) -> list[Figure]:
    sustained, burst, reps = (12, 6, 1) if quick else (90, 25, 3)
    baseline = "the bot's rate limiter and HTTP client alone, same number of sendMessage calls, no handler"
    figures = {
        sustained: Figure("telegram.e2e", f"End to end through Telegram, sustained: {sustained} reports from "
                          f"{sustained} users (real bot process, fake Bot API on 127.0.0.1)", "reports/s", baseline,
                          "msg/s", ratio_meaning="value / baseline: 1 means the rate limiter, not the bot, "
                          "sets the pace"),
        burst: Figure("telegram.e2e.burst", f"End to end through Telegram, within the limiter's burst: {burst} "
                      f"reports from {burst} users", "reports/s", baseline, "msg/s",
                      ratio_meaning="value / baseline: the fraction of the bare HTTP round trips"),
    }
    api = FakeBotApi(TOKEN)
    api.start()
    try:
        with temp_dir("telegram") as folder:
            *users, warm = bind_telegram_users(sqlite_url(folder), (sustained + burst) * reps + 1)
            env = clean_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api.url, BOT_DATABASE_URL=sqlite_url(folder),
                            BOT_LOG_LEVEL="WARNING")
            bot = BotProcess("bot", env, folder).start()
            try:
                push_reports(api, [warm])  # the first report warms the whole path
                for _ in range(reps):
                    for size, figure in figures.items():
                        chats, users = users[:size], users[size:]
                        time.sleep(1.1)  # the limiters refill (30 a second): each measurement starts rested
                        base = limiter_alone(api, chats)
                        time.sleep(1.1)
                        figure.add(push_reports(api, chats), base)
            finally:
                bot.stop()
    finally:
        api.stop()
    figures[sustained].notes.append(
        "Telegram allows a bot about 30 messages a second overall (a burst of 30, then 30/s); the bot's "
        "AIORateLimiter keeps to it, and to about one a second per private chat, so one user per report.")
    return list(figures.values())
