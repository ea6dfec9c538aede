"""160 messages as department staff write them, through the real core: booked at once, proposed, or refused.

booked: the exact grammar; the reply says 已记录 and the totals moved by exactly the expected amounts.
proposed: nothing moved; after 确认 (新增 for a cumulative question) the totals moved by exactly those amounts.
refused: nothing moved, and 确认 afterwards books nothing either.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from bot.app import App, build_app
from handlers.throttle import Throttle
from store import ledger
from tests.support import Chat, FakeClock

B, P, R = "booked", "proposed", "refused"
WX, TX, GA, HG, LY, YZ, YJ, SC = "李勤额", "伊贤琦", "方广成", "王晓芳", "陈彬", "肖方侃", "陈明栋", "王永辉"
SW, WL, TAX = "戴超颖", "蔡媛媛", "李泉南"

CASES: list[tuple[str, str, str, dict[str, str]]] = [
    # 网信办: 万条 and 账号
    (WX, "清理网上违法违规信息 1.2", B, {"wx1": "1.2"}),
    (WX, "清理网上违法违规信息 12000条", B, {"wx1": "1.2"}),
    (WX, "清理网上违法违规信息 1.2万", B, {"wx1": "1.2"}),
    (WX, "清理违法违规信息 0.5万条", B, {"wx1": "0.5"}),
    (WX, "1 0.3", B, {"wx1": "0.3"}),
    (WX, "处置网站平台违法违规账号 15", B, {"wx2": "15"}),
    (WX, "2 7", B, {"wx2": "7"}),
    (WX, "处置违法违规账号 3个", B, {"wx2": "3"}),
    (WX, "处置违规账号 3", P, {"wx2": "3"}),
    (WX, "处置违规帐号 4个", P, {"wx2": "4"}),
    (WX, "本周清理网上违法违规信息1,200条", P, {"wx1": "0.12"}),
    (WX, "今天处置网站平台违法违规账号5个👍", P, {"wx2": "5"}),
    (WX, "本月我办清理网上违法违规信息3.5万条，处置网站平台违法违规账号26个。", P, {"wx1": "3.5", "wx2": "26"}),
    (WX, "处置网站平台违法违规账号 1.5", R, {}),
    (WX, "查处网络违法案件 3", R, {}),
    (WX, "清理网上违法违规信息 几万条", R, {}),
    (WX, "处置网站平台违法违规账号 十几个", R, {}),
    (WX, "清理网上违法违规信息 3吨", R, {}),
    (WX, "你好，请问怎么报数？", R, {}),
    # 通信管理办: 家
    (TX, "处置违法违规互联网应用 2", B, {"dx1": "2"}),
    (TX, "处置APP 3家", B, {"dx1": "3"}),
    (TX, "处置网站 1", B, {"dx1": "1"}),
    (TX, "1 4", B, {"dx1": "4"}),
    (TX, "处置违法违规互联网应用(网站、APP等) 5", B, {"dx1": "5"}),
    (TX, "处置违法违规互联网应用(网站、APP等)（家） 2", B, {"dx1": "2"}),
    (TX, "本周处置违法违规APP 2家", P, {"dx1": "2"}),
    (TX, "我办本月处置违法违规互联网应用6家。", P, {"dx1": "6"}),
    (TX, "处置互联网应用 两家", B, {"dx1": "2"}),
    (TX, "处置互联网应用 1.5家", R, {}),
    (TX, "处置违法违规互联网应用 约10家", R, {}),
    (TX, "清理网上违法违规信息 3", R, {}),
    (TX, "处置APP 20000", P, {"dx1": "20000"}),
    # 公安局
    (GA, "查处网络违法案件 3", B, {"ga1": "3"}),
    (GA, "查处网络违法案件3件", B, {"ga1": "3"}),
    (GA, "查处网络违法案件 三件", B, {"ga1": "3"}),
    (GA, "查处网络违法案件 一百一", B, {"ga1": "110"}),
    (GA, "查处网络违法案件 两百五", B, {"ga1": "250"}),
    (GA, "查处网络违法案件 十二", B, {"ga1": "12"}),
    (GA, "查处网络违法案件 3起", B, {"ga1": "3"}),
    (GA, "网络违法案件 两", B, {"ga1": "2"}),
    (GA, "1 3，2 5", B, {"ga1": "3", "ga2": "5"}),
    (GA, "关停账号 12", B, {"ga2": "12"}),
    (GA, "清理有害信息 860条", B, {"ga4": "860"}),
    (GA, "清理网上违法有害信息 12000条", B, {"ga4": "12000"}),
    (GA, "不履行主体责任 2", B, {"ga3": "2"}),
    (GA, "查处网络违法案件 3，清理网上违法有害信息 100", B, {"ga1": "3", "ga4": "100"}),
    (GA, "今天查处网络违法案件3起", P, {"ga1": "3"}),
    (GA, "查处网络违法案件3件👍", P, {"ga1": "3"}),
    (GA, "查处网络违法案件 3宗", P, {"ga1": "3"}),
    (GA, "查处了网络违法案件4起", P, {"ga1": "4"}),
    (GA, "本周我局查处网络违法案件3起，督促关停违法违规账号12个，清理有害信息860条。下一步将继续加强巡查。", P,
     {"ga1": "3", "ga2": "12", "ga4": "860"}),
    (GA, "督促关停违法违规账号 12个", P, {"ga2": "12"}),
    (GA, "清理网上违法有害信息 1,200条", P, {"ga4": "1200"}),
    (GA, "截至8月20日，查处网络违法案件12件", P, {"ga1": "12"}),
    (GA, "查处网络违法案件累计12件", P, {"ga1": "12"}),
    (GA, "查处网络违法案件共计12件", P, {"ga1": "12"}),
    (GA, "查处网络违法案件 20000", P, {"ga1": "20000"}),
    (GA, "清理网上违法有害信息 150000条", P, {"ga4": "150000"}),
    (GA, "本月出动警力120人次，查处网络违法案件5起，涉案金额30万元。", P, {"ga1": "5"}),
    (GA, "查处网络违法案件 1.5", R, {}),
    (GA, "查处网络违法案件 3吨", R, {}),
    (GA, "9 3", R, {}),
    (GA, "你好", R, {}),
    (GA, "查处网络违法案件", R, {}),
    (GA, "查处网络违法案件 十几件", R, {}),
    (GA, "查处网络违法案件 上百件", R, {}),
    (GA, "查处网络违法案件 20多件", R, {}),
    (GA, "查处网络违法案件有几件？", R, {}),
    (GA, "检查网红店 5", R, {}),
    (GA, "清理网上违法违规信息 1", R, {}),
    (GA, "查处网络违法案件 3，不存在的项目 5", R, {}),
    # 海关
    (HG, "寄递渠道查获侵权货物 3批次", B, {"hg1": "3"}),
    (HG, "寄递渠道查获侵权货物 7件", B, {"hg2": "7"}),
    (HG, "寄递渠道查获侵权货物 2批", B, {"hg1": "2"}),
    (HG, "侵权货物 5件", B, {"hg2": "5"}),
    (HG, "1 2，2 30", B, {"hg1": "2", "hg2": "30"}),
    (HG, "进口环节查获含金银箔粉食品 0.5", B, {"hg3": "0.5"}),
    (HG, "金银箔粉 500千克", B, {"hg3": "0.5"}),
    (HG, "金银箔粉 1.25吨", B, {"hg3": "1.25"}),
    (HG, "金银箔份 0.5吨", P, {"hg3": "0.5"}),
    (HG, "寄递渠道查获侵权货物3批次、12件", P, {"hg1": "3", "hg2": "12"}),
    (HG, "本周寄递渠道查获侵权货物2批次", P, {"hg1": "2"}),
    (HG, "我关本月进口环节查获含金银箔粉食品0.3吨。", P, {"hg3": "0.3"}),
    (HG, "金银箔粉 200吨", P, {"hg3": "200"}),
    (HG, "寄递渠道查获侵权货物 3", R, {}),
    (HG, "寄递渠道查获侵权货物 1.5件", R, {}),
    (HG, "金银箔粉 3件", R, {}),
    (HG, "金银箔粉 约2吨", R, {}),
    # 林业局
    (LY, "提交线索 3", B, {"ly1": "3"}),
    (LY, "配合查处案件 1", B, {"ly2": "1"}),
    (LY, "1 5", B, {"ly1": "5"}),
    (LY, "向公安机关、市场监管部门、网信部门和邮政部门提交网上非法交易野生动植物线索数量 4", B, {"ly1": "4"}),
    (LY, "提交野生动植物线索 2条", B, {"ly1": "2"}),
    (LY, "本月提交野生动植物线索6条", P, {"ly1": "6"}),
    (LY, "今天配合查处野生动植物案件1起", P, {"ly2": "1"}),
    (LY, "配合查处案件 0.5", R, {}),
    (LY, "查处网络违法案件 3", R, {}),
    (LY, "提交线索 几条", R, {}),
    # 邮政管理局
    (YZ, "查处违法违规行为 2", B, {"yz1": "2"}),
    (YZ, "查处违法违规行为 3次", B, {"yz1": "3"}),
    (YZ, "1 1", B, {"yz1": "1"}),
    (YZ, "本周查处违法违规行为2次", P, {"yz1": "2"}),
    (YZ, "我局今天查处寄递企业违法违规行为1次", P, {"yz1": "1"}),
    (YZ, "查处违法违规行为 2吨", R, {}),
    (YZ, "寄递渠道查获侵权货物 3批次", R, {}),
    # 药监
    (YJ, "屏蔽或关闭网站 2", B, {"yp1": "2"}),
    (YJ, "查处网售药品违法案件 1", B, {"yp2": "1"}),
    (YJ, "网售药品违法案件处罚金额 0.3", B, {"yp5": "0.3"}),
    (YJ, "网售药品违法案件处罚金额 0.3万", B, {"yp5": "0.3"}),
    (YJ, "药品处罚金额 5000元", B, {"yp5": "0.5"}),
    (YJ, "化妆品处罚金额 1.2万元", B, {"yp7": "1.2"}),
    (YJ, "移送药品案件 1", B, {"yp8": "1"}),
    (YJ, "移送公安机关的网售医疗器械违违法案件 1", B, {"yp9": "1"}),
    (YJ, "2 1，3 2，4 1", B, {"yp2": "1", "yp3": "2", "yp4": "1"}),
    (YJ, "屏避网站 2", P, {"yp1": "2"}),
    (YJ, "屏蔽网站 2", P, {"yp1": "2"}),
    (YJ, "查处药品案件2件，医疗器械案件1件，化妆品案件4件", P, {"yp2": "2", "yp3": "1", "yp4": "4"}),
    (YJ, "本月查处网售化妆品违法案件2起", P, {"yp4": "2"}),
    (YJ, "网售药品违法案件处罚金额 1万5千元", P, {"yp5": "1.5"}),
    (YJ, "网售药品违法案件处罚金额 300", P, {"yp5": "300"}),
    (YJ, "医疗器械案件 1", R, {}),
    (YJ, "处罚金额 1", R, {}),
    (YJ, "药品案件罚没款 0.3", R, {}),
    (YJ, "查处网售药品违法案件 0.5", R, {}),
    (YJ, "查处网络违法案件 1", R, {}),
    # 市场监管局
    (SC, "查处网络餐饮服务案件 2", B, {"sc13": "2"}),
    (SC, "网络餐饮服务案件罚没款 0.5万", B, {"sc14": "0.5"}),
    (SC, "网络餐饮服务案件罚没款 12000元", B, {"sc14": "1.2"}),
    (SC, "检查网红店 5", B, {"sc17": "5"}),
    (SC, "红黑榜 1", B, {"sc23": "1"}),
    (SC, "开展“每月一周查网红”执法行动2次", B, {"sc16": "2"}),
    (SC, "每月一周查网红 一次", B, {"sc16": "1"}),
    (SC, "检查网络餐饮服务第三方平台 3", B, {"sc5": "3"}),
    (SC, "删除违法商品信息 120条", B, {"sc1": "120"}),
    (SC, "失信名单 2户", B, {"sc35": "2"}),
    (SC, "失信名单 2家", B, {"sc35": "2"}),
    (SC, "虚假广告 1", B, {"sc30": "1"}),
    (SC, "13 2，14 0.5", B, {"sc13": "2", "sc14": "0.5"}),
    (SC, "网红店罚没款 0.2", B, {"sc21": "0.2"}),
    (SC, "本周检查网红店5家", P, {"sc17": "5"}),
    (SC, "检查网红店 5家", P, {"sc17": "5"}),
    (SC, "我局本月开展“每月一周查网红”执法行动1次", P, {"sc16": "1"}),
    (SC, "其中查处网络餐饮服务案件2件", P, {"sc13": "2"}),
    (SC, "虚假广告案件 1", P, {"sc30": "1"}),
    (SC, "不正当竟争案件 2", P, {"sc29": "2"}),
    (SC, "办结网络餐饮服务投述举报 3", P, {"sc11": "3"}),
    (SC, "网络餐饮服务案件罚没款 1万5千元", P, {"sc14": "1.5"}),
    (SC, "线下检查入网餐饮服务提供者 1,200个次", P, {"sc7": "1200"}),
    (SC, "本周线上监测入网餐饮服务提供者320家，线下检查入网餐饮服务提供者86家，督促下线餐饮服务提供者4家。", P,
     {"sc6": "320", "sc7": "86", "sc12": "4"}),
    (SC, "截至8月20日，查处网络餐饮服务案件12件", P, {"sc13": "12"}),
    (SC, "网络餐饮服务案件罚没款 200", P, {"sc14": "200"}),
    (SC, "查处网络拍卖案件 1宗", P, {"sc32": "1"}),
    (SC, "罚没款 2", R, {}),
    (SC, "回头看 3", R, {}),
    (SC, "查处网络餐饮服务案件 1.5", R, {}),
    (SC, "检查网红店 3吨", R, {}),
    (SC, "查处网络违法案件 3", R, {}),
    (SC, "检查网红店 十几家", R, {}),
    (SC, "检查网红店大约20家", R, {}),
    (SC, "红黑榜发布了吗？", R, {}),
    (SC, "收到", R, {}),
    (SC, "50 1", R, {}),
    # Departments without rows of their own
    (SW, "查处网络违法案件 3", R, {}),
    (WL, "本周检查网红店5家", R, {}),
    (TAX, "1 3", R, {}),
]


@pytest.fixture(scope="module")
def table_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, FakeClock]]:
    clock = FakeClock()
    built = build_app(url=f"sqlite:///{tmp_path_factory.mktemp('table') / 'bot.db'}", clock=clock)
    built.core.throttle = Throttle(burst=10**9)
    yield built, clock
    built.close()


def totals(app: App, chat: Chat) -> dict[str, Decimal]:
    with app.db.read() as s:
        return {ind: amount for (_, ind), amount in ledger.totals(s, [chat.person.department_id]).items()}


def moved(before: dict[str, Decimal], after: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k: after.get(k, Decimal(0)) - before.get(k, Decimal(0)) for k in set(before) | set(after)
            if after.get(k, Decimal(0)) != before.get(k, Decimal(0))}


def test_at_least_150_messages() -> None:
    assert len(CASES) >= 150
    assert {who for who, *_ in CASES} >= {WX, TX, GA, HG, LY, YZ, YJ, SC, SW, WL, TAX}


@pytest.mark.parametrize(("who", "text", "outcome", "expected"), CASES, ids=[f"{n}-{c[1][:12]}" for n, c in
                                                                           enumerate(CASES)])
def test_message(table_app: tuple[App, FakeClock], who: str, text: str, outcome: str,
                 expected: dict[str, str]) -> None:
    app, clock = table_app
    clock.advance(minutes=11)  # no case sees another's booking as "the same text moments ago"
    chat = Chat(app, who)
    want = {k: Decimal(v) for k, v in expected.items()}
    before = totals(app, chat)
    reply = chat.say(text)
    after = totals(app, chat)
    if outcome == B:
        assert reply.startswith("已记录"), reply
        assert moved(before, after) == want, reply
        return
    assert moved(before, after) == {}, reply
    assert not reply.startswith(("已记录", "已更正")), reply
    if outcome == P:
        assert "确认" in reply or "是新增" in reply, reply
        answer = chat.say("新增" if "是新增" in reply else "确认")
        assert answer.startswith("已记录"), (reply, answer)
        assert moved(before, totals(app, chat)) == want, (reply, answer)
        assert "已经确认记过了" in chat.say("确认")
        assert moved(before, totals(app, chat)) == want
    else:
        assert "请核对" not in reply and "是新增" not in reply, reply
        chat.say("确认")
        assert moved(before, totals(app, chat)) == {}, reply
