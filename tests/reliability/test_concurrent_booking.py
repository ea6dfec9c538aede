"""Twenty contacts book at once through two bot instances on one PostgreSQL database: nothing lost, nothing doubled.

Two real `python -m bot run` processes serve WeCom on two ports, as behind a load balancer; each member's
callbacks alternate between them, so one member's reports are booked by both instances at the same time,
and members of one department contend for its lock. Every report has its own amount within its member's
stream, so each 已记录 the fake WeCom delivers names the very report it confirms.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from campaign import Campaign, load_campaign
from tests.fakes.wecom_api import FakeWeComApi, WeComSender
from tests.reliability.support import Ledger, config_copy, confirmed_lines, wecom_instances

# The nine listed contacts whose departments have rows in 附件2, and eleven made-up colleagues.
LISTED = {"王永辉": "wangyh", "张秀齐": "zhangxq", "李勤额": "liqe", "方广成": "fanggc", "陈彬": "chenb",
          "陈明栋": "chenmd", "伊贤琦": "yixq", "肖方侃": "xiaofk", "王晓芳": "wangxf"}
EXTRA = [("林志强", "scjgj", "linzq"), ("黄丽萍", "scjgj", "huanglp"), ("郑建华", "scjgj", "zhengjh"),
         ("吴晓东", "scjgj", "wuxd"), ("刘雅琴", "scjgj", "liuyq"), ("许文斌", "scjgj", "xuwb"),
         ("陈建国", "gaj", "chenjg"), ("杨海燕", "gaj", "yanghy"), ("罗俊杰", "gaj", "luojj"),
         ("邱美玲", "gaj", "qiuml"), ("谢振宇", "gaj", "xiezy")]
REPORTS_EACH = 100  # 20 members: 2,000 reports, one in five of them with two lines
# Load tests send a member far more than WeCom's 30 messages a minute; the fake WeCom has no such cap.
WECOM_SECTION = "\n[wecom]\nmember_per_minute = 100000\n"


@dataclass(frozen=True)
class Report:
    userid: str
    msg_id: int
    text: str
    amount: Decimal  # unique within the member's stream: the confirmation's "+amount" names the report
    lines: tuple[tuple[str, Decimal], ...]  # (indicator key, amount)


def workload(campaign: Campaign, members: dict[str, str]) -> list[Report]:
    """REPORTS_EACH reports per member (userid -> department key) over its department's items, by number."""
    msg_ids = itertools.count(7_400_000_000_000_000_001)
    reports = []
    for userid, department in members.items():
        own = campaign.indicators_of(department)
        for k in range(1, REPORTS_EACH + 1):
            first = (k - 1) % len(own)
            picked = [first] if len(own) == 1 or k % 5 else [first, (first + 1) % len(own)]
            reports.append(Report(userid, next(msg_ids), "，".join(f"{own[i].no} {k}" for i in picked), Decimal(k),
                                  tuple((own[i].key, Decimal(k)) for i in picked)))
    return reports


class Confirmations:
    """The fake WeCom's message/send calls per member, read incrementally (thousands of calls, no rescans)."""

    def __init__(self, api: FakeWeComApi) -> None:
        self.api = api
        self.texts: dict[str, list[str]] = defaultdict(list)
        self.booked = 0  # 已记录 replies seen
        self.refusals: list[str] = []  # an apology, "system busy" or "too fast": a report not booked
        self._read = 0

    def _scan(self, done: Callable[[], bool]) -> bool:
        for call in self.api.calls[self._read:]:
            if call.path == "message/send" and call.errcode == 0:
                self.texts[call.touser].append(call.text)
                self.booked += call.text.startswith("已记录")
                if call.text.startswith(("抱歉", "系统暂时忙", "您发得太快")):
                    self.refusals.append(call.text)
        self._read = len(self.api.calls)
        return done()

    def wait(self, done: Callable[[], bool], timeout: float) -> None:
        with self.api.changed:  # calls are appended under this lock, and each append notifies
            if not self.api.changed.wait_for(lambda: self._scan(done), timeout):
                raise AssertionError(f"not done within {timeout} s: {self.booked} confirmations")


