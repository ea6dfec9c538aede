"""python -m bot: the one start-up file.

  run                                   the bot: WeCom/DingTalk/Telegram when configured, else the console chat
  console --as NAME                     chat on the terminal as one contact
  invite NAME [--hours 72]              a single-use binding code for a contact
  export [--agency NAME] [--as-of DATE] --out FILE.xlsx     the 附件2 statistics table
  contacts import FILE.xlsx | contacts export FILE.xlsx     the contact list (附件1 layout)
  schedule [--from DATE] [--to DATE]    the reminder plan, one line per message
  wecom-menu                            send [wecom] menu to WeCom (menu/create; also done at every start)
  materials add --as NAME --kind KIND FILE | materials pack [--deadline KEY] --out FILE.zip
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence

from campaign import ConfigError
from store.errors import StoreError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 2023-08-20，不是 {text!r}") from None


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
    export = sub.add_parser("export", help="导出附件2统计表（xlsx）")
    export.add_argument("--agency", help="单位（简称或全称）；不写则导出全市")
    export.add_argument("--as-of", type=_date, help="截至哪一天（含当天，北京时间），如 2023-08-20")
    export.add_argument("--out", help="输出文件，默认按表名-单位-日期命名")
    contacts = sub.add_parser("contacts", help="导入或导出联系人名单（附件1格式的 xlsx）")
    contacts.add_argument("action", choices=("import", "export"))
    contacts.add_argument("file", help="xlsx 文件")
    schedule = sub.add_parser("schedule", help="列出提醒计划：每条消息一行")
    schedule.add_argument("--from", dest="date_from", type=_date, help="开始日期，如 2023-08-09")
    schedule.add_argument("--to", dest="date_to", type=_date, help="结束日期，如 2023-11-30")
    sub.add_parser("wecom-menu", help="按 config.toml 的 [wecom] menu 设置企业微信应用菜单（启动时也会设置）")
    materials = sub.add_parser("materials", help="报送材料：以联系人身份添加文件，或导出材料包（zip）")
    actions = materials.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="以联系人身份添加一个材料文件")
    add.add_argument("file", help="要添加的文件")
    add.add_argument("--as", dest="name", required=True, help="联系人姓名（同名时写 姓名@单位）")
    add.add_argument("--kind", required=True, help="材料类别，如 summary 或 总结报告")
    add.add_argument("--deadline", help="期限：键（如 final）或日期（如 11-20）；不写则为下一个期限")
    pack = actions.add_parser("pack", help="导出一个期限的材料包（zip）")
    pack.add_argument("--deadline", help="期限：键（如 final）或日期（如 11-20）；不写则为下一个期限")
    pack.add_argument("--out", help="输出的 zip 文件")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    logging.basicConfig(
        level=os.environ.get("BOT_LOG_LEVEL", "INFO" if command == "run" else "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is noise at every start
    from bot.app import build_app  # imported late: --help answers without touching the database
    from bot.cli import COMMANDS

    try:
        app = build_app(args.config, args.database)
    except ConfigError as exc:
        print(f"配置错误 {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"数据库不可用：{exc}", file=sys.stderr)
        return 3
    try:
        return COMMANDS[command](app, args)
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
