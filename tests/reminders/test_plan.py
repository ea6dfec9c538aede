"""build_plan over the real 2023 campaign and over variants made with dataclasses.replace."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaign import Campaign, load_campaign
from reminders.calendar import WorkCalendar
from reminders.plan import KINDS, Planned, build_plan, wanghong_week

D = dt.date
ALL_11 = ("scjgj", "wxb", "gaj", "swj", "wlj", "lyj", "yjj", "txb", "yzj", "hg", "sw")


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign()


@pytest.fixture(scope="module")
def plan(campaign: Campaign) -> list[Planned]:
    return build_plan(campaign, WorkCalendar())


def by_id(plan: list[Planned]) -> dict[str, Planned]:
    return {p.id: p for p in plan}


def days(plan: list[Planned], prefix: str) -> dict[str, dt.date]:
    return {p.id: p.day for p in plan if p.id.startswith(prefix)}


# --------------------------------------------------------------------------- the whole 2023 campaign


def test_every_message_is_on_a_campaign_workday_at_nine(campaign: Campaign, plan: list[Planned]) -> None:
    cal = WorkCalendar()
    assert plan
    for p in plan:
        assert cal.is_workday(p.day), p.id
        assert campaign.start <= p.day <= campaign.end, p.id
        assert p.at.tzinfo == ZoneInfo("Asia/Shanghai")
        assert p.at.time() == dt.time(9, 0)
        assert p.kind in KINDS
    assert cal.unknown_years() == set()


def test_nothing_during_national_day(plan: list[Planned]) -> None:
    assert not [p.id for p in plan if D(2023, 9, 29) <= p.day <= D(2023, 10, 6)]


def test_make_up_working_days_are_used(plan: list[Planned]) -> None:
    # Sunday 10-08 is a make-up working day and the first day of October's 查网红 week.
    assert by_id(plan)["wanghong:2023-10:start"].day == D(2023, 10, 8)


def test_sorted_unique_and_stable(campaign: Campaign, plan: list[Planned]) -> None:
    assert plan == sorted(plan, key=lambda p: (p.at, p.id))
    assert len({p.id for p in plan}) == len(plan)
    assert build_plan(campaign, WorkCalendar()) == plan
    shuffled = replace(campaign, deadlines=tuple(reversed(campaign.deadlines)))
    assert build_plan(shuffled, WorkCalendar()) == plan


def test_plan_does_not_depend_on_the_clock(campaign: Campaign, plan: list[Planned]) -> None:
    with time_machine.travel(dt.datetime(2031, 5, 1, 12, tzinfo=dt.UTC), tick=False):
        assert build_plan(campaign, WorkCalendar()) == plan


# --------------------------------------------------------------------------- deadline reminders


def test_deadline_days_2023(plan: list[Planned]) -> None:
    assert days(plan, "deadline:") == {
        # 08-20 is a Sunday: 7 → 08-13 Sun → 08-11 Fri; 3 → 08-17 Thu;
        # 1 → 08-19 Sat → 08-18 Fri and 0 → 08-20 Sun → 08-18 Fri collide: the smaller offset stays.
        "deadline:midterm:7": D(2023, 8, 11),
        "deadline:midterm:3": D(2023, 8, 17),
        "deadline:midterm:0": D(2023, 8, 18),
        # 08-25 is a Friday: nothing moves.
        "deadline:midterm-copy:7": D(2023, 8, 18),
        "deadline:midterm-copy:3": D(2023, 8, 22),
        "deadline:midterm-copy:1": D(2023, 8, 24),
        "deadline:midterm-copy:0": D(2023, 8, 25),
        # 11-20 is a Monday: 3 → 11-17 Fri and 1 → 11-19 Sun → 11-17 Fri collide.
        "deadline:final:7": D(2023, 11, 13),
        "deadline:final:1": D(2023, 11, 17),
        "deadline:final:0": D(2023, 11, 20),
        # 11-25 is a Saturday: 7 → 11-18 Sat → 11-17 Fri; 1 → 11-24 and 0 → 11-25 Sat → 11-24 collide.
        "deadline:final-copy:7": D(2023, 11, 17),
        "deadline:final-copy:3": D(2023, 11, 22),
        "deadline:final-copy:0": D(2023, 11, 24),
    }


def test_rest_day_deadline_is_explained(plan: list[Planned]) -> None:
    ids = by_id(plan)
    for offset in (7, 3, 0):
        text = ids[f"deadline:midterm:{offset}"].text
        assert "截止：2023年8月20日（星期日）" in text
        assert "8月20日是休息日，请在8月18日（星期五）前报送" in text
    assert "11月25日是休息日，请在11月24日（星期五）前报送" in ids["deadline:final-copy:3"].text
    assert "休息日" not in ids["deadline:midterm-copy:7"].text  # 08-25 is a Friday


def test_deadline_texts(campaign: Campaign, plan: list[Planned]) -> None:
    ids = by_id(plan)
    for deadline in campaign.deadlines:
        for p in plan:
            if p.kind == "deadline" and p.deadline == deadline.key:
                assert deadline.material in p.text and deadline.recipient in p.text
                assert "导出" in p.text
                assert p.due == deadline.date and p.since is None and not p.admins_only
                assert deadline.title in p.headline
                assert 3 <= len(p.text.splitlines()) <= 5
    assert "今天截止" in ids["deadline:midterm-copy:0"].headline
    assert "今天截止" in ids["deadline:midterm:0"].headline  # the workday before a Sunday deadline
    assert "今天截止" in ids["deadline:final-copy:0"].headline
    assert "今天截止" not in ids["deadline:final:1"].headline
    assert "还有3天截止" in ids["deadline:final:1"].headline  # sent on 11-17 for 11-20
    assert "明天截止" in ids["deadline:midterm-copy:1"].headline


def test_recipients(campaign: Campaign, plan: list[Planned]) -> None:
    everyone = tuple(d.key for d in campaign.departments)
    for p in plan:
        if p.kind in ("deadline", "nudge") and p.deadline in ("midterm", "final"):
            assert p.departments == everyone  # 08-20 and 11-20: 各地各部门, the counties too
        elif p.kind in ("deadline", "nudge"):
            assert p.departments == ALL_11  # 08-25 and 11-25: the city's departments only
    # A county-level office receives "all" deadlines but not the copies to city level.
    county = replace(campaign.departments[1], key="wxb-ml", parent="wxb")
    variant = replace(campaign, departments=(*campaign.departments, county))
    ids = by_id(build_plan(variant, WorkCalendar()))
    assert "wxb-ml" in ids["deadline:midterm:7"].departments
    assert "wxb-ml" in ids["nudge:final"].departments
    assert "wxb-ml" not in ids["deadline:midterm-copy:7"].departments
    assert ids["deadline:final-copy:0"].departments == ALL_11


# --------------------------------------------------------------------------- nudge and progress


def test_nudge_and_progress_follow_the_last_reminder(campaign: Campaign, plan: list[Planned]) -> None:
    ids = by_id(plan)
    expected = {
        "midterm": (D(2023, 8, 18), campaign.start),
        "midterm-copy": (D(2023, 8, 25), D(2023, 8, 20)),
        "final": (D(2023, 11, 20), D(2023, 8, 25)),
        "final-copy": (D(2023, 11, 24), D(2023, 11, 20)),
    }
    assert sum(p.kind == "nudge" for p in plan) == sum(p.kind == "progress" and not p.scope for p in plan) == 4
    # 08-20 and 11-20 also tell each county's 市场监管局 (11) and each city department with county units (5).
    assert sum(p.kind == "progress" and bool(p.scope) for p in plan) == 2 * (11 + 5)
    sanyuan = ids["progress:midterm:county:sanyuan"]
    assert sanyuan.departments == ("sanyuan-scjgj",) and all(k.startswith("sanyuan-") for k in sanyuan.scope)
    police = ids["progress:final:system:gaj"]
    assert police.departments == ("gaj",) and len(police.scope) == 11 and "gaj" not in police.scope
    for key, (day, since) in expected.items():
        last = max(p.day for p in plan if p.kind == "deadline" and p.deadline == key)
        nudge, progress = ids[f"nudge:{key}"], ids[f"progress:{key}"]
        assert nudge.day == progress.day == last == day
        assert nudge.at == progress.at == ids[f"deadline:{key}:0"].at
        assert nudge.since == progress.since == since
        assert nudge.deadline == progress.deadline == key
        assert not nudge.admins_only and set(ALL_11) <= set(nudge.departments)
        assert progress.admins_only and progress.departments == (campaign.coordinator,) == ("scjgj",)
        for p in (nudge, progress):
            assert "{missing}" in p.text
            assert 3 <= len(p.text.splitlines()) <= 5
    filled = ids["progress:midterm"].fill("市公安局、市林业局")
    assert "市公安局、市林业局" in filled and "{missing}" not in filled
    assert "休息日" in ids["nudge:midterm"].text


def test_nudge_uses_the_smallest_offset_left(campaign: Campaign) -> None:
    # Without offset 0 the last reminder is the 1-day one.
    variant = replace(campaign, reminders=replace(campaign.reminders, offsets_days=(7, 1)))
    ids = by_id(build_plan(variant, WorkCalendar()))
    assert ids["nudge:midterm-copy"].at == ids["deadline:midterm-copy:1"].at
    assert ids["nudge:midterm-copy"].day == D(2023, 8, 24)


def test_days_before_the_campaign_are_skipped(campaign: Campaign) -> None:
    variant = replace(campaign, reminders=replace(campaign.reminders, offsets_days=(30, 0)))
    planned = build_plan(variant, WorkCalendar())
    assert "deadline:midterm:30" not in by_id(planned)  # 07-21, before the notice
    assert "deadline:final:30" in by_id(planned)
    assert min(p.day for p in planned) >= campaign.start


# --------------------------------------------------------------------------- 每月一周查网红


def test_wanghong_week_2(plan: list[Planned]) -> None:
    assert days(plan, "wanghong:") == {
        # Aug 8–14: clipped to the campaign, which starts on 08-09.
        "wanghong:2023-08:start": D(2023, 8, 9),
        "wanghong:2023-08:end": D(2023, 8, 14),
        "wanghong:2023-09:start": D(2023, 9, 8),
        "wanghong:2023-09:end": D(2023, 9, 14),
        "wanghong:2023-10:start": D(2023, 10, 8),
        "wanghong:2023-10:end": D(2023, 10, 13),  # 10-14 is a Saturday
        "wanghong:2023-11:start": D(2023, 11, 8),
        "wanghong:2023-11:end": D(2023, 11, 14),
    }


def test_wanghong_texts_and_recipients(plan: list[Planned]) -> None:
    for p in plan:
        if p.kind.startswith("wanghong"):
            assert p.departments == ("scjgj",) and not p.admins_only
            assert p.deadline is None and p.since is None
    start, end = by_id(plan)["wanghong:2023-09:start"], by_id(plan)["wanghong:2023-09:end"]
    assert "9月8日至9月14日" in start.headline
    assert "网红店" in start.text and "下线" in start.text and "回头看" in start.text
    assert "9月8日至9月14日" in end.headline
    items = [line for line in end.text.splitlines() if line[:1].isdigit()]
    assert items[0] == "16. 开展“每月一周查网红”执法行动（次）"
    assert items[-1] == "22. “回头看”检查餐饮“网红店”（个次）"
    assert [int(line.split(".")[0]) for line in items] == list(range(16, 23))
    assert "15." not in end.text  # the plain 回头看 row is not part of the 网红 week
    assert "导出" in end.text


def test_wanghong_week_bounds() -> None:
    assert wanghong_week(2023, 8, 1) == (D(2023, 8, 1), D(2023, 8, 7))
    assert wanghong_week(2023, 8, 4) == (D(2023, 8, 22), D(2023, 8, 28))
    assert wanghong_week(2023, 9, 5) == (D(2023, 9, 24), D(2023, 9, 30))
    assert wanghong_week(2024, 2, 5) == (D(2024, 2, 23), D(2024, 2, 29))
    with pytest.raises(ValueError):
        wanghong_week(2023, 8, 6)


def test_wanghong_last_week(campaign: Campaign) -> None:
    variant = replace(campaign, wanghong=replace(campaign.wanghong, week=5))
    assert days(build_plan(variant, WorkCalendar()), "wanghong:") == {
        "wanghong:2023-08:start": D(2023, 8, 25),
        "wanghong:2023-08:end": D(2023, 8, 31),
        "wanghong:2023-09:start": D(2023, 9, 25),
        "wanghong:2023-09:end": D(2023, 9, 28),  # 9-29 中秋节, 9-30 a holiday Saturday
        "wanghong:2023-10:start": D(2023, 10, 25),
        "wanghong:2023-10:end": D(2023, 10, 31),
        "wanghong:2023-11:start": D(2023, 11, 24),
        "wanghong:2023-11:end": D(2023, 11, 30),
    }


def test_wanghong_first_week(campaign: Campaign) -> None:
    variant = replace(campaign, wanghong=replace(campaign.wanghong, week=1))
    assert days(build_plan(variant, WorkCalendar()), "wanghong:") == {
        # August 1–7 lies before the campaign; in October only Saturday 10-07 is a working day.
        "wanghong:2023-09:start": D(2023, 9, 1),
        "wanghong:2023-09:end": D(2023, 9, 7),
        "wanghong:2023-10:start": D(2023, 10, 7),
        "wanghong:2023-10:end": D(2023, 10, 7),
        "wanghong:2023-11:start": D(2023, 11, 1),
        "wanghong:2023-11:end": D(2023, 11, 7),
    }


def test_wanghong_week_without_workday_is_skipped(campaign: Campaign) -> None:
    closed = WorkCalendar(holidays=[D(2023, 9, 8) + dt.timedelta(days=n) for n in range(7)])
    ids = by_id(build_plan(campaign, closed))
    assert "wanghong:2023-09:start" not in ids and "wanghong:2023-09:end" not in ids
    assert "wanghong:2023-10:start" in ids


def test_no_wanghong_departments_no_wanghong_messages(campaign: Campaign) -> None:
    variant = replace(campaign, wanghong=replace(campaign.wanghong, departments=()))
    assert not [p for p in build_plan(variant, WorkCalendar()) if p.kind.startswith("wanghong")]


# --------------------------------------------------------------------------- calendar variants


def test_config_overrides_move_reminders(campaign: Campaign) -> None:
    # 08-18 declared a holiday: 3, 1 and 0 all land on 08-17 and collapse into offset 0.
    ids = by_id(build_plan(campaign, WorkCalendar(holidays=[D(2023, 8, 18)])))
    assert days(list(ids.values()), "deadline:midterm:") == {
        "deadline:midterm:7": D(2023, 8, 11),
        "deadline:midterm:0": D(2023, 8, 17),
    }
    assert "请在8月17日（星期四）前报送" in ids["deadline:midterm:0"].text
    # 08-20 declared a working day: the deadline day itself is used and not called a rest day.
    ids = by_id(build_plan(campaign, WorkCalendar(workdays=[D(2023, 8, 20)])))
    assert ids["deadline:midterm:0"].day == D(2023, 8, 20)
    assert ids["deadline:midterm:1"].day == D(2023, 8, 18)
    assert "休息日" not in ids["deadline:midterm:0"].text


def shift_year(campaign: Campaign, year: int) -> Campaign:
    def move(day: dt.date) -> dt.date:
        return day.replace(year=year)

    return replace(
        campaign,
        issued=move(campaign.issued),
        start=move(campaign.start),
        end=move(campaign.end),
        deadlines=tuple(replace(d, date=move(d.date)) for d in campaign.deadlines),
        phases=tuple(replace(p, start=move(p.start), end=move(p.end)) for p in campaign.phases),
    )


def test_unknown_year_falls_back_to_monday_to_friday(campaign: Campaign, caplog: pytest.LogCaptureFixture) -> None:
    noted: list[int] = []
    cal = WorkCalendar(on_unknown_year=noted.append)
    variant = shift_year(campaign, 2031)
    with caplog.at_level(logging.WARNING, logger="reminders.calendar"):
        planned = build_plan(variant, cal)
    assert planned
    assert all(p.day.weekday() < 5 and p.day.year == 2031 for p in planned)
    assert noted == [2031]
    assert cal.unknown_years() == {2031}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    # 2031-08-20 is a Wednesday: only the 3-day reminder (a Sunday) moves.
    assert days(planned, "deadline:midterm:") == {
        "deadline:midterm:7": D(2031, 8, 13),
        "deadline:midterm:3": D(2031, 8, 15),  # 08-17 is a Sunday → Friday 08-15
        "deadline:midterm:1": D(2031, 8, 19),
        "deadline:midterm:0": D(2031, 8, 20),
    }
    assert build_plan(variant, cal) == planned  # stable, and still noted only once
    assert noted == [2031]
