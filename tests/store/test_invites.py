"""Binding codes on a real SQLite database: single use, expiry, hashing, the wrong-guess limit and chat use."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from bot.app import App
from handlers.messages import Incoming
from store import directory
from store import invites as inv
from store.models import Invite, InviteAttempt, OutboxRow
from tests.support import TELEGRAM_CAPS, Chat, FakeClock

CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")


def contact_id(app: App, name: str) -> int:
    with app.db.session() as s:
        (person,) = directory.find_people(s, name)
    return person.id


def issue(app: App, name: str = "李勤额") -> inv.Issued:
    with app.db.session() as s:
        return inv.issue(s, contact_id=contact_id(app, name), now=app.now())


def redeem(app: App, code: str, user: str = "u1") -> inv.Redeemed:
    with app.db.session() as s:
        return inv.redeem(s, code=code, transport="telegram", user_id=user, now=app.now())


def test_a_code_binds_once_and_only_once(app: App) -> None:
    issued = issue(app)
    first = redeem(app, issued.code, "u1")
    assert first.status == "ok" and first.contact_id == contact_id(app, "李勤额")
    assert redeem(app, issued.code, "u2").status == "used"
    assert redeem(app, issued.code, "u1").status == "used"


def test_codes_are_short_unambiguous_and_typed_loosely(app: App) -> None:
    code = issue(app).code
    assert len(code) == 8 and set(code) <= set(inv.ALPHABET)
    assert not set(code) & set("0O1IL")
    typed = inv.display(code).lower().replace("-", " - ")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)  # what a Chinese IME may produce
    assert inv.canonical(typed) == code and inv.canonical(full_width) == code
    assert inv.canonical("你好") is None and inv.canonical("ABC") is None


@given(st.text(max_size=20))
def test_canonical_gives_eight_letters_or_digits_or_nothing(text: str) -> None:
    found = inv.canonical(text)
    assert found is None or re.fullmatch(r"[A-Z0-9]{8}", found)


def test_codes_expire_after_72_hours_by_default(app: App, clock: FakeClock) -> None:
    early, late = issue(app, "李勤额"), issue(app, "陈彬")
    assert late.expires_at == clock.now + dt.timedelta(hours=72)
    clock.advance(hours=71, minutes=59)
    assert redeem(app, early.code).status == "ok"
    clock.advance(minutes=2)
    assert redeem(app, late.code, "u2").status == "expired"


def test_only_the_hash_is_stored(app: App, db_url: str) -> None:
    code = issue(app).code
    with app.db.session() as s:
        row = s.scalars(select(Invite)).one()
        cells = " ".join(str(v) for v in s.execute(text("SELECT * FROM invites")).one())
    assert row.code_hash != hashlib.sha256(code.encode()).hexdigest()  # not a bare hash: keyed by BOT_SECRET
    assert row.code_hash == inv.code_hash(code) and row.hashing == "hmac"
    assert code not in cells and inv.display(code) not in cells
    if db_url.startswith("sqlite:///"):  # the bytes on disk, the WAL included
        app.db.dispose()
        path = Path(db_url.removeprefix("sqlite:///"))
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert code.encode() not in stored and inv.display(code).encode() not in stored


def test_of_many_accounts_sending_one_code_at_once_exactly_one_wins(app: App) -> None:
    code = issue(app).code
    start = threading.Barrier(6)

    def attempt(n: int) -> str:
        start.wait()
        return redeem(app, code, f"racer-{n}").status

    with ThreadPoolExecutor(6) as pool:
        outcomes = sorted(pool.map(attempt, range(6)))
    assert outcomes == ["ok"] + ["used"] * 5


def test_a_new_code_revokes_the_unused_old_one(app: App) -> None:
    old = issue(app)
    new = issue(app)
    assert new.revoked == 1
    assert redeem(app, old.code).status == "wrong"
    assert redeem(app, new.code).status == "ok"


def test_wrong_guesses_are_limited_per_account_and_forgotten_after_an_hour(app: App, clock: FakeClock) -> None:
    good = issue(app).code
    for n in range(inv.MAX_WRONG):
        assert redeem(app, "AAAABCDE", "guesser").status == "wrong", n
        clock.advance(minutes=1)
    limited = redeem(app, good, "guesser")  # even the right code: else guessing goes on behind the refusal
    assert limited.status == "limited"
    assert limited.retry_at == clock.now - dt.timedelta(minutes=inv.MAX_WRONG) + inv.WRONG_WINDOW
    assert redeem(app, good, "someone-else").status == "ok"  # the limit is per account
    clock.advance(hours=1)
    assert redeem(app, "AAAABCDE", "guesser").status == "wrong"
    with app.db.session() as s:  # the old guesses were dropped when the new one was kept
        assert len(s.scalars(select(InviteAttempt)).all()) == 1


def stranger(app: App, user: str, text: str) -> str:
    msg = Incoming("telegram", user, user, f"{user}-{text}", text, caps=TELEGRAM_CAPS)
    return "\n".join(r.text for r in app.core.handle(msg))


def test_admin_invites_in_chat_and_the_stranger_is_greeted(app: App) -> None:
    admin = Chat(app, "王永辉")
    answer = admin.say("邀请 李勤额")
    found = CODE.search(answer)
    assert found and "李勤额" in answer and "只能用一次" in answer
    greeting = stranger(app, "tg-9", f"/start {found.group().lower()}")
    assert "李勤额（市委网信办），您好" in greeting and "填报项目" in greeting
    assert "已经用过" in stranger(app, "tg-10", found.group())
    assert "绑定码不对" in stranger(app, "tg-11", "ZZZZ-ZZZZ")


def test_invite_needs_an_admin_and_a_name(app: App) -> None:
    assert "只有管理员" in Chat(app, "方广成").say("/invite 李勤额")
    admin = Chat(app, "王永辉")
    assert "格式：邀请 姓名" in admin.say("/invite")
    assert "没有找到联系人「张三」" in admin.say("/invite 张三")


@pytest.mark.parametrize("text", ["你好", "1 3", "/total"])
def test_a_stranger_sees_nothing_but_the_way_in(app: App, text: str) -> None:
    answer = stranger(app, "tg-12", text)
    assert "分享手机号" in answer and "绑定码" in answer


def test_many_wrong_codes_from_many_accounts_pause_redemption_for_everyone(app: App, clock: FakeClock) -> None:
    good = issue(app).code
    for n in range(inv.GLOBAL_MAX_WRONG):  # each account stays under its own limit of MAX_WRONG
        assert redeem(app, "ABCDEFGH", f"guesser{n}").status == "wrong"
    assert redeem(app, good, "honest").status == "paused"  # even a right code waits: no guessing behind it
    clock.advance(hours=1, minutes=1)
    assert redeem(app, good, "honest").status == "ok"


def test_codes_made_before_the_hmac_still_work_until_they_expire(app: App, clock: FakeClock) -> None:
    code = issue(app).code
    with app.db.session() as s:
        row = s.scalars(select(Invite)).one()
        row.code_hash, row.hashing = hashlib.sha256(code.encode()).hexdigest(), "sha256"
    assert redeem(app, code).status == "ok"


def test_a_pause_tells_the_admins_once(app: App) -> None:
    Chat(app, "王永辉", transport="telegram")  # an admin with a chat the note can go to
    replies = []
    for n in range(inv.GLOBAL_MAX_WRONG + 3):
        msg = Incoming("telegram", f"s{n}", f"s{n}", f"m{n}", "ABCD-EFGH")
        replies.append(" ".join(r.text for r in app.core.handle(msg)))
    assert "绑定码验证暂停到" in replies[-1]
    with app.db.session() as s:
        notes = [r for r in s.scalars(select(OutboxRow)) if r.key.startswith("invite-pause:")]
    assert len(notes) == 1 and "可能有人在猜绑定码" in notes[0].text
