"""The database goes away under a running bot: users are told to try again, nothing is half-booked,
and the bot recovers by itself when the database returns. Real processes, a real PostgreSQL server."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from store.models import Booking, Entry
from tests.fakes.process import clean_env
from tests.pg import Cluster, find_bin, start_cluster


class ConsoleProcess:
    """`python -m bot console` driven line by line; replies are read with a timeout, never a sleep."""

    def __init__(self, url: str, name: str, cwd: Path) -> None:
        env = clean_env(BOT_DATABASE_URL=url)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--as", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env, bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.expect("控制台")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, wanted: str, timeout: float = 30) -> str:
        seen = []
        while True:
            line = self.lines.get(timeout=timeout)
            seen.append(line)
            if wanted in line:
                return "\n".join(seen)

    def say(self, line: str, wanted: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.expect(wanted)

    def close(self) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    if find_bin() is None:
        pytest.skip("PostgreSQL is not installed on this machine (no initdb found)")
    cluster = start_cluster()
    assert cluster is not None
    yield cluster
    cluster.stop()


def test_database_outage_and_recovery(own_cluster: Cluster, tmp_path: Path) -> None:
    url = own_cluster.url()
    bot = ConsoleProcess(url, "方广成", tmp_path)
    assert "累计 3 件" in bot.say("查处网络违法案件 3", "累计")

    own_cluster.pause()
    down = bot.say("查处网络违法案件 2，清理网上违法有害信息 5", "系统暂时忙")
    assert "没有记上" in down and "Traceback" not in down
    assert "系统暂时忙" in bot.say("汇总", "系统暂时忙")

    own_cluster.resume()  # no restart of the bot
    assert "累计 7 件" in bot.say("查处网络违法案件 4", "累计")
    stderr = bot.close()
    assert "Traceback" not in stderr

    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count(Booking.id))) == 2
        assert conn.scalar(select(func.count(Entry.id))) == 2  # the refused two-line report left nothing behind
        assert conn.scalar(text("SELECT count(*) FROM entries WHERE indicator = 'ga4'")) == 0
    engine.dispose()
