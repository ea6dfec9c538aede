"""Pure formatting: every sentence the bot says is built here, short and in plain Chinese."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from campaign import Campaign, Indicator
from handlers.commands import label

SORRY = "抱歉，处理这条消息时出错了，没有记录任何数据。请稍后再试；如果一直不行，请联系管理员。"
STORE_DOWN = "系统暂时忙，这条消息没有记上。请过一会儿再发一次。"
UNKNOWN_USER = (
    "您好！本机器人只为三明市网络市场监管专项行动各成员单位的联系人服务。\n"
    "请点下方“分享手机号”按钮验证身份；如果管理员给了您绑定码，也可以直接发送绑定码。"
)
UNKNOWN_USER_NO_CARD = (
    "您好！本机器人只为三明市网络市场监管专项行动各成员单位的联系人服务。\n"
    "请向市市场监管局网监科要一个绑定码，直接发给我即可。"
)
TOO_FAST = "您发得太快了，刚才的消息没有处理。请稍等几秒再发，已记录的数据不受影响。"
GROUP_HELP = "请在与我的私聊中报送数据。在群里我只回答 /help。"
WEEKDAYS = "一二三四五六日"


def quote(text: str, limit: int = 24) -> str:
    """What the user wrote, cut short: a reply repeats enough to recognise it, never a whole flood."""
    return text if len(text) <= limit else text[:limit] + "…"


def amount(value: Decimal, unit: str) -> str:
    """3 件, 1.2 万条, 0.3 万元: exact, without trailing zeros."""
    return f"{number(value)} {unit}"


def number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def signed(value: Decimal, unit: str) -> str:
    return ("+" if value >= 0 else "-") + amount(abs(value), unit)


def when(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """11月20日 14:05, in the campaign's time zone."""
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def day(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日（星期{WEEKDAYS[value.weekday()]}）"


def indicator_line(ind: Indicator, total: Decimal | None = None) -> str:
    if total is None:
        return f"{ind.no}. {ind.label}"
    return f"{ind.no}. {ind.name}：{amount(total, ind.unit)}"


def example(own: Sequence[Indicator]) -> str:
    """A report that works for this contact, to show after a mistake."""
    if not own:
        return "查处网络违法案件 3"
    return f"{min((own[0].name, *own[0].aliases), key=len)} 3"


def help_text(campaign: Campaign, name: str, department: str, own: Sequence[Indicator], admin: bool) -> str:
    lines = [f"{name}（{department}），您好！这是{campaign.title}的报数助手。"]
    if own:
        lines += [
            "报数：发“项目名称 数量”或“序号 数量”，例如：",
            f"  {example(own)}",
            "  1 3",
            "  多项用逗号或换行分开；发负数可以减少，如“1 -1”；“更正 1 5”把累计改为5。",
        ]
    else:
        lines.append("贵单位在统计表（附件2）中没有需要填报的项目，请按时报送总结材料。")
    lines.append("常用：" + "、".join(label(n) for n in ("list", "total", "history", "undo", "export", "deadlines")))
    lines.append("材料：直接发文件、图片或视频（说明里写类别，如“总结报告”）；发“材料”看清单，“上传”打开网页。")
    if admin:
        lines.append("管理员：" + "、".join(label(n) for n in ("progress", "notify", "contacts", "invite")))
        lines.append("  通知 [单位] 内容；节假日 2027-01-01；调休上班 2027-02-07")
        lines.append("  材料 [单位]；材料包 [期限]；看板（网页：进度、统计表、材料）")
        lines.append("  添加联系人 姓名 单位 手机号 [科室]；删除联系人 姓名")
        lines.append("  修改联系人 姓名 手机/科室/邮箱/传真/电话/角色 新值")
    return "\n".join(lines)


def indicator_list(department: str, own: Sequence[Indicator], totals: dict[str, Decimal]) -> str:
    if not own:
        return f"{department}在统计表中没有需要填报的项目。"
    lines = [f"{department}的填报项目（序号 名称：当前累计）："]
    lines += [indicator_line(i, totals.get(i.key, Decimal(0))) for i in own]
    lines.append("报数示例：" + f"{own[0].no} 3")
    return "\n".join(lines)


def department_totals(department: str, own: Sequence[Indicator], totals: dict[str, Decimal], at: str) -> str:
    """A department's totals; long lists show only what is filled in."""
    if not own:
        return f"{department}在统计表中没有需要填报的项目。"
    filled = [i for i in own if totals.get(i.key, Decimal(0)) != 0]
    shown = own if len(own) <= 10 else filled
    lines = [f"{department}累计（截至{at}）："]
    lines += [indicator_line(i, totals.get(i.key, Decimal(0))) for i in shown]
    rest = len(own) - len(shown)
    if rest:
        lines.append(f"其余{rest}项为0。" if shown else f"全部{rest}项均为0，还没有报数。")
    return "\n".join(lines)


NO_TRANSPORT = "现在机器人没有连上任何聊天软件，消息发不出去（没有发出，也没有保存）。请在机器人正式运行时再发。"


def unreachable(names: list[str]) -> str:
    """One wording, wherever a message could not go to someone."""
    return f"收不到的（还没有绑定聊天或已屏蔽机器人）：{'、'.join(dict.fromkeys(names))}。"
