"""Which contact an admin means by a name: 姓名, or 姓名@单位 when two contacts share a name."""

from __future__ import annotations

from campaign import Campaign
from store import directory
from store.database import Database
from store.directory import Person


def find_contact(campaign: Campaign, db: Database, text: str) -> Person | str:
    """The one active contact a name (or 姓名@单位) means, or why there is none."""
    name, _, unit = text.strip().partition("@")
    with db.session() as s:
        found = directory.find_people(s, name)
    if unit:
        dep = campaign.find_department(unit)
        found = [p for p in found if dep is not None and p.department == dep.key]
    if not found:
        return f"没有找到联系人「{name.strip()}」。发“联系人”查看名单。"
    if len(found) > 1:
        return f"有{len(found)}位叫{name}的联系人，请写成：{name}@单位，例如 {name}@公安局"
    return found[0]
