"""导出: the 附件2 table as an xlsx file; admins choose a department and a day."""

from __future__ import annotations

from campaign import Department
from handlers.context import Context
from handlers.dates import DateError, find_dates
from handlers.messages import Attachment, Reply
from store.statistics import build_export


def export(ctx: Context) -> list[Reply]:
    """Send the statistics table: own department, or (admins) the city or one department, as of a day."""
    campaign = ctx.campaign
    try:
        days, rest = find_dates(ctx.args, campaign.start.year)
    except DateError as exc:
        return [Reply(f"{exc}例如：导出 8月20日")]
    if len(days) > 1:
        return [Reply("一次只能导出一个日期，例如：导出 8月20日")]
    as_of = days[0] if days else ctx.now.astimezone(campaign.tz).date()
    department: Department | None = ctx.department
    if ctx.person.is_admin:
        if rest in ("", "全市", "全部"):
            department = None
        else:
            found = campaign.find_department(rest)
            if found is None:
                return [Reply(f"没有找到单位「{rest}」。例如：导出 公安局，或 导出 公安局 8月20日")]
            department = found
    elif rest and campaign.find_department(rest) not in (None, ctx.department):
        return [Reply(f"您只能导出本单位（{ctx.department.short}）的统计表。")]
    if department is not None and department.group is None:
        return [Reply(f"{department.short}在统计表（附件2）中没有需要填报的项目，不用导出统计表。")]
    built = build_export(ctx.db, campaign, department, as_of)
    caption = f"{campaign.table_title}（{built.title}）"
    return [Reply(f"统计表已生成：{built.title}。", file=Attachment(built.filename, built.data, caption))]
