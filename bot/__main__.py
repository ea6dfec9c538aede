"""python -m bot: the one start-up file.

  run                      the bot: Telegram/WeCom when configured, else the console chat
  console --as NAME        chat on the terminal as one contact
  invite NAME              print a one-time binding code for a contact
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from campaign import ConfigError
from store.errors import StoreError

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="三明市网络市场监管专项行动报数机器人")
    parser.add_argument("--config", help="config.toml 的路径（默认读 BOT_CONFIG 或项目里的 config.toml）")
    parser.add_argument("--database", help="数据库地址（默认读 BOT_DATABASE_URL，否则 data/bot.db）")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="运行机器人（未配置 Telegram/企业微信时进入控制台聊天）")
    console = sub.add_parser("console", help="在终端里以某位联系人的身份聊天")
    console.add_argument("--as", dest="name", required=True, help="联系人姓名（同名时写 姓名@单位）")
    invite = sub.add_parser("invite", help="为联系人生成一次性绑定码（没有名单手机号的人用它绑定）")
    invite.add_argument("name", help="联系人姓名（同名时写 姓名@单位）")
    invite.add_argument("--hours", type=float, default=72, help="有效小时数（默认 72）")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    logging.basicConfig(
        level=os.environ.get("BOT_LOG_LEVEL", "WARNING" if command in ("run", "console", "invite") else "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from bot.app import build_app  # imported late: --help must answer without a database

    try:
        app = build_app(args.config, args.database)
    except ConfigError as exc:
        print(f"配置错误 {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"数据库不可用：{exc}", file=sys.stderr)
        return 3
    try:
        return _dispatch(app, command, args)
    finally:
        app.close()


def _dispatch(app: object, command: str, args: argparse.Namespace) -> int:
    from bot.app import App
    from bot.console import ConsoleError, pick_person, run_console

    assert isinstance(app, App)
    if command == "invite":
        import datetime as dt

        from handlers.invites import issue_for

        issued, text = issue_for(app.campaign, app.db, args.name, app.now(), ttl=dt.timedelta(hours=args.hours))
        print(text, file=sys.stdout if issued else sys.stderr)
        return 0 if issued else 2
    if command == "run":
        import asyncio

        from bot.runner import configured_transports, serve
        from reminders.service import reminder_service

        transports = configured_transports(app)
        if transports:
            asyncio.run(serve(app, transports, [reminder_service()]))
            return 0
    if command in ("run", "console"):
        name = getattr(args, "name", None)
        if command == "run":
            print("未配置 Telegram（TELEGRAM_BOT_TOKEN）或企业微信（WECOM_CORP_ID 等），进入控制台聊天。"
                  "配置方法见 README。", file=sys.stderr)
        try:
            person = pick_person(app, name)
        except ConsoleError as exc:
            print(exc, file=sys.stderr)
            return 2
        return run_console(app, person, sys.stdin, sys.stdout)
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
