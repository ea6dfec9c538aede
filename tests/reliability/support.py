"""Shared parts of the reliability tests: config copies, real `python -m bot run` processes, ledger queries.

Every bot here is a separate process started the way systemd starts it; the tests talk to it only through
the fake Bot API / fake WeCom on 127.0.0.1 and read the results from the real database. Nothing sleeps:
waits are on READY lines, condition variables and process exits, each with a timeout.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, func, select

from store.models import Booking, DepartmentRow, Entry, Total
from tests.fakes import wecom_api
from tests.fakes.process import PROJECT, BotProcess, clean_env

# The flood limit is tested elsewhere; here thousands of reports from one account are the point.
UNLIMITED = {"user_burst = 20": "user_burst = 1000000", "user_per_second = 1.0": "user_per_second = 1000000.0"}


def config_copy(folder: Path, *, edits: Mapping[str, str] = UNLIMITED, wecom_ids: Mapping[str, str] | None = None,
                extra_contacts: Iterable[tuple[str, str, str]] = (), append: str = "") -> Path:
    """The project's config.toml with exact text edits (each must match once), WeCom userids for named
    contacts, extra contacts (name, department key, userid) and extra TOML at the end; written to folder."""
    text = (PROJECT / "config.toml").read_text(encoding="utf-8")
    for old, new in {**UNLIMITED, **edits}.items():
        assert text.count(old) == 1, f"config.toml: {old!r} is not there exactly once"
        text = text.replace(old, new)
    for name, userid in (wecom_ids or {}).items():
        line = f'name = "{name}"\n'
        assert text.count(line) == 1, name
        text = text.replace(line, f'{line}wecom_userid = "{userid}"\n')
    # TOML lets an array of tables continue after other tables, so extra contacts can simply follow.
    for name, department, userid in extra_contacts:
        text += f'\n[[contacts]]\nname = "{name}"\ndepartment = "{department}"\nwecom_userid = "{userid}"\n'
    path = folder / "config.toml"
    path.write_text(text + append, encoding="utf-8")
    return path


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def base_env(config: Path, url: str, **extra: str) -> dict[str, str]:
    return clean_env(BOT_CONFIG=str(config), BOT_DATABASE_URL=url, BOT_LOG_LEVEL="INFO", **extra)


def wecom_env(config: Path, url: str, api: wecom_api.FakeWeComApi, port: int) -> dict[str, str]:
    return base_env(config, url, WECOM_CORP_ID=wecom_api.CORP_ID, WECOM_AGENT_ID=str(wecom_api.AGENT_ID),
                    WECOM_SECRET=wecom_api.SECRET, WECOM_TOKEN=wecom_api.TOKEN,
                    WECOM_ENCODING_AES_KEY=wecom_api.AES_KEY, WECOM_API_BASE_URL=api.base_url,
                    WECOM_LISTEN=f"127.0.0.1:{port}")


@contextmanager
def wecom_instances(config: Path, url: str, api: wecom_api.FakeWeComApi, folder: Path,
                    count: int = 2) -> Iterator[tuple[list[BotProcess], list[int]]]:
    """`count` bots serving WeCom on ports of their own, started together and ready: (bots, ports). On leaving,
    every bot is stopped, and each must have exited with 0 and logged no traceback."""
    ports = free_ports(count)
    bots = [BotProcess(f"bot{n}", wecom_env(config, url, api, port), folder).launch() for n, port in enumerate(ports)]
    try:
        for bot in bots:
            bot.wait_ready()
        yield bots, ports
    finally:
        for bot in bots:
            bot.stop()
    for bot in bots:
        assert bot.proc is not None and bot.proc.returncode == 0, bot.log()[-3000:]
        assert "Traceback" not in bot.log(), bot.log()[-3000:]


@dataclass(frozen=True)
class Ledger:
    """What the database holds, read once: every booking with its entries, and both kinds of totals."""

    bookings: dict[tuple[str, str], list[tuple[str, Decimal]]]  # (chat id, message id) -> entries
    duplicate_keys: list[tuple[str, str]]  # booking keys found more than once (the unique key forbids it)
    entry_sums: dict[tuple[str, str], Decimal]  # (department key, indicator) -> sum of entries
    totals: dict[tuple[str, str], Decimal]  # the maintained totals table, same keys

    @classmethod
    def read(cls, url: str, transport: str) -> Ledger:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Booking.chat_id, Booking.message_id, Entry.indicator, Entry.amount)
                    .join(Entry, Entry.booking_id == Booking.id).where(Booking.transport == transport)
                    .order_by(Entry.id)
                ).all()
                keys = Counter(tuple(r) for r in conn.execute(
                    select(Booking.chat_id, Booking.message_id).where(Booking.transport == transport)))
                sums = conn.execute(
                    select(DepartmentRow.key, Entry.indicator, func.sum(Entry.amount))
                    .join(DepartmentRow, DepartmentRow.id == Entry.department_id)
                    .group_by(DepartmentRow.key, Entry.indicator)
                ).all()
                totals = conn.execute(
                    select(DepartmentRow.key, Total.indicator, Total.amount)
                    .join(DepartmentRow, DepartmentRow.id == Total.department_id)
                ).all()
        finally:
            engine.dispose()
        bookings: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
        for chat_id, message_id, indicator, amount in rows:
            bookings.setdefault((chat_id, message_id), []).append((indicator, amount))
        return cls(
            bookings=bookings,
            duplicate_keys=[key for key, n in keys.items() if n > 1],
            entry_sums={(dep, ind): Decimal(total) for dep, ind, total in sums},
            totals={(dep, ind): amount for dep, ind, amount in totals if amount},
        )


# "· 查处网络违法案件 +3 件，累计 17 件": one line of a 已记录 confirmation.
CONFIRMED_LINE = re.compile(r"^· (?P<name>.+) \+(?P<amount>[\d.]+) (?P<unit>\S+)，累计 (?P<total>[\d.]+) \S+$",
                            re.MULTILINE)


def confirmed_lines(text: str) -> list[tuple[str, str, Decimal, Decimal]]:
    """(indicator name, unit, amount, running total) for each line of a 已记录 reply; [] for other texts."""
    if not text.startswith("已记录"):
        return []
    return [(m["name"], m["unit"], Decimal(m["amount"]), Decimal(m["total"])) for m in CONFIRMED_LINE.finditer(text)]
