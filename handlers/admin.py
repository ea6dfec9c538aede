"""Admins keep the contact list in chat: list, add, change and remove contacts."""

from __future__ import annotations

from campaign.phones import is_email, is_mobile, is_person_name, landline, normalize_phone
from handlers import texts
from handlers.context import Context
from handlers.messages import Attachment, Reply
from handlers.people import find_contact
from store import directory
from store.directory import Person
from store.errors import AccountTaken
from store.roster import import_contacts

FIELDS = {
    "手机": "mobile", "手机号": "mobile", "电话": "office", "办公电话": "office", "科室": "section", "部门": "section",
    "传真": "fax", "邮箱": "email", "电子邮箱": "email", "角色": "role",
    # Directory userids, so a contact is known before their first message (compared case-insensitively).
    "企业微信": "wecom_userid", "钉钉": "dingtalk_userid",
}
ROLES = {"管理员": "admin", "admin": "admin", "联系人": "member", "成员": "member", "member": "member",
         "县级管理员": "county_admin", "county_admin": "county_admin"}


def contacts(ctx: Context) -> list[Reply]:
    """List every active contact with department, section and phone."""
    with ctx.db.read() as s:
        everyone = directory.people(s)
        bound = {p.id for p in everyone if directory.chats_of(s, p.id)}
    lines = ["联系人名单（✓ 已绑定聊天）："]
    for dep in ctx.campaign.departments:
        for p in (p for p in everyone if p.department == dep.key):
            phone = p.mobile or p.office or "无电话"
            role = "，管理员" if p.is_admin else ""
            lines.append(f"· {dep.short} {p.name}（{p.section or '—'}，{phone}{role}）{'✓' if p.id in bound else ''}")
    lines.append("添加联系人 姓名 单位 手机号 [科室]；修改联系人 姓名 手机 新号码；删除联系人 姓名")
    return [Reply("\n".join(lines))]


def add_contact(ctx: Context) -> list[Reply]:
    """Add a contact: 添加联系人 姓名 单位 手机号 [科室]."""
    parts = ctx.args.split()
    if len(parts) < 3:
        return [Reply("格式：添加联系人 姓名 单位 手机号 [科室]\n例如：添加联系人 张三 公安局 13800000000 网安支队")]
    name, unit, phone, section = parts[0], parts[1], parts[2], " ".join(parts[3:])
    if not is_person_name(name):
        return [Reply(f"姓名「{name}」不对：请写2到20个字的姓名。")]
    dep = ctx.campaign.find_department(unit)
    if dep is None:
        return [Reply(f"没有找到单位「{unit}」。可以写简称，例如：公安局、市场监管局、海关。")]
    fields = {"section": section} if section else {}
    if is_mobile(phone):
        fields["mobile"] = normalize_phone(phone)
    elif landline(phone):
        fields["office"] = landline(phone) or phone
    else:
        return [Reply(f"电话「{phone}」不对：请写11位手机号，或带区号的座机号（如0598-8289060）。")]
    with ctx.db.session() as s:
        ids = directory.department_ids(s)
        person, created = directory.save_contact(s, department_id=ids[dep.key], name=name, now=ctx.now, **fields)
    verb = "已添加" if created else "已更新"
    return [Reply(f"{verb}联系人：{dep.short} {person.name}（{phone}）。对方用这个手机号即可验证身份。")]


def edit_contact(ctx: Context) -> list[Reply]:
    """Change one field: 修改联系人 姓名 字段 新值."""
    parts = ctx.args.split(maxsplit=2)
    if len(parts) < 3 or parts[1] not in FIELDS:
        names = "、".join(k for k in FIELDS if len(k) == 2)
        return [Reply(f"格式：修改联系人 姓名 字段 新值\n字段可以是：{names}\n"
                      "例如：修改联系人 方广成 手机 13666987053")]
    name, label, value = parts
    field = FIELDS[label]
    target = _one(ctx, name)
    if isinstance(target, Reply):
        return [target]
    if field == "mobile" and not is_mobile(value):
        return [Reply(f"手机号「{value}」不对：请写11位手机号。")]
    if field == "email" and not is_email(value):
        return [Reply(f"邮箱「{value}」不对，例如：smscjgjwjk@163.com")]
    if field == "role":
        if value not in ROLES:
            return [Reply("角色只能是：管理员、县级管理员 或 联系人。")]
        value = ROLES[value]
        if value == "county_admin" and ctx.campaign.department(target.department).county is None:
            return [Reply("县级管理员只能是县（市、区）单位的联系人（一般是县市场监管局网监股）。")]
        if value == "member" and target.is_admin and _admins(ctx) <= 1:
            return [Reply("不能这样改：至少要保留一位管理员。")]
    with ctx.db.session() as s:
        try:
            directory.save_contact(s, department_id=target.department_id, name=target.name, now=ctx.now,
                                   **{field: value})
        except AccountTaken as exc:
            holder = directory.person(s, exc.holder_id)
            who = f"{holder.name}（{ctx.campaign.department(holder.department).short}）" if holder else "另一位联系人"
            return [Reply(f"账号「{exc.userid}」已经是{who}的，没有修改。请核对账号后再发。")]
    return [Reply(f"已修改：{target.name}的{label}改为 {value}。")]


def remove_contact(ctx: Context) -> list[Reply]:
    """Remove a contact: 删除联系人 姓名. Their past counts stay in the ledger."""
    name = ctx.args.split()[0] if ctx.args.split() else ""
    if not name:
        return [Reply("格式：删除联系人 姓名")]
    target = _one(ctx, name)
    if isinstance(target, Reply):
        return [target]
    if target.is_admin and _admins(ctx) <= 1:
        return [Reply("不能删除：至少要保留一位管理员。")]
    with ctx.db.session() as s:
        directory.deactivate_contact(s, target.id, ctx.now)
    return [Reply(f"已删除联系人：{ctx.campaign.department(target.department).short} {target.name}。"
                  "他已经报的数据仍然保留。")]


def contact_file(ctx: Context, document: Attachment) -> list[Reply]:
    """Import a contact list an admin sent as an xlsx file (附件1 layout): all rows or none."""
    if not ctx.person.is_admin:
        return [Reply("我只接收管理员发送的联系人名单（xlsx）。报数请直接发文字，例如：" + texts.example(ctx.own))]
    if not document.filename.lower().endswith(".xlsx"):
        return [Reply("请发送 xlsx 格式的联系人名单（列：单位、姓名、部门、联系方式、传真、电子邮箱）。")]
    try:
        report = import_contacts(ctx.db, ctx.campaign, document.data, ctx.now)
    except ValueError as exc:
        return [Reply(f"{exc}\n没有导入任何数据。")]
    return [Reply("联系人名单导入：" + report.text())]


def _one(ctx: Context, text: str) -> Person | Reply:
    found = find_contact(ctx.campaign, ctx.db, text)
    return Reply(found) if isinstance(found, str) else found


def _admins(ctx: Context) -> int:
    with ctx.db.session() as s:
        return sum(1 for p in directory.people(s) if p.is_admin)
