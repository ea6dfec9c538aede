"""A bot killed in the middle of a broadcast: after the restart every message is delivered exactly once.

Before outbox leases, the sender claimed up to 50 rows as `sending` before sending any, and only `pending` rows
were ever claimed again: a SIGKILL (or a restart) during the batch lost every message in it, silently, since
their keys were taken. Now a claim carries a lease and takes a few rows at a time; the restarted bot takes the
rows whose lease ran out and sends each once.

The crash is placed deterministically: after some messages went out, the fake WeCom holds the next send back
(the bot is waiting for WeCom's answer), the test kills the bot, and the held send is then answered -1, so
nothing held was delivered.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from tests.fakes.process import BotProcess
from tests.fakes.wecom_api import ApiCall, FakeWeComApi, WeComSender
from tests.reliability.support import config_copy, free_ports, wecom_env

NAMED = {"王永辉": "wangyh", "张秀齐": "zhangxq", "李勤额": "liqe", "方广成": "fanggc", "戴超颖": "daicy",
         "蔡媛媛": "caiyy", "陈彬": "chenb", "陈明栋": "chenmd", "伊贤琦": "yixq", "肖方侃": "xiaofk",
         "王晓芳": "wangxf", "李泉南": "liqn"}
EXTRA = [(f"联络员{n:02d}", ("gaj", "wxb", "lyj", "yjj", "txb")[n % 5], f"extra{n:02d}") for n in range(24)]
ADMIN = "wangyh"
BROADCAST = "【通知】请今天下班前登记本周数据"


def _notices(calls: list[ApiCall]) -> Counter[str]:
    return Counter(c.touser for c in calls if c.path == "message/send" and c.errcode == 0 and BROADCAST in c.text)


def test_sigkill_mid_broadcast_then_every_message_once(tmp_path: Path) -> None:
    config = config_copy(tmp_path, wecom_ids=NAMED, extra_contacts=EXTRA,
                         edits={"grace_hours = 48": "grace_hours = 48\nlease_seconds = 2"})
    recipients = {u for u in NAMED.values() if u != ADMIN} | {u for _, _, u in EXTRA}
    database = tmp_path / "bot.db"
    (port,) = free_ports(1)
    with FakeWeComApi() as api:
        env = wecom_env(config, f"sqlite:///{database}", api, port)
        sender = WeComSender(f"http://127.0.0.1:{port}/wecom/callback")
        first = BotProcess("before", env, tmp_path).start()
        assert sender.text(ADMIN, "通知 请今天下班前登记本周数据")[0] == 200
        api.wait_sent(ADMIN, f"{len(recipients)}人")
        api.wait_for(lambda calls: len(_notices(calls)) >= 7)
        api.hold_and_drop()
        api.wait_held()  # the bot is now inside one send, its batch claimed
        first.kill()
        before = _notices(list(api.calls))
        with sqlite3.connect(database) as db:
            stranded = db.execute("SELECT count(*) FROM outbox WHERE status = 'sending'").fetchone()[0]
        assert stranded >= 1
        assert len(before) < len(recipients), "the broadcast finished before the kill: nothing was tested"
        api.release.set()  # the held send is answered -1: not delivered
        api.dropped.clear()

        second = BotProcess("after", env, tmp_path).start()
        api.wait_for(lambda calls: set(_notices(calls)) == recipients or None, timeout=60)
        # One more round of the sender after everything went out: nothing further may come.
        assert sender.text(ADMIN, "进度")[0] == 200
        api.wait_sent(ADMIN, "报数进度")
        assert second.stop() == 0
    counts = _notices(list(api.calls))
    assert set(counts) == recipients
    assert all(n == 1 for n in counts.values()), {u: n for u, n in counts.items() if n != 1}
    with sqlite3.connect(database) as db:
        states = dict(db.execute("SELECT status, count(*) FROM outbox WHERE key LIKE 'notify:%' GROUP BY status"))
    assert states == {"sent": len(recipients)}
