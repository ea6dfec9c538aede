"""The plan as text for `python -m bot schedule`: one line per message and recipient."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from campaign import Campaign
from reminders.plan import Planned
from store.directory import Person

KIND_LABELS = {
    "deadline": "截止提醒", "nudge": "催报", "progress": "报送进度", "wanghong-start": "网红周开始",
    "wanghong-end": "网红周报数",
}


def schedule_lines(campaign: Campaign, plan: Iterable[Planned], people: Sequence[Person],
                   start: dt.date | None = None, end: dt.date | None = None) -> list[str]:
    """Time, recipient, department, kind and first text line of every planned message in the window.

    Nudges go only to departments that have not reported by then, so they are listed for every
    department that could get one, marked (如未报).
    """
    lines = []
    for item in plan:
        if (start is not None and item.day < start) or (end is not None and item.day > end):
            continue
        for person in people:
            dep = campaign.department(person.department)
            if person.department not in item.departments or (item.admins_only and not person.is_admin):
                continue
            if item.kind == "nudge" and dep.group is None:
                continue  # a department without table rows cannot book, so it is never nudged for counts
            kind = KIND_LABELS.get(item.kind, item.kind) + ("（如未报）" if item.kind == "nudge" else "")
            lines.append(f"{item.at:%Y-%m-%d %H:%M}  {person.name}  {dep.short}  {kind}  {item.headline}")
    return lines
