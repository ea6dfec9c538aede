"""The reminder plan: a pure function of the campaign config and the working-day calendar.

No clock, no database, no I/O: the scheduler asks for the whole plan and sends each entry once per
recipient, keyed by Planned.id. Ids therefore depend only on config values (deadline key, offset,
month), never on the time the plan was built, so a restart does not send anything twice.
"""

from __future__ import annotations

import calendar as _monthdays
import datetime as dt
from dataclasses import dataclass

from campaign import Campaign, Deadline, Indicator
from campaign.scopes import Scope, county_scope, system_scope
from reminders.calendar import WorkCalendar

KINDS = ("deadline", "wanghong-start", "wanghong-end", "nudge", "progress")
MISSING = "{missing}"  # filled by delivery with the departments that have not reported
EXPORT_HINT = "发送“导出”可获取统计表（附件2）。"
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


@dataclass(frozen=True)
class Planned:
    id: str  # stable: with the recipient, the exactly-once key of a delivery
    at: dt.datetime  # aware, in the campaign time zone
    kind: str  # one of KINDS
    departments: tuple[str, ...]  # recipient department keys; every active contact of them gets it
    admins_only: bool  # True: only admin contacts of those departments (the progress list for 网监科)
    text: str  # first line is the essence (the schedule CLI prints only that line)
    deadline: str | None  # deadline key for deadline / nudge / progress
    due: dt.date | None  # the printed deadline date for deadline / nudge / progress
    since: dt.date | None = None  # nudge / progress: bookings on or after this day count as reporting
    scope: tuple[str, ...] = ()  # progress: the units the list is about (empty: the deadline's whole audience)

    @property
    def day(self) -> dt.date:
        return self.at.date()

    @property
    def headline(self) -> str:
        return self.text.split("\n", 1)[0]

    def fill(self, missing: str) -> str:
        """The text with the {missing} placeholder replaced (str.replace: config text may hold braces)."""
        return self.text.replace(MISSING, missing)


def build_plan(campaign: Campaign, calendar: WorkCalendar) -> list[Planned]:
    """Every reminder of the campaign, sorted by time and then id."""
    plan: list[Planned] = []
    for deadline in campaign.deadlines:
        plan.extend(_deadline_entries(campaign, calendar, deadline))
    plan.extend(_wanghong_entries(campaign, calendar))
    return sorted(plan, key=lambda p: (p.at, p.id))


# --------------------------------------------------------------------------- deadlines


def audience_of(campaign: Campaign, deadline: Deadline) -> tuple[str, ...]:
    """Recipients: "all" means every department, "city" the city-level ones (a parent marks county level)."""
    if deadline.audience == "city":
        return tuple(d.key for d in campaign.departments if d.parent is None)
    return tuple(d.key for d in campaign.departments)


def reminder_days(campaign: Campaign, calendar: WorkCalendar, deadline: Deadline) -> dict[int, dt.date]:
    """Offset → the working day its reminder goes out, after moving and de-duplicating.

    A day off moves the reminder to the previous working day (never later: it would come too late).
    Offsets that end up on the same day collapse into the smallest one, which is the most urgent
    text; days before the campaign start are dropped (nobody is registered yet).
    """
    days: dict[int, dt.date] = {}
    for offset in sorted(set(campaign.reminders.offsets_days)):
        day = calendar.previous_workday(deadline.date - dt.timedelta(days=offset))
        if day < campaign.start or day in days.values():
            continue
        days[offset] = day
    return days


def _deadline_entries(campaign: Campaign, calendar: WorkCalendar, deadline: Deadline) -> list[Planned]:
    recipients = audience_of(campaign, deadline)
    days = reminder_days(campaign, calendar, deadline)
    if not recipients or not days:
        return []
    entries = [
        Planned(
            id=f"deadline:{deadline.key}:{offset}",
            at=_at(campaign, day),
            kind="deadline",
            departments=recipients,
            admins_only=False,
            text=_deadline_text(calendar, deadline, day),
            deadline=deadline.key,
            due=deadline.date,
        )
        for offset, day in days.items()
    ]
    # The last reminder before the deadline also chases those who have booked nothing yet and
    # tells the coordinator who they are; delivery fills {missing} from the ledger.
    last = max(days.values())
    since = _since(campaign, deadline)
    entries.append(
        Planned(
            id=f"nudge:{deadline.key}",
            at=_at(campaign, last),
            kind="nudge",
            departments=recipients,
            admins_only=False,
            text=_nudge_text(calendar, deadline, last, since),
            deadline=deadline.key,
            due=deadline.date,
            since=since,
        )
    )
    entries.append(
        Planned(
            id=f"progress:{deadline.key}",
            at=_at(campaign, last),
            kind="progress",
            departments=(campaign.coordinator,),
            admins_only=True,
            text=_progress_text(
                calendar, deadline, last, since, sum(1 for d in recipients if campaign.department(d).group)
            ),
            deadline=deadline.key,
            due=deadline.date,
            since=since,
        )
    )
    entries += _scoped_progress(campaign, calendar, deadline, last, since, set(recipients))
    return entries


