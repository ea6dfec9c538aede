"""Commands in slash form and in plain Chinese; strangers and groups see nothing."""

from __future__ import annotations

import pytest

from bot.app import App
from handlers.commands import parse_command
from handlers.messages import Incoming, SharedContact
from tests.support import TELEGRAM_CAPS, Chat


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [("/help", "help", ""), ("帮助", "help", ""), ("/total@SanmingBot", "total", ""),
     ("汇总 公安局", "total", "公安局"), ("汇总公安局", "total", "公安局"),
     ("添加联系人 张三", "addcontact", "张三"), ("联系人", "contacts", ""),
     ("/nope", "unknown", ""), ("记录", "history", ""), ("撤销", "undo", "")],
)
def test_parse_command(text: str, name: str, args: str) -> None:
    found = parse_command(text)
    assert found is not None and (found.name, found.args) == (name, args)


@pytest.mark.parametrize("text", ["查处网络违法案件 3", "1 3", "helpful 3", "通报曝光网络餐饮服务典型案例 1"])
def test_reports_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


def test_help_and_list(app: App) -> None:
    police = Chat(app, "方广成")
    for word in ("帮助", "/help"):
        reply = police.say(word)
        assert "方广成（市公安局）" in reply and "查处网络违法案件 3" in reply and "管理员" not in reply
    listing = police.say("指标")
    assert "1. 查处网络违法案件：0 件" in listing and "4. 清理网上违法有害信息：0 条" in listing
    assert "管理员" in Chat(app, "王永辉").say("/help")


def test_totals_for_a_contact(app: App) -> None:
    police = Chat(app, "方广成")
    police.say("1 3")
    reply = police.say("汇总")
    # A city department sees its system: the total, its own figures and each county's.
    assert "市公安局累计" in reply and "1. 查处网络违法案件：3 件" in reply
    assert "【本系统合计】\n  1. 查处网络违法案件：3 件" in reply and "尚无数据：三元区、沙县区" in reply
    market = Chat(app, "王永辉")
    market.say("红黑榜 2")
    reply = market.say("汇总 市场监管局")
    assert "23. 发布入网餐饮服务提供者红黑榜：2 期" in reply and "其余34项为0" in reply and "【本系统合计】" in reply


def test_admin_totals_cover_every_department_and_the_city(app: App) -> None:
    Chat(app, "方广成").say("1 3")
    admin = Chat(app, "王永辉")
    overview = admin.say("/total")
    assert "市公安局：已填1/4项，最近" in overview
    assert "全市合计" in overview and "【公安局】\n  查处网络违法案件：3 件" in overview
    assert "三明海关：已填0/3项，尚未报数" in overview
    assert "市商务局：无统计表项目" in overview
    assert "查处网络违法案件：3 件" in admin.say("汇总 公安局")
    city = admin.say("汇总 全市")
    assert "【公安局】" in city and "查处网络违法案件：3 件" in city and "【海关】尚无数据" in city
    assert "没有找到单位" in admin.say("汇总 火星局")


def test_non_admin_cannot_see_other_departments(app: App) -> None:
    Chat(app, "王晓芳").say("寄递渠道查获侵权货物 3批次")
    police = Chat(app, "方广成")
    reply = police.say("汇总 海关")
    assert "您只能查看市公安局系统的数据" in reply and "寄递" not in reply
    assert "寄递" not in police.say("记录")


def test_history_shows_who_and_when(app: App) -> None:
    police = Chat(app, "方广成")
    police.say("1 3")
    police.say("更正 1 2")
    reply = police.say("记录")
    assert "8月15日 10:00 方广成：更正 查处网络违法案件 -1 件" in reply
    assert "方广成：查处网络违法案件 +3 件" in reply
    assert "市公安局 方广成" in Chat(app, "王永辉").say("/history")


def test_admin_only_commands_are_refused_to_others(app: App) -> None:
    police = Chat(app, "方广成")
    for text in ("联系人", "添加联系人 张三 公安局 13800000000", "删除联系人 王永辉"):
        assert "只有管理员" in police.say(text)


def test_unknown_slash_command(app: App) -> None:
    assert "没有“/nope”这个命令" in Chat(app, "方广成").say("/nope")


def stranger(text: str = "汇总", **kw: object) -> Incoming:
    return Incoming("telegram", "900", "900", "s1", text, caps=TELEGRAM_CAPS, **kw)  # type: ignore[arg-type]


def test_strangers_see_nothing_but_the_way_in(app: App) -> None:
    Chat(app, "方广成").say("1 3")
    for text in ("汇总", "/help", "查处网络违法案件 3", "导出"):
        replies = app.core.handle(stranger(text))
        assert len(replies) == 1 and replies[0].request_contact
        assert "分享手机号" in replies[0].text and "查处" not in replies[0].text


def test_own_shared_contact_binds_and_greets(app: App) -> None:
    card = SharedContact(phone="+86 136 6698 7053", user_id="900")
    replies = app.core.handle(stranger("", contact=card))
    text = "\n".join(r.text for r in replies)
    assert "方广成（市公安局），您好" in text and "1. 查处网络违法案件" in text
    follow = app.core.handle(Incoming("telegram", "900", "900", "s2", "1 2"))
    assert "累计 2 件" in follow[0].text


def test_forwarded_or_unknown_contact_is_refused(app: App) -> None:
    forwarded = SharedContact(phone="13666987053", user_id="901")
    assert "不能转发别人的名片" in app.core.handle(stranger("", contact=forwarded))[0].text
    unknown = SharedContact(phone="13800000000", user_id="900")
    assert "不在联系人名单里" in app.core.handle(stranger("", contact=unknown))[0].text
    assert app.core.handle(stranger("1 3"))[0].request_contact


def test_groups_get_only_help(app: App) -> None:
    Chat(app, "方广成")
    group = Incoming("telegram", "-100", "user-1", "g1", "汇总", private=False)
    assert app.core.handle(group) == []
    helped = app.core.handle(Incoming("telegram", "-100", "user-1", "g2", "/help", private=False))
    assert "私聊" in helped[0].text
    assert app.core.handle(Incoming("telegram", "-100", "user-1", "g3", "1 3", private=False)) == []