def test_twenty_contacts_book_concurrently_through_two_instances(pg_url: str, tmp_path: Path) -> None:
    config = config_copy(tmp_path, wecom_ids=LISTED, extra_contacts=EXTRA, append=WECOM_SECTION)
    campaign = load_campaign(config)
    departments = {c.name: c.department for c in campaign.contacts}
    members = {userid: departments[name] for name, userid in LISTED.items()}
    members.update({userid: department for _, department, userid in EXTRA})
    assert len(members) == 20 and all(campaign.indicators_of(d) for d in members.values())
    reports = workload(campaign, members)

    with FakeWeComApi() as api:
        # Both instances start together on the empty database: migration and seeding must not collide either.
        with wecom_instances(config, pg_url, api, tmp_path) as (_, ports):
            senders = [WeComSender(f"http://127.0.0.1:{port}/wecom/callback") for port in ports]
            seen = Confirmations(api)
            # Each member's first message (bound by the enterprise directory, greeted once) before the load.
            greet_ids = itertools.count(7_300_000_000_000_000_001)
            for n, userid in enumerate(members):
                assert senders[n % 2].text(userid, "开始", next(greet_ids)) == (200, "")
            seen.wait(lambda: all(any("填报项目" in t for t in seen.texts[u]) for u in members), timeout=30)

            by_member: dict[str, list[Report]] = defaultdict(list)
            for report in reports:
                by_member[report.userid].append(report)
            refused: list[tuple[Report, tuple[int, str]]] = []
            lock = threading.Lock()

            def post(n: int, stream: list[Report]) -> None:
                # One member sends one message after the other; the load balancer alternates the instances.
                for k, report in enumerate(stream):
                    answer = senders[(n + k) % 2].text(report.userid, report.text, report.msg_id)
                    if answer != (200, ""):
                        with lock:
                            refused.append((report, answer))

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(by_member)) as pool:
                for future in [pool.submit(post, n, s) for n, s in enumerate(by_member.values())]:
                    future.result()
            assert not refused, refused[:5]
            seen.wait(lambda: seen.booked >= len(reports) or bool(seen.refusals), timeout=120)
            assert not seen.refusals, seen.refusals[:3]  # e.g. a deadlock between two bookings, answered 抱歉
            elapsed = time.monotonic() - started
        seen.wait(lambda: True, timeout=1)  # read what the instances sent while stopping, if anything

    # Every report was confirmed exactly once, and nothing else went wrong on the way.
    labels = {(i.name, i.unit): i.key for i in campaign.indicators}
    running: dict[tuple[str, str], list[Decimal]] = defaultdict(list)  # (department, indicator) -> totals shown
    for userid, texts in seen.texts.items():
        confirmed = [confirmed_lines(t) for t in texts if t.startswith("已记录")]
        amounts = Counter(lines[0][2] for lines in confirmed)
        assert amounts == Counter({r.amount: 1 for r in by_member[userid]}), userid
        # 开始: the greeting and the item list (admins may also hear who the directory lookup did not find)
        greeting = [t for t in texts if not t.startswith("已记录") and "通讯录里没有找到" not in t]
        assert len(greeting) == 2 and "您好" in greeting[0] and "填报项目" in greeting[1], greeting
        for lines in confirmed:
            for name, unit, _, total in lines:
                running[(members[userid], labels[(name, unit)])].append(total)

    # The ledger holds exactly the reports sent: each message once, with exactly its lines.
    ledger = Ledger.read(pg_url, "wecom")
    assert ledger.duplicate_keys == []
    expected = {(r.userid, str(r.msg_id)): sorted(r.lines) for r in reports}
    assert {key: sorted(lines) for key, lines in ledger.bookings.items()} == expected
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in reports:
        for indicator, amount in r.lines:
            sums[(members[r.userid], indicator)] += amount
    assert ledger.entry_sums == sums
    assert ledger.totals == sums  # what 汇总 and the export read
    # Bookings of one department were serialised across both instances: no two confirmations showed the
    # same running total, and the last one shown is the final total.
    for key, shown in running.items():
        assert len(shown) == len(set(shown)), key
        assert max(shown) == sums[key], key
    print(f"\n{len(reports)} reports ({sum(len(r.lines) for r in reports)} entries) from {len(members)} members "
          f"through 2 instances in {elapsed:.1f} s ({len(reports) / elapsed:.0f} reports/s)")