def _scoped_progress(campaign: Campaign, calendar: WorkCalendar, deadline: Deadline, day: dt.date, since: dt.date,
                     audience: set[str]) -> list[Planned]:
    """Each county's 市场监管局 gets the list of its county's laggards; each city department its system's.

    County units report to their superior department and copy the county's market regulation bureau,
    so both hear who has not reported. Only units this deadline is addressed to are counted.
    """
    entries: list[Planned] = []
    targets: list[tuple[str, str, Scope]] = []
    for county in campaign.counties:
        bureau = next((d.key for d in campaign.county_departments(county.key) if d.system == campaign.coordinator),
                      None)
        if bureau is not None:
            targets.append((f"county:{county.key}", bureau, county_scope(campaign, county.key)))
    # The coordinator's admins already get the whole list (progress:<deadline>).
    for head in (d for d in campaign.departments if d.county is None and d.key != campaign.coordinator):
        targets.append((f"system:{head.key}", head.key, system_scope(campaign, head.key)))
    for suffix, recipient, scope in targets:
        about = tuple(d.key for d in scope.reporting(campaign) if d.key in audience and d.county is not None)
        if not about or recipient not in audience:
            continue
        entries.append(Planned(
            id=f"progress:{deadline.key}:{suffix}",
            at=_at(campaign, day),
            kind="progress",
            departments=(recipient,),
            admins_only=False,
            text=_progress_text(calendar, deadline, day, since, len(about), scope.label),
            deadline=deadline.key,
            due=deadline.date,
            since=since,
            scope=about,
        ))
    return entries


def _since(campaign: Campaign, deadline: Deadline) -> dt.date:
    """The previous deadline's date, or the campaign start: reporting is counted from there."""
    earlier = [d.date for d in campaign.deadlines if d.date < deadline.date]
    return max(earlier, default=campaign.start)


def _status(calendar: WorkCalendar, deadline: Deadline, day: dt.date) -> str:
    """How urgent it is on that day; a rest-day deadline is due on the working day before it."""
    if day == deadline.date:
        return "今天截止"
    if day >= calendar.previous_workday(deadline.date):
        return f"今天截止（{_md(deadline.date)}是休息日）"
    left = (deadline.date - day).days
    when = "明天" if left == 1 else f"还有{left}天"
    return f"{when}截止（{_md(deadline.date)}）"


def _due_line(calendar: WorkCalendar, deadline: Deadline) -> str:
    line = f"截止：{_long(deadline.date)}"
    if not calendar.is_workday(deadline.date):
        # Offices are closed on the deadline day, so the material has to go out on the workday before.
        last_workday = calendar.previous_workday(deadline.date)
        line += f"；{_md(deadline.date)}是休息日，请在{_short(last_workday)}前报送。"
    return line


def _deadline_text(calendar: WorkCalendar, deadline: Deadline, day: dt.date) -> str:
    return "\n".join(
        [
            f"【报送提醒】{deadline.title}：{_status(calendar, deadline, day)}",
            f"报送材料：{deadline.material}",
            f"报送对象：{deadline.recipient}",
            _due_line(calendar, deadline),
            EXPORT_HINT,
        ]
    )


def _nudge_text(calendar: WorkCalendar, deadline: Deadline, day: dt.date, since: dt.date) -> str:
    return "\n".join(
        [
            f"【催报】{deadline.title}{_status(calendar, deadline, day)}，贵单位自{_md(since)}以来尚未登记数据",
            f"尚未登记的单位：{MISSING}",
            _due_line(calendar, deadline),
            f"请尽快登记本单位数据并报送{deadline.recipient}；{EXPORT_HINT}",
        ]
    )


