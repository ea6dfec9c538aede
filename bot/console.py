"""The console transport: a chat on the terminal as one contact of config.toml.

Each input line is one message; the bot's replies are printed; end of input ends the chat.
The console is a trusted operator tool, so it binds itself to the chosen contact.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TextIO

from bot.app import App
from handlers.messages import Capabilities, Incoming, Reply
from store import directory
from store.directory import Person

TRANSPORT = "console"
# The operator picked the contact: no proof needed, and no buttons; files are saved under data/exports.
CAPS = Capabilities(send_files=True)
EXPORT_DIR = Path("data") / "exports"


class ConsoleError(Exception):
    """The console cannot start, e.g. the contact name is unknown."""


def pick_person(app: App, name: str | None) -> Person:
    """The contact to speak as: by name, or the first admin when no name is given."""
    with app.db.session() as s:
        everyone = directory.people(s)
    if name is None:
        admins = [p for p in everyone if p.is_admin]
        if not admins:
            raise ConsoleError("联系人名单里没有管理员。")
        return admins[0]
    wanted, _, unit = name.partition("@")
    found = [p for p in everyone if p.name == wanted]
    if unit:
        dep = app.campaign.find_department(unit)
        found = [p for p in found if dep is not None and p.department == dep.key]
    if len(found) == 1:
        return found[0]
    names = "、".join(p.name for p in everyone)
    if not found:
        raise ConsoleError(f"没有联系人「{name}」。可选：{names}")
    raise ConsoleError(f"有{len(found)}位「{name}」，请写成 姓名@单位。")


def run_console(app: App, person: Person, stdin: TextIO, stdout: TextIO, export_dir: Path = EXPORT_DIR) -> int:
    """Chat as `person` until end of input; return the exit status."""
    user = f"console-{person.id}"
    with app.db.session() as s:
        directory.bind(s, transport=TRANSPORT, user_id=user, chat_id=user, contact_id=person.id, now=app.now())
    dep = app.campaign.department(person.department).short
    print(f"控制台：您是 {person.name}（{dep}）。每行一条消息，发“帮助”看用法，Ctrl-D 结束。", file=stdout, flush=True)
    # Message ids are unique per run, so a restart never looks like a redelivery.
    run_id = uuid.uuid4().hex[:12]
    interactive = stdin.isatty()
    n = 0
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        n += 1
        msg = Incoming(TRANSPORT, user, user, f"{run_id}-{n}", line.rstrip("\r\n"), sender_name=person.name,
                       caps=CAPS)
        for reply in app.core.handle(msg):
            print(render(reply, export_dir), file=stdout, flush=True)
    return 0


def render(reply: Reply, export_dir: Path) -> str:
    """Show a reply as terminal text: buttons become lines, files are saved under data/exports."""
    lines = [reply.text] if reply.text else []
    for n, choice in enumerate(reply.choices, 1):
        lines.append(f"  [{n}] {choice.label}  → 发送：{choice.text}")
    if reply.file is not None:
        export_dir.mkdir(parents=True, exist_ok=True)
        path = export_dir / reply.file.filename
        path.write_bytes(reply.file.data)
        lines.append(f"{reply.file.caption}\n文件已保存：{path}")
    return "\n".join(lines)
