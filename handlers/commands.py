"""Command words. Every command has a slash form and a plain Chinese word, because WeCom has no slash commands."""

from __future__ import annotations

from dataclasses import dataclass

# name -> (slash form, Chinese words…). The first Chinese word is the one shown in help.
WORDS: dict[str, tuple[str, ...]] = {
    "start": ("/start", "开始"),
    "help": ("/help", "帮助", "菜单", "help", "?"),
    "list": ("/list", "指标", "项目", "清单"),
    "total": ("/total", "汇总", "合计", "统计"),
    "history": ("/history", "记录"),
    "undo": ("/undo", "撤销", "撤回"),
    "export": ("/export", "导出"),
    "progress": ("/progress", "进度"),
    "deadlines": ("/deadlines", "日程"),
    "notify": ("/notify", "通知"),
    "nudge": ("/nudge", "催报"),
    "contacts": ("/contacts", "联系人"),
    "addcontact": ("/addcontact", "添加联系人"),
    "editcontact": ("/editcontact", "修改联系人"),
    "removecontact": ("/removecontact", "删除联系人"),
    "invite": ("/invite", "邀请"),
    "holiday": ("/holiday", "节假日"),
    "workday": ("/workday", "调休上班"),
    "materials": ("/materials", "材料"),
    "withdrawmaterial": ("/withdrawmaterial", "撤回材料"),
    "materialkind": ("/materialkind", "材料类别"),
    "pack": ("/pack", "材料包"),
    "desk": ("/desk", "看板"),
    "upload": ("/upload", "上传"),
}
ADMIN_ONLY = frozenset({"progress", "notify", "nudge", "contacts", "addcontact", "editcontact", "removecontact",
                        "invite", "holiday", "workday", "pack"})

# A county's market regulation contacts (role county_admin) may use these within their county.
COUNTY_ADMIN = frozenset({"progress", "notify", "nudge"})

_SLASH = {words[0]: name for name, words in WORDS.items()}
# Longest first, so 添加联系人 wins over 联系人.
_CHINESE = sorted(((w, name) for name, words in WORDS.items() for w in words[1:]), key=lambda p: -len(p[0]))
_FIRST = frozenset(word[0] for word, _ in _CHINESE)


@dataclass(frozen=True)
class Command:
    name: str  # a key of WORDS, or "unknown" for a slash word the bot does not know
    args: str
    word: str


def parse_command(text: str) -> Command | None:
    """Return the command a message starts with, or None if it is not a command."""
    stripped = text.strip()
    if stripped.startswith("/"):
        word, _, args = stripped.partition(" ")
        word = word.split("@", 1)[0].lower()  # /help@SanmingBot in a group chat
        return Command(_SLASH.get(word, "unknown"), args.strip(), word)
    lowered = stripped.lower()
    if lowered[:1] not in _FIRST:  # most messages are reports: one look-up instead of a loop over every word
        return None
    for word, name in _CHINESE:
        if lowered.startswith(word):
            rest = stripped[len(word):]
            # 记录 starts no indicator name, but "help me" must not count as help
            if rest and word.isascii() and rest[0].isalnum():
                continue
            return Command(name, rest.strip(" \t\n:：，,"), word)
    return None


def label(name: str) -> str:
    """How help shows a command: 汇总（/total）."""
    words = WORDS[name]
    return f"{words[1]}（{words[0]}）"
