"""Reminders go out exactly once with two bot instances on one PostgreSQL database.

Two real `python -m bot run` processes serve WeCom and schedule the same plan. The campaign in the config copy
has one deadline tomorrow with a single reminder one day before at 00:00 (today, or the working day before),
so at start both instances find it late but still useful (until the end of tomorrow, whenever the test runs)
and send it at once (ReminderService.start), racing each other for the outbox claims. Then one
instance is restarted (it finds the reminder late again), and both answer an ordinary message, so any second
send would have had its chance before the count is taken again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, select

from campaign import load_campaign
from store.models import OutboxRow
from tests.fakes.process import PROJECT
from tests.fakes.wecom_api import ApiCall, FakeWeComApi, WeComSender
from tests.reliability.support import config_copy, wecom_instances

USERIDS = {"王永辉": "wangyh", "张秀齐": "zhangxq", "李勤额": "liqe", "方广成": "fanggc", "戴超颖": "daicy",
           "蔡媛媛": "caiyy", "陈彬": "chenb", "陈明栋": "chenmd", "伊贤琦": "yixq", "肖方侃": "xiaofk",
           "王晓芳": "wangxf", "李泉南": "liqn"}  # all twelve contacts of 附件1: everyone is reachable
KINDS = ("【报送提醒】", "【催报】", "【报送进度】")


def due_now_config(folder: Path) -> Path:
    """The campaign moved to today: one deadline tomorrow, reminded a day before at 00:00 (or on the working
    day before that), which has passed but stays useful until the end of tomorrow: no midnight edge."""
    today = dt.datetime.now(dt.UTC).astimezone(load_campaign(PROJECT / "config.toml").tz).date()
    original = (PROJECT / "config.toml").read_text(encoding="utf-8")
    deadlines = original[original.index("[[deadlines]]"):original.index("[reminders]")]
    return config_copy(folder, wecom_ids=USERIDS, edits={
        "start = 2023-08-09\nend = 2023-11-30\ntimezone":
            f"start = {today - dt.timedelta(days=30)}\nend = {today + dt.timedelta(days=30)}\ntimezone",
        deadlines: f"[[deadlines]]\nkey = \"today\"\ndate = {today + dt.timedelta(days=1)}\n"
                   'audience = "all"\ntitle = "今日材料"\n'
                   'material = "统计表（附件2）"\nrecipient = "市市场监管局网监科"\n\n',
        'offsets_days = [7, 3, 1, 0]\ntime = "09:00"': 'offsets_days = [1]\ntime = "00:00"',
        "grace_hours = 48": "grace_hours = 720",  # a long holiday before today must not make it too late
        'departments = ["scjgj"]': "departments = []",  # no 每月一周查网红 messages in this test
    })


def reminders(calls: list[ApiCall]) -> Counter[tuple[str, str]]:
    """(userid, text) of every reminder WeCom accepted, counted."""
    return Counter((c.touser, c.text) for c in calls
                   if c.path == "message/send" and c.errcode == 0 and c.text.startswith(KINDS))


def test_reminders_go_out_exactly_once_with_two_instances(pg_url: str, tmp_path: Path) -> None:
    config = due_now_config(tmp_path)
    campaign = load_campaign(config)
    # Who gets what: the deadline reminder reaches everyone; the 催报 the contacts of every department with
    # rows in 附件2 (nobody has booked anything); the progress list the coordinator's admins.
    by_name = {c.name: c for c in campaign.contacts}
    expected = Counter({(userid, "【报送提醒】"): 1 for userid in USERIDS.values()})
    expected.update({(USERIDS[name], "【催报】"): 1 for name, c in by_name.items()
                     if campaign.department(c.department).group})
    expected.update({(USERIDS[name], "【报送进度】"): 1 for name, c in by_name.items()
                     if c.is_admin and c.department == campaign.coordinator})
    # …and each other city department whose system has county units with rows, the list of those (issue 14).
    systems = {"wxb", "gaj", "lyj", "yjj", "yzj"}
    expected.update({(USERIDS[name], "【报送进度】"): 1 for name, c in by_name.items() if c.department in systems})
    assert sum(expected.values()) == 12 + 9 + 2 + 5

    with FakeWeComApi() as api, wecom_instances(config, pg_url, api, tmp_path) as (bots, ports):
        api.wait_for(lambda calls: sum(reminders(calls).values()) >= sum(expected.values()), timeout=30)

        # A restarted instance finds the same reminder late again; its claims must all fail.
        assert bots[0].stop() == 0, bots[0].log()[-3000:]
        bots[0].start()
        # Each instance answers one more message: a member's messages are handled in order, so anything
        # either instance still had queued would have gone out before these answers.
        for port, userid in zip(ports, ("fanggc", "wangyh"), strict=True):
            before = len(api.sent(userid))
            assert WeComSender(f"http://127.0.0.1:{port}/wecom/callback").text(userid, "指标") == (200, "")
            api.wait_sent(userid, "填报项目", after=before)
        sent = reminders(list(api.calls))

    assert [pair for pair, n in sent.items() if n > 1] == []  # nothing twice
    got = Counter((userid, next(kind for kind in KINDS if text.startswith(kind))) for userid, text in sent)
    assert got == expected
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxRow.key, OutboxRow.status, OutboxRow.attempts)).all()
    finally:
        engine.dispose()
    assert len(rows) == sum(expected.values())
    assert {(status, attempts) for _, status, attempts in rows} == {("sent", 1)}  # each claimed and sent once
