"""Which scope a command is about: the sender's own (campaign.scopes.viewer_scope) or one they name."""

from __future__ import annotations

from campaign.model import County
from campaign.names import choices_text, match_unit
from campaign.scopes import Scope, city_scope, county_scope, named_scope, unit_scope, viewer_scope
from handlers.context import Context

CITY_WORDS = ("全市", "全部", "城市", "all")
OWN_WORDS = ("本单位", "我的", "本级")


def own_scope(ctx: Context) -> Scope:
    """Everything the sender may see."""
    return viewer_scope(ctx.campaign, ctx.person.department, ctx.person.role)


def named(ctx: Context, text: str, example: str) -> Scope | str:
    """The scope a name means (三元区, 公安局, 三元区公安局, 全市), or why the sender cannot have it."""
    text = text.strip()
    own = own_scope(ctx)
    if not text:
        return own
    if text in OWN_WORDS:
        return unit_scope(ctx.campaign, ctx.person.department)
    if text in CITY_WORDS:
        target = city_scope(ctx.campaign)
    else:
        found = match_unit(ctx.campaign, text, near=ctx.person.department)
        if isinstance(found, County):
            target = county_scope(ctx.campaign, found.key)
        elif not found:
            return f"没有找到单位「{text}」。例如：{example}"
        elif len(found) > 1:
            return choices_text(text, found)
        else:
            target = named_scope(ctx.campaign, found[0])
    if not own.covers(target):
        return f"您只能查看{own.label}的数据。"
    return target
