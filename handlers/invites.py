"""Binding codes in chat: an admin makes one for a contact (邀请 姓名); a stranger sends it to bind their chat.

This is the way in for contacts whose 附件1 entry has no mobile (the admins, 市委网信办, 市林业局), or whose
Telegram account uses another number.
"""

from __future__ import annotations

import datetime as dt

from campaign import Campaign
from handlers import texts
from handlers.commands import parse_command
from handlers.context import Context
from handlers.messages import Incoming, Reply
from handlers.people import find_contact
from reminders.dispatch import notify_admins
from store import directory
from store import invites as store
from store.database import Database
from store.directory import Person

USAGE = "格式：邀请 姓名（同名时写 姓名@单位），例如：邀请 李勤额\n对方在聊天里发送绑定码即可绑定，不需要手机号。"


def invite(ctx: Context) -> list[Reply]:
    """Make a one-time binding code for a contact: 邀请 姓名."""
    if not ctx.args.strip():
        return [Reply(USAGE)]
    _, text = issue_for(ctx.campaign, ctx.db, ctx.args, ctx.now, created_by=ctx.person.id)
    return [Reply(text)]


def issue_for(
    campaign: Campaign, db: Database, name: str, now: dt.datetime, *, created_by: int | None = None,
    ttl: dt.timedelta = store.DEFAULT_TTL,
) -> tuple[store.Issued | None, str]:
    """Make a code for the named contact; return it (None when refused) and the text that explains it."""
    found = find_contact(campaign, db, name)
    if isinstance(found, str):
        return None, found
    with db.session() as s:
        issued = store.issue(s, contact_id=found.id, now=now, created_by=created_by, ttl=ttl)
    dep = campaign.department(found.department).short
    replaced = "，此前未用的绑定码已作废" if issued.revoked else ""
    return issued, (
        f"{dep} {found.name}的绑定码：{store.display(issued.code)}\n"
        f"{texts.when(issued.expires_at, campaign.tz)}前有效，只能用一次{replaced}。\n"
        "请把绑定码告诉对方：对方打开与本机器人的聊天，直接发送这个绑定码即可完成绑定。"
    )


def _tell_admins_of_pause(campaign: Campaign, db: Database, until: dt.datetime, now: dt.datetime) -> None:
    """Many wrong codes from many accounts look like guessing: the admins hear of it once per pause."""
    note = (f"安全提醒：一小时内有{store.GLOBAL_MAX_WRONG}次以上输错绑定码，可能有人在猜绑定码。"
            f"绑定码验证已暂停到{texts.when(until, campaign.tz)}；分享手机号验证不受影响。")
    with db.session() as s:
        notify_admins(s, campaign, key=f"invite-pause:{until.isoformat()}", text=note, now=now,
                      transports=None)  # any chat of theirs: the outbox keeps it until that transport runs


def code_in(text: str) -> str | None:
    """The binding code a stranger's message carries: the whole message, or after /start (a deep link)."""
    command = parse_command(text)
    if command is not None:
        return store.canonical(command.args) if command.name == "start" and command.args else None
    return store.canonical(text)


def redeem(
    campaign: Campaign, db: Database, msg: Incoming, code: str, now: dt.datetime
) -> tuple[Person | None, list[Reply]]:
    """Bind the sender with a binding code, or say plainly why the code does not work."""
    with db.session() as s:
        result = store.redeem(s, code=code, transport=msg.transport, user_id=msg.sender_id, now=now)
        person = directory.person(s, result.contact_id) if result.contact_id is not None else None
        if result.status == "ok" and person is not None and person.active:
            directory.bind(s, transport=msg.transport, user_id=msg.sender_id, chat_id=msg.chat_id,
                           contact_id=person.id, now=now)
            return person, []
    ask_admin = f"请联系市市场监管局网监科（{campaign.email}）重新生成。"
    card = "也可以点下方按钮分享手机号验证。" if msg.caps.contact_card else ""
    if result.status == "paused":
        assert result.retry_at is not None
        again = texts.when(result.retry_at, campaign.tz)
        _tell_admins_of_pause(campaign, db, result.retry_at, now)
        text = f"最近输错绑定码的人太多，绑定码验证暂停到{again}。请稍后再试。{card}"
    elif result.status == "limited":
        assert result.retry_at is not None
        again = texts.when(result.retry_at, campaign.tz)
        text = f"绑定码输错次数太多，请在{again}以后再试。{card}"
    elif result.status == "used":
        text = "这个绑定码已经用过了，每个绑定码只能用一次。" + ask_admin
    elif result.status == "expired":
        text = "这个绑定码已过期。" + ask_admin
    elif result.status == "ok":  # the contact was removed after the code was made
        text = "这个绑定码对应的联系人已被删除。" + ask_admin
    else:
        text = f"绑定码不对，请核对后再发（8位字母和数字，不分大小写）。{card}"
    return None, [Reply(text, request_contact=msg.caps.contact_card)]