def _progress_text(calendar: WorkCalendar, deadline: Deadline, day: dt.date, since: dt.date, total: int,
                   label: str = "") -> str:
    where = f"{label}县级单位中" if label else ""
    return "\n".join(
        [
            f"【报送进度】{deadline.title}{_status(calendar, deadline, day)}，{where}尚未登记数据的单位：{MISSING}",
            f"统计范围：应报{total}个单位，自{_md(since)}以来的登记。",
            _due_line(calendar, deadline),
            f"已向未登记单位发送催报；{EXPORT_HINT}",
        ]
    )


# --------------------------------------------------------------------------- 每月一周查网红


def wanghong_week(year: int, month: int, week: int) -> tuple[dt.date, dt.date]:
    """First and last day of week N of a month: days 1+7(N-1)..7N; week 5 is the last 7 days."""
    if not 1 <= week <= 5:
        raise ValueError(f"wanghong week must be 1–5, got {week}")
    length = _monthdays.monthrange(year, month)[1]
    first = length - 6 if week == 5 else 1 + 7 * (week - 1)
    return dt.date(year, month, first), dt.date(year, month, first + 6)


def _months(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    months: list[tuple[int, int]] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def wanghong_indicators(campaign: Campaign) -> tuple[Indicator, ...]:
    """The 网红店 rows the enforcement week fills, from the groups of the departments that run it."""
    seen: dict[str, Indicator] = {}
    for key in campaign.wanghong.departments:
        for indicator in campaign.indicators_of(key):
            if "网红" in indicator.name:
                seen.setdefault(indicator.key, indicator)
    return tuple(seen.values())


def _wanghong_entries(campaign: Campaign, calendar: WorkCalendar) -> list[Planned]:
    recipients = campaign.wanghong.departments
    if not recipients:
        return []
    entries: list[Planned] = []
    for year, month in _months(campaign.start, campaign.end):
        first, last = wanghong_week(year, month, campaign.wanghong.week)
        # Clipped to the campaign: the August week began a day before the notice was issued, and
        # its start message then goes out on the first campaign day instead of being lost.
        span = (max(first, campaign.start), min(last, campaign.end))
        workdays = [d for d in _days(*span) if calendar.is_workday(d)]
        if not workdays:
            continue
        ident = f"wanghong:{year:04d}-{month:02d}"
        start_text, end_text = _wanghong_start_text(first, last), _wanghong_end_text(campaign, first, last)
        for suffix, kind, day, text in (
            ("start", "wanghong-start", workdays[0], start_text),
            ("end", "wanghong-end", workdays[-1], end_text),
        ):
            entries.append(
                Planned(
                    id=f"{ident}:{suffix}",
                    at=_at(campaign, day),
                    kind=kind,
                    departments=recipients,
                    admins_only=False,
                    text=text,
                    deadline=None,
                    due=None,
                )
            )
    return entries


def _wanghong_start_text(first: dt.date, last: dt.date) -> str:
    return "\n".join(
        [
            f"【每月一周查网红】{_md(first)}至{_md(last)}是本月查网红周",
            "重点：线上监测、线下检查餐饮“网红店”，办结问题线索，查处违法案件。",
            "督促网络餐饮服务第三方平台“下线”违法违规餐饮“网红店”，组织开展问题“回头看”。",
            "检查情况请随时登记，周末前将提醒登记本周数据。",
        ]
    )


def _wanghong_end_text(campaign: Campaign, first: dt.date, last: dt.date) -> str:
    indicators = wanghong_indicators(campaign)
    lines = [f"【每月一周查网红】请登记本月查网红周（{_md(first)}至{_md(last)}）的数据"]
    if indicators:
        lines.append("统计表（附件2）相关项目：")
        lines.extend(f"{i.no}. {i.label}" for i in indicators)
        # The reader books right from this message: show the shortest form that works.
        first_no, second_no = indicators[0].no, indicators[1 % len(indicators)].no
        lines.append(f"报数发“序号 数量”，多项用逗号分开，例如：{first_no} 1，{second_no} 5")
    lines.append(EXPORT_HINT)
    return "\n".join(lines)


# --------------------------------------------------------------------------- formatting


def _at(campaign: Campaign, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, campaign.reminders.time.replace(tzinfo=None), tzinfo=campaign.tz)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _md(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def _short(day: dt.date) -> str:
    return f"{_md(day)}（{WEEKDAYS[day.weekday()]}）"


def _long(day: dt.date) -> str:
    return f"{day.year}年{_short(day)}"
