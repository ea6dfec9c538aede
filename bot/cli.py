"""The server-side subcommands of `python -m bot`, one function each, all on a built App."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from bot.app import App


def run(app: App, args: argparse.Namespace) -> int:
    """Serve Telegram/WeCom when configured; otherwise open the console chat as the first admin."""
    from bot.runner import configured_transports, serve
    from campaign import ConfigError
    from desk.server import desk_service, serve_in_thread
    from reminders.service import reminder_service

    try:
        transports = configured_transports(app)
    except ConfigError as exc:
        print(f"配置错误 {exc}", file=sys.stderr)
        return 2
    if transports:
        asyncio.run(serve(app, transports, [reminder_service(), desk_service()]))
        return 0
    print("未配置企业微信（WECOM_CORP_ID 等）、钉钉（DINGTALK_CLIENT_ID 等）或 Telegram（TELEGRAM_BOT_TOKEN），"
          "进入控制台聊天。配置方法见 README。", file=sys.stderr)
    stop_desk = serve_in_thread(app)  # the desk works beside the console chat too
    try:
        return console(app, args)
    finally:
        stop_desk()


def console(app: App, args: argparse.Namespace) -> int:
    """Chat on the terminal as one contact."""
    from bot.console import ConsoleError, pick_person, run_console

    try:
        person = pick_person(app, getattr(args, "name", None))
    except ConsoleError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_console(app, person, sys.stdin, sys.stdout)


def invite(app: App, args: argparse.Namespace) -> int:
    """Print a single-use binding code for a contact."""
    from handlers.invites import issue_for

    issued, text = issue_for(app.campaign, app.db, args.name, app.now(), ttl=dt.timedelta(hours=args.hours))
    print(text, file=sys.stdout if issued else sys.stderr)
    return 0 if issued else 2


def export(app: App, args: argparse.Namespace) -> int:
    """Write the 附件2 table of the city or one department to an xlsx file."""
    from campaign.names import find_county
    from campaign.scopes import Scope, county_scope, named_scope
    from store.statistics import build_export

    scope: Scope | None = None
    if args.agency:
        county = find_county(app.campaign, args.agency)  # --agency 三元区: the county's table
        department = app.campaign.find_department(args.agency)
        if county is not None:
            scope = county_scope(app.campaign, county.key)
        elif department is not None:
            scope = named_scope(app.campaign, department)
        else:
            print(f"没有找到单位「{args.agency}」。", file=sys.stderr)
            return 2
        if not scope.groups:
            print(f"{scope.label}在统计表中没有需要填报的项目。", file=sys.stderr)
            return 2
    as_of = args.as_of or app.now().astimezone(app.campaign.tz).date()
    built = build_export(app.db, app.campaign, scope, as_of)
    out = Path(args.out) if args.out else Path(built.filename)
    out.write_bytes(built.data)
    print(f"已导出：{out}（{built.title}）")
    return 0


def contacts(app: App, args: argparse.Namespace) -> int:
    """Import or export the contact list as an xlsx file in the 附件1 layout."""
    from store.roster import export_contacts, import_contacts

    path = Path(args.file)
    if args.action == "export":
        path.write_bytes(export_contacts(app.db, app.campaign))
        print(f"已导出联系人名单：{path}")
        return 0
    try:
        report = import_contacts(app.db, app.campaign, path.read_bytes(), app.now())
    except (OSError, ValueError) as exc:
        print(f"无法导入：{exc}", file=sys.stderr)
        return 2
    print(report.text(), file=sys.stdout if report.imported else sys.stderr)
    return 0 if report.imported else 1


def schedule(app: App, args: argparse.Namespace) -> int:
    """Print the reminder plan: one line per message and recipient."""
    from reminders.dispatch import work_calendar
    from reminders.listing import schedule_lines
    from reminders.plan import build_plan
    from store import directory

    with app.db.session() as s:
        calendar = work_calendar(app.campaign, s)
        people = directory.people(s)
    lines = schedule_lines(app.campaign, build_plan(app.campaign, calendar), people, args.date_from, args.date_to)
    print("\n".join(lines) if lines else "这段时间没有安排提醒。")
    return 0


def wecom_menu(app: App, args: argparse.Namespace) -> int:
    """Send [wecom] menu to WeCom with menu/create (the bot also does this at every start)."""
    from bot.wecom import WeComTransport
    from bot.wecom_settings import load_settings
    from campaign import ConfigError

    try:
        settings = load_settings(app.campaign)
    except ConfigError as exc:
        print(f"配置错误 {exc}", file=sys.stderr)
        return 2
    if settings is None:
        print("未配置企业微信（WECOM_CORP_ID、WECOM_AGENT_ID、WECOM_SECRET 等），无法设置菜单。", file=sys.stderr)
        return 2

    async def send() -> bool:
        transport = WeComTransport(app, settings)
        try:
            return await transport.create_menu()
        finally:
            await transport.api.close()

    if not asyncio.run(send()):
        print("菜单设置失败，原因见上面的日志。", file=sys.stderr)
        return 1
    print("已设置企业微信应用菜单：" + "、".join(settings.menu))
    return 0


def materials(app: App, args: argparse.Namespace) -> int:
    """Add a material file as a contact (materials add), or write a deadline's zip (materials pack)."""
    from bot.material_cli import add, pack

    return add(app, args) if args.action == "add" else pack(app, args)


COMMANDS = {"run": run, "console": console, "invite": invite, "export": export, "contacts": contacts,
            "schedule": schedule, "wecom-menu": wecom_menu, "materials": materials}
