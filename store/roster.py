"""The contact list in and out of Excel (附件1 layout): checked whole, then imported in one transaction."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from campaign import Campaign, Department
from campaign.names import find_county, match_departments
from campaign.phones import is_email, is_mobile, is_person_name, landline, normalize_phone
from campaign.scopes import COUNTY_ADMIN
from store import directory
from store.contacts_xlsx import ContactRecord, RowProblem, read_contacts, write_contacts
from store.database import Database

SHOWN_PROBLEMS = 20  # bad rows named in the report; the rest are counted
CITY_WORDS = ("", "市直", "市级", "三明市", "全市")


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return not self.rejected

    def text(self) -> str:
        """A short Chinese summary for chat and the command line."""
        counts = (len(self.added), len(self.changed), self.unchanged, len(self.rejected))
        lines = ["新增{}人，修改{}人，未变{}人，有问题{}行。".format(*counts)]
        if self.added:
            lines.append("新增：" + "、".join(self.added))
        if self.changed:
            lines.append("修改：" + "、".join(self.changed))
        # The first few say what is wrong; a list of thousands would bury the chat (once ~240 messages).
        lines += [f"第{p.row}行：{p.reason}" if p.row else p.reason for p in self.rejected[:SHOWN_PROBLEMS]]
        if len(self.rejected) > SHOWN_PROBLEMS:
            lines.append(f"……另有{len(self.rejected) - SHOWN_PROBLEMS}行有问题，未一一列出。")
        lines.append("已导入。" if self.imported else "有问题的行没有改正，所以没有导入任何数据。请改正后重新导入。")
        return "\n".join(lines)


def _phones(raw: str) -> tuple[str, str] | str:
    """(mobile, office) from a 联系方式 cell, or the reason it is wrong."""
    mobile, office = "", ""
    for part in re.split(r"[/、,，;；\s]+", raw.strip()):
        if not part:
            continue
        if is_mobile(part):
            mobile = mobile or normalize_phone(part)
            continue
        found = landline(part)
        if found is None:
            return f"联系方式「{part}」不是手机号或座机号"
        office = office or found
    return mobile, office


def _department(campaign: Campaign, record: ContactRecord) -> tuple[Department | None, str]:
    """The unit a row means: 单位 alone for the city, 单位 inside 县（市、区） for a county's department."""
    county = None
    if record.county and record.county not in CITY_WORDS:
        county = find_county(campaign, record.county)
        if county is None:
            return None, f"县（市、区）「{record.county}」不在名单中"
    found = match_departments(campaign, record.department, county=county.key if county else None)
    if len(found) == 1:
        return found[0], ""
    where = f"{county.name}的" if county else ""
    if found:
        return None, f"单位「{record.department}」不明确，可能是：{'、'.join(d.short for d in found[:5])}"
    return None, f"单位「{record.department}」不在{where}成员单位名单中"


def _oversees_county(dep: Department, section: str) -> bool:
    # A county 市场监管局's 网监 contacts oversee their county (role county_admin); others are designated in
    # chat (修改联系人 姓名 角色 县级管理员).
    return dep.county is not None and dep.key.endswith("-scjgj") and "网监" in section


def import_contacts(db: Database, campaign: Campaign, data: bytes, now: dt.datetime) -> ImportReport:
    """Check every row first; import all of them in one transaction only if none is wrong."""
    rows, problems = read_contacts(data)
    report = ImportReport(rejected=list(problems))
    plan: list[tuple[str, str, dict[str, str]]] = []
    seen: set[tuple[str, str]] = set()
    for number, record in rows:
        dep, unknown = _department(campaign, record)
        phones = _phones(record.phone)
        reason = (
            unknown if dep is None
            else f"姓名「{record.name}」不对" if not is_person_name(record.name)
            else phones if isinstance(phones, str)
            else f"邮箱「{record.email}」不对" if record.email and not is_email(record.email)
            else f"{record.name}在本表中重复" if (dep.key, record.name) in seen
            else None
        )
        if reason is not None or dep is None or isinstance(phones, str):
            report.rejected.append(RowProblem(number, reason or "无法识别"))
            continue
        seen.add((dep.key, record.name))
        fax = (landline(record.fax) or record.fax) if record.fax else ""
        plan.append((dep.key, record.name, {"section": record.section, "mobile": phones[0], "office": phones[1],
                                            "fax": fax, "email": record.email}))
        if _oversees_county(dep, record.section):
            plan[-1][2]["role"] = COUNTY_ADMIN
    if not rows and not problems:
        report.rejected.append(RowProblem(0, "表里没有联系人"))
    with db.session() as s:
        ids = directory.department_ids(s)
        existing = {(p.department, p.name): p for p in directory.people(s, include_inactive=True)}
        for key, name, fields in plan:
            old = existing.get((key, name))
            label = f"{campaign.department(key).short} {name}"
            if old is not None and "role" in fields and old.role != "member":
                del fields["role"]  # an import never takes a role away or changes one an admin gave
            if old is None:
                report.added.append(label)
            elif not old.active or any(getattr(old, f) != v for f, v in fields.items()):
                report.changed.append(label)
            else:
                report.unchanged += 1
                continue
            if report.imported:
                directory.save_contact(s, department_id=ids[key], name=name, now=now, origin="import", **fields)
    return report


def export_contacts(db: Database, campaign: Campaign) -> bytes:
    """The current active contacts in the 附件1 layout; import_contacts reads it back unchanged."""
    with db.read() as s:
        people = directory.people(s)
    records = []
    for p in people:
        dep = campaign.department(p.department)
        county = campaign.county(dep.county).name if dep.county else ""
        records.append(ContactRecord(dep.short, p.name, p.section, " / ".join(x for x in (p.mobile, p.office) if x),
                                     p.fax, p.email, county))
    return write_contacts(records, campaign.contacts_title)
