"""Who owes which material by which deadline, and what is still missing: pure functions, no database.

The chat (材料), the desk, the reminders and the zip's 清单.xlsx all read the checklist from here, so they
never disagree about what "已交" means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from campaign import Campaign, Deadline, Department
from campaign.materials import KINDS, Material

PENDING_LABEL = "待分类"


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    have: int
    need: int
    registered: bool = False  # 统计表: the department's counts are booked in the bot, which makes the table

    @property
    def done(self) -> bool:
        return self.have >= self.need or self.registered

    @property
    def text(self) -> str:
        if self.registered and self.have < self.need:
            return f"{self.label} 已交（已在机器人登记数据）"
        return f"{self.label} {self.have}/{self.need} {'已交' if self.done else '未交'}"

    @property
    def missing(self) -> str:
        """How the reminder names it: 总结报告, 典型案例（还差1件）."""
        if self.done:
            return ""
        short = self.need - self.have
        return self.label if self.need == 1 else f"{self.label}（还差{short}件）"


def label(kind: str) -> str:
    return KINDS.get(kind, PENDING_LABEL)


def source_of(campaign: Campaign, deadline: Deadline) -> Deadline:
    """The deadline whose list of materials applies (a copy deadline points at its original)."""
    return next((d for d in campaign.deadlines if d.key == deadline.collection), deadline)


def in_audience(deadline: Deadline, department: Department) -> bool:
    return deadline.audience == "all" or department.parent is None


def owes(material: Material, department: Department) -> bool:
    if material.owed_by == "all":
        return True
    if material.owed_by == "reporting":
        return department.group is not None
    return department.group == material.owed_by


def next_deadline(campaign: Campaign, department: Department, today: dt.date) -> Deadline | None:
    """The next deadline on or after today that asks this department for materials."""
    for deadline in campaign.deadlines:
        if deadline.date >= today and in_audience(deadline, department) and source_of(campaign, deadline).materials:
            return deadline
    return None


def find_deadline(campaign: Campaign, text: str) -> Deadline | None:
    """A deadline by key (final), by date (11-20, 11月20日, 2023-11-20) or by a word of its title (中期)."""
    wanted = text.strip()
    for d in campaign.deadlines:
        if wanted in (d.key, d.date.isoformat(), f"{d.date.month}月{d.date.day}日", f"{d.date:%m-%d}",
                      f"{d.date.month}-{d.date.day}", f"{d.date.month}.{d.date.day}"):
            return d
    matches = [d for d in campaign.deadlines if wanted and wanted in d.title and not d.materials_from]
    return matches[0] if len(matches) == 1 else None


def checklist(campaign: Campaign, deadline: Deadline, department: Department, kinds: Iterable[str],
              registered: bool = False) -> list[Line]:
    """The department's lines for a deadline, from the kinds of its (not withdrawn) files."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    lines: list[Line] = []
    for material in source_of(campaign, deadline).materials:
        if not owes(material, department):
            continue
        have = counts.get(material.key, 0)
        lines.append(Line(material.key, material.label, have, material.min_count,
                          registered=registered and material.key == "table"))
        for included in material.includes:
            # Each item comes with its own (a case with its 行政处罚决定书): one per item sent, at least the minimum.
            lines.append(Line(included, KINDS[included], counts.get(included, 0), max(have, material.min_count)))
    return lines


def missing(lines: Iterable[Line]) -> list[str]:
    return [line.missing for line in lines if not line.done]
