"""Admins keep the contact list in chat; changes live in the database and survive a restart."""

from __future__ import annotations

from bot.app import build_app
from handlers.messages import Incoming, SharedContact
from tests.support import TELEGRAM_CAPS, Chat, FakeClock


def test_add_change_remove_contact_survives_restart(db_url: str, clock: FakeClock) -> None:
    app = build_app(url=db_url, clock=clock)
    admin = Chat(app, "王永辉")
    assert "已添加联系人：市公安局 张三" in admin.say("添加联系人 张三 公安局 13800000001 网安支队")
    assert "已修改：张三的邮箱改为 z@example.com" in admin.say("修改联系人 张三 邮箱 z@example.com")
    assert "已删除联系人：市通信管理办 伊贤琦" in admin.say("删除联系人 伊贤琦")
    app.close()

    again = build_app(url=db_url, clock=clock)  # a restart re-reads config.toml
    listing = Chat(again, "王永辉").say("联系人")
    assert "市公安局 张三（网安支队，13800000001）" in listing
    assert "伊贤琦" not in listing  # config does not resurrect a removed contact
    card = SharedContact(phone="13800000001", user_id="77")
    replies = again.core.handle(Incoming("telegram", "77", "77", "1", "", contact=card, caps=TELEGRAM_CAPS))
    assert "张三（市公安局），您好" in replies[0].text
    again.close()


def test_bad_contact_commands_explain_themselves(db_url: str, clock: FakeClock) -> None:
    app = build_app(url=db_url, clock=clock)
    admin = Chat(app, "王永辉")
    assert "格式：添加联系人" in admin.say("添加联系人 张三")
    assert "没有找到单位「火星局」" in admin.say("添加联系人 张三 火星局 13800000001")
    assert "电话「123」不对" in admin.say("添加联系人 张三 公安局 123")
    assert "手机号「12」不对" in admin.say("修改联系人 方广成 手机 12")
    assert "没有找到联系人「李四」" in admin.say("删除联系人 李四")
    assert "角色只能是" in admin.say("修改联系人 方广成 角色 局长")
    assert "至少要保留一位管理员" not in admin.say("删除联系人 张秀齐")
    assert "至少要保留一位管理员" in admin.say("删除联系人 王永辉")
    app.close()


def test_removed_contact_loses_access(db_url: str, clock: FakeClock) -> None:
    app = build_app(url=db_url, clock=clock)
    police = Chat(app, "方广成")
    Chat(app, "王永辉").say("删除联系人 方广成")
    assert police.send("汇总")[0].request_contact
    app.close()


def test_admin_sends_a_contact_list_file(db_url: str, clock: FakeClock) -> None:
    from handlers.messages import Attachment
    from store.roster import export_contacts

    app = build_app(url=db_url, clock=clock)
    admin = Chat(app, "王永辉")
    data = export_contacts(app.db, app.campaign)

    def send(who: Chat, name: str, payload: bytes) -> str:
        msg = Incoming(who.transport, who.user, who.user, f"f-{name}", "", document=Attachment(name, payload))
        return "\n".join(r.text for r in app.core.handle(msg))

    assert "未变12人" in send(admin, "名单.xlsx", data) and "已导入" in send(admin, "名单2.xlsx", data)
    # Anything that is not a readable contact list is a report material (handlers/materials.py).
    assert "这是哪类材料" in send(admin, "坏.xlsx", b"not excel")
    assert "这是哪类材料" in send(admin, "名单.doc", data)
    assert "市公安局-待分类-" in send(Chat(app, "方广成"), "名单.xlsx", data)
    app.close()
