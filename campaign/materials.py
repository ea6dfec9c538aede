"""Report materials: what each deadline asks for, where files are kept, and the desk's address.

  [[deadlines]]
  materials_from = "midterm"          # a copy deadline collects the same files as that one
  [[deadlines.materials]]
  key = "case"                        # summary | table | media | case | penalty | practice, or the Chinese label
  owed_by = "市场监管部门"             # "all", "reporting" (departments with 附件2 rows) or a department kind (group)
  min_count = 2
  includes = ["penalty"]              # each item comes with one of these (a case with its 行政处罚决定书)

  [materials]                         # storage
  folder = "data/materials"
  [materials.documents]  types = [".pdf", …]  max_mb = 20     (likewise pictures, video)

  [web]
  listen = "127.0.0.1:8090"           # BOT_WEB_LISTEN wins; "off" serves no desk
  public_url = "https://bot.example.gov.cn"   # how links in chat start (BOT_WEB_PUBLIC_URL wins)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign.errors import ConfigError

# key -> Chinese label. Users may write either; the label is what replies and file names show.
KINDS: dict[str, str] = {
    "summary": "总结报告",
    "table": "统计表",
    "media": "图片视频资料",
    "case": "典型案例",
    "penalty": "行政处罚决定书",
    "practice": "先进经验做法",
}
# Short words people write in a caption, each for one kind (longest first when matching).
WORDS: dict[str, str] = {
    "总结报告": "summary", "总结": "summary", "报告": "summary",
    "统计表": "table", "附件2": "table",
    "图片视频资料": "media", "图片视频": "media", "图片": "media", "照片": "media", "视频": "media",
    "典型案例": "case", "案例": "case",
    "行政处罚决定书": "penalty", "处罚决定书": "penalty", "决定书": "penalty",
    "先进经验做法": "practice", "先进经验": "practice", "经验做法": "practice", "经验": "practice",
}
FILE_CLASSES = ("documents", "pictures", "video")
_DEFAULT_TYPES: dict[str, tuple[str, ...]] = {
    "documents": (".pdf", ".doc", ".docx", ".wps", ".xls", ".xlsx", ".et", ".ppt", ".pptx", ".txt", ".ofd"),
    "pictures": (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".bmp"),
    "video": (".mp4", ".mov", ".m4v", ".3gp", ".avi", ".mkv", ".webm"),
}
_DEFAULT_MB = {"documents": 20, "pictures": 10, "video": 50}
DEFAULT_LISTEN = "127.0.0.1:8090"


def kind_of(text: str) -> str | None:
    """The material key a user (or config) means: a key, a label or a short word; None if none fits."""
    wanted = text.strip().lower()
    if wanted in KINDS:
        return wanted
    for word in sorted(WORDS, key=len, reverse=True):
        if wanted == word:
            return WORDS[word]
    return None


def kind_in(caption: str) -> str | None:
    """The kind a caption names anywhere in its text (总结报告（中期）, 案例一 …)."""
    exact = kind_of(caption)
    if exact is not None:
        return exact
    for word in sorted(WORDS, key=len, reverse=True):
        if word in caption:
            return WORDS[word]
    return None


@dataclass(frozen=True)
class Material:
    key: str
    owed_by: str = "all"  # "all" | "reporting" | a department group name
    min_count: int = 1
    includes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return KINDS[self.key]


@dataclass(frozen=True)
class FileClass:
    name: str  # documents | pictures | video
    types: tuple[str, ...]  # lower-case suffixes with the dot
    max_bytes: int


@dataclass(frozen=True)
class Storage:
    folder: Path = Path("data/materials")
    classes: tuple[FileClass, ...] = field(default_factory=lambda: tuple(
        FileClass(n, _DEFAULT_TYPES[n], _DEFAULT_MB[n] * 1024 * 1024) for n in FILE_CLASSES
    ))

    def class_of(self, suffix: str) -> FileClass | None:
        return next((c for c in self.classes if suffix.lower() in c.types), None)

    @property
    def all_types(self) -> tuple[str, ...]:
        return tuple(t for c in self.classes for t in c.types)


@dataclass(frozen=True)
class Web:
    listen: str = DEFAULT_LISTEN
    public_url: str = ""


def parse_materials(path: Path, where: str, raw: Any, groups: set[str]) -> tuple[Material, ...]:
    """The [[deadlines.materials]] of one deadline."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(m, Mapping) for m in raw):
        raise ConfigError(path, where, "must be an array of tables ([[deadlines.materials]])")
    result: list[Material] = []
    for n, item in enumerate(raw):
        w = f"{where}[{n}]"
        for extra in set(item) - {"key", "owed_by", "min_count", "includes"}:
            raise ConfigError(path, f"{w}.{extra}", "unknown key; known: key, owed_by, min_count, includes")
        key = kind_of(str(item.get("key", "")))
        if key is None:
            raise ConfigError(path, f"{w}.key", f"unknown material; known: {', '.join(KINDS)} (or 总结报告 …)")
        owed_by = item.get("owed_by", "all")
        if not isinstance(owed_by, str) or owed_by not in ("all", "reporting", *groups):
            raise ConfigError(path, f"{w}.owed_by", "must be \"all\", \"reporting\" or a department group name")
        count = item.get("min_count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
            raise ConfigError(path, f"{w}.min_count", "must be a whole number from 1 to 100")
        includes = item.get("includes", [])
        if not isinstance(includes, list) or any(not isinstance(i, str) or kind_of(i) is None for i in includes):
            raise ConfigError(path, f"{w}.includes", "must be a list of material keys, e.g. [\"penalty\"]")
        if any(m.key == key for m in result):
            raise ConfigError(path, f"{w}.key", f"material {key!r} appears twice in this deadline")
        result.append(Material(key, owed_by, count, tuple(str(kind_of(i)) for i in includes)))
    return tuple(result)


def parse_storage(path: Path, raw: Any) -> Storage:
    if raw is None:
        return Storage()
    if not isinstance(raw, Mapping):
        raise ConfigError(path, "materials", "must be a table")
    for extra in set(raw) - {"folder", *FILE_CLASSES}:
        raise ConfigError(path, f"materials.{extra}", f"unknown key; known: folder, {', '.join(FILE_CLASSES)}")
    folder = raw.get("folder", "data/materials")
    if not isinstance(folder, str) or not folder.strip():
        raise ConfigError(path, "materials.folder", "must be a non-empty string")
    classes: list[FileClass] = []
    seen: set[str] = set()
    for name in FILE_CLASSES:
        section = raw.get(name, {})
        where = f"materials.{name}"
        if not isinstance(section, Mapping):
            raise ConfigError(path, where, "must be a table with types and max_mb")
        types = section.get("types", list(_DEFAULT_TYPES[name]))
        if not isinstance(types, list) or not all(
            isinstance(t, str) and t.startswith(".") and t[1:].isalnum() and t.isascii() for t in types
        ):
            raise ConfigError(path, f"{where}.types", "must be a list of file suffixes like \".pdf\"")
        lowered = tuple(t.lower() for t in types)
        if seen & set(lowered):
            raise ConfigError(path, f"{where}.types", "a suffix may belong to one class only")
        seen |= set(lowered)
        mb = section.get("max_mb", _DEFAULT_MB[name])
        if not isinstance(mb, int) or isinstance(mb, bool) or not 1 <= mb <= 2000:
            raise ConfigError(path, f"{where}.max_mb", "must be a whole number of megabytes from 1 to 2000")
        classes.append(FileClass(name, lowered, mb * 1024 * 1024))
    return Storage(Path(folder.strip()), tuple(classes))


def parse_web(path: Path, raw: Any) -> Web:
    if raw is None:
        return Web()
    if not isinstance(raw, Mapping):
        raise ConfigError(path, "web", "must be a table")
    for extra in set(raw) - {"listen", "public_url"}:
        raise ConfigError(path, f"web.{extra}", "unknown key; known: listen, public_url")
    listen = raw.get("listen", DEFAULT_LISTEN)
    if not isinstance(listen, str) or (listen != "off" and split_listen(listen) is None):
        raise ConfigError(path, "web.listen", "must be host:port like 127.0.0.1:8090, or \"off\"")
    public = raw.get("public_url", "")
    if not isinstance(public, str) or (public and not public.startswith(("http://", "https://"))):
        raise ConfigError(path, "web.public_url", "must start with http:// or https://")
    return Web(listen, public.rstrip("/"))


def split_listen(text: str) -> tuple[str, int] | None:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    return host.strip("[]"), int(port)


def web_settings(web: Web) -> Web:
    """The [web] settings with the environment's overrides (BOT_WEB_LISTEN, BOT_WEB_PUBLIC_URL)."""
    listen = os.environ.get("BOT_WEB_LISTEN", "").strip() or web.listen
    public = os.environ.get("BOT_WEB_PUBLIC_URL", "").strip().rstrip("/") or web.public_url
    return Web(listen, public)


def base_url(web: Web) -> str:
    """How links to the desk start: the public URL behind a proxy, else the address it listens on."""
    return web.public_url or f"http://{web.listen}"
