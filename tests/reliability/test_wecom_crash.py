"""WeCom acknowledges a message by our 200 answer and never sends it again: a bot killed after answering but
before booking must still book it when it comes back.

The booking is held up deterministically: the test locks the ledger's bookings table, so the bot answers
200 (the message is already in its inbox), reads who the member is, and then waits on the lock. The test sees
it waiting in pg_locks, kills the bot with SIGKILL, releases the lock and starts the bot again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from store.models import Booking, Entry
from tests.fakes.process import BotProcess
from tests.fakes.wecom_api import FakeWeComApi, WeComSender
from tests.reliability.support import config_copy, free_ports, wecom_env

USER = "fanggc"  # 方广成, 市公安局


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Ask the database again until it says yes; each question is a round trip, no sleep in between."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")


def test_an_answered_message_is_booked_after_a_crash(pg_url: str, tmp_path: Path) -> None:
    config = config_copy(tmp_path, wecom_ids={"方广成": USER})
    (port,) = free_ports(1)
    engine = create_engine(pg_url)
    with FakeWeComApi() as api:
        env = wecom_env(config, pg_url, api, port)
        sender = WeComSender(f"http://127.0.0.1:{port}/wecom/callback")
        first = BotProcess("before", env, tmp_path).start()
        assert sender.text(USER, "开始")[0] == 200
        api.wait_sent(USER, "市公安局的填报项目")

        with engine.connect() as locker:
            locker.execute(text("BEGIN"))
            locker.execute(text("LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE"))
            status, _ = sender.text(USER, "查处网络违法案件 3")
            assert status == 200  # WeCom now considers the message delivered
            with engine.connect() as watcher:
                _wait(lambda: bool(watcher.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))),
                      "the bot to wait for the bookings lock")
            first.kill()
            locker.execute(text("ROLLBACK"))

        with engine.connect() as conn:
            assert conn.scalar(select(func.count(Booking.id))) == 0  # the crash came before the booking

        second = BotProcess("after", env, tmp_path).start()
        api.wait_sent(USER, "累计 3 件")
        status, _ = sender.text(USER, "查处网络违法案件 2")
        api.wait_sent(USER, "累计 5 件")
        assert second.stop() == 0
    with engine.connect() as conn:
        assert conn.scalar(select(func.count(Booking.id))) == 2
        assert conn.scalar(select(func.sum(Entry.amount))) == 5
        assert conn.scalar(text("SELECT count(*) FROM inbox WHERE handled_at IS NULL")) == 0
    engine.dispose()
