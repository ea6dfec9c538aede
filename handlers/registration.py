"""Strangers: one polite answer, and the way in by sharing their own phone number."""

from __future__ import annotations

import datetime as dt

from campaign import Campaign
from handlers import invites, texts
from handlers.messages import Incoming, Reply
from store import directory
from store.database import Database
from store.directory import Person


def stranger(campaign: Campaign, db: Database, msg: Incoming, now: dt.datetime) -> tuple[Person | None, list[Reply]]:
    """Bind the sender if they shared their own 附件1 mobile; otherwise ask for it. Show nothing else."""
    if msg.caps.directory_identity:
        # The enterprise directory vouches for userids, and the ones the bot knows (config, an admin, the lookup
        # by mobile) are identities already: an unknown userid is someone outside the contact list.
        return None, [Reply("您好！本应用只为三明市网络市场监管专项行动各成员单位的联系人服务。"
                            f"您还不在名单中，请联系市市场监管局网监科（{campaign.email}）。")]
    card = msg.contact
    if card is None:
        code = invites.code_in(msg.text)
        if code is not None:  # a binding code from an admin: the way in without a listed mobile
            return invites.redeem(campaign, db, msg, code, now)
        if not msg.caps.contact_card:
            return None, [Reply(texts.UNKNOWN_USER_NO_CARD)]
        return None, [Reply(texts.UNKNOWN_USER, request_contact=True)]
    if card.user_id is None or card.user_id != msg.sender_id:
        return None, [Reply("只能用您本人的手机号验证，不能转发别人的名片。请点下方按钮分享您自己的手机号。",
                            request_contact=True)]
    with db.session() as s:
        found = directory.people_by_mobile(s, card.phone)
        if len(found) != 1:
            reason = "这个手机号不在联系人名单里" if not found else "这个手机号对应多位联系人"
            return None, [Reply(f"{reason}，无法验证。请联系市市场监管局网监科（{campaign.email}）把您加入名单。")]
        person = found[0]
        directory.bind(s, transport=msg.transport, user_id=msg.sender_id, chat_id=msg.chat_id,
                       contact_id=person.id, now=now)
    return person, []
