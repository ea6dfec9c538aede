"""导出: the 附件2 table as an xlsx file of the sender's scope, or of one they name, as of a day."""

from __future__ import annotations

from handlers import scoping
from handlers.context import Context
from handlers.dates import DateError, find_dates
from handlers.messages import Attachment, Reply
from store.statistics import build_export


def export(ctx: Context) -> list[Reply]:
    """Send the statistics table: a county unit its own, a city department its system (a sheet per county),
    a county's market regulation its county (导出 三元区), 网监科 the city or any unit; as of a day."""
    campaign = ctx.campaign
    try:
        days, rest = find_dates(ctx.args, campaign.start.year)
    except DateError as exc:
        return [Reply(f"{exc}例如：导出 8月20日")]
    if len(days) > 1:
        return [Reply("一次只能导出一个日期，例如：导出 8月20日")]
    as_of = days[0] if days else ctx.now.astimezone(campaign.tz).date()
    scope = scoping.named(ctx, rest, "导出 公安局，或 导出 公安局 8月20日")
    if isinstance(scope, str):
        return [Reply(scope.replace("查看", "导出"))]
    if not scope.groups:
        return [Reply(f"{scope.label}在统计表（附件2）中没有需要填报的项目，不用导出统计表。")]
    built = build_export(ctx.db, campaign, scope, as_of)
    caption = f"{campaign.table_title}（{built.title}）"
    return [Reply(f"统计表已生成：{built.title}。", file=Attachment(built.filename, built.data, caption))]
