"""WeCom settings: read from the environment and config.toml's [wecom], checked once at start.

The environment wins over config.toml. Secrets (secret, token, EncodingAESKey) may only come from the
environment: config.toml is shared and versioned, and a secret there has leaked.

  [wecom]
  menu = ["汇总", "导出", "日程", "帮助"]   # the application menu, command words (sent with menu/create)
  member_per_minute = 30   # messages the bot sends one member per minute (config only; WeCom's cap is 30)
  timeout_seconds = 30     # one API call; a hang past it is retried with backoff
  member_per_hour = 1000   # and per hour (WeCom's cap is 1000)
  media_max_mb = 10        # pictures and videos larger than this are not downloaded
  reminder_spread_minutes = 5   # reminders leave over this many minutes after their time, never all at :00

member_per_minute/hour exist for private 政务微信 deployments with another cap, and for load tests against a
fake WeCom; on public WeCom leave them, since WeCom silently drops what goes over its caps.

WECOM_API_BASE_URL may be given with or without WeCom's "/cgi-bin/" path (URLs copied from the WeCom docs or
from wechatpy have it); the bot appends /cgi-bin/<call> itself.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.settings import ENVIRONMENT, SettingsReader, Value, base_url
from campaign import Campaign
from handlers.commands import parse_command

log = logging.getLogger(__name__)

__all__ = ["CALLBACK_PATH", "DEFAULT_API_BASE_URL", "ENVIRONMENT", "WeComSettings", "load_settings"]

DEFAULT_API_BASE_URL = "https://qyapi.weixin.qq.com"
DEFAULT_LISTEN = "127.0.0.1:8080"
CALLBACK_PATH = "/wecom/callback"

# config.toml key -> environment variable.
PUBLIC_KEYS = {
    "corp_id": "WECOM_CORP_ID",
    "agent_id": "WECOM_AGENT_ID",
    "api_base_url": "WECOM_API_BASE_URL",
    "listen": "WECOM_LISTEN",
}
SECRET_KEYS = {"secret": "WECOM_SECRET", "token": "WECOM_TOKEN", "encoding_aes_key": "WECOM_ENCODING_AES_KEY"}
CONFIG_KEYS: dict[str, type] = {"member_per_minute": int, "member_per_hour": int, "media_max_mb": int, "menu": list,
                                "reminder_spread_minutes": int, "timeout_seconds": int}
MEMBER_PER_MINUTE = 30  # WeCom's per-member caps for application messages
MEMBER_PER_HOUR = 1000
MEDIA_MAX_MB = 10
DEFAULT_MENU = ("汇总", "导出", "日程", "帮助")
REQUIRED = ("corp_id", "agent_id", "secret", "token", "encoding_aes_key")

_PRINTABLE = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII, no spaces
_AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")


@dataclass(frozen=True)
class WeComSettings:
    """Everything the WeCom transport needs. repr() never shows a secret."""

    corp_id: str
    agent_id: int
    secret: str = field(repr=False)
    token: str = field(repr=False)
    encoding_aes_key: str = field(repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    host: str = "127.0.0.1"
    port: int = 8080
    member_per_minute: int = MEMBER_PER_MINUTE
    member_per_hour: int = MEMBER_PER_HOUR
    menu: tuple[str, ...] = DEFAULT_MENU
    media_max_bytes: int = MEDIA_MAX_MB * 1024 * 1024
    reminder_spread_minutes: int = 5
    timeout_seconds: int = 30  # one API call; a hang past it is retried (bot/delivery.py)


def _reader(campaign: Campaign, environ: Mapping[str, str] | None) -> SettingsReader:
    return SettingsReader(campaign, "wecom", env=PUBLIC_KEYS, secrets=SECRET_KEYS, config=CONFIG_KEYS, environ=environ)


def check_section(campaign: Campaign) -> None:
    """[wecom] in config.toml holds only known keys of the right type, and no secret: checked at every start."""
    r = _reader(campaign, {})
    r.number("member_per_minute", MEMBER_PER_MINUTE, 1, 100_000)
    r.number("member_per_hour", MEMBER_PER_HOUR, 1, 10_000_000)
    r.number("media_max_mb", MEDIA_MAX_MB, 1, 20)
    r.number("reminder_spread_minutes", 5, 0, 25)
    r.number("timeout_seconds", 30, 1, 120)
    _menu(r)


def load_settings(campaign: Campaign, environ: Mapping[str, str] | None = None) -> WeComSettings | None:
    """The WeCom settings, or None when WeCom is not (fully) configured. Raises ConfigError on bad values."""
    r = _reader(campaign, environ)
    missing = r.missing(REQUIRED)
    if missing:
        if len(missing) < len(REQUIRED):
            # Half a configuration is most likely a forgotten variable: say so, but do not stop the other transports.
            log.warning("WeCom is not started: %s not set", ", ".join(missing))
        return None

    def required(key: str) -> Value:
        found = r.value(key)
        assert found is not None
        return found

    host, port = _listen(r.value("listen") or Value(DEFAULT_LISTEN, campaign.path, "wecom.listen"))
    return WeComSettings(
        corp_id=_word(required("corp_id")),
        agent_id=_agent_id(required("agent_id")),
        secret=_word(required("secret")),
        token=_word(required("token")),
        encoding_aes_key=_aes_key(required("encoding_aes_key")),
        api_base_url=base_url(r.value("api_base_url") or Value(DEFAULT_API_BASE_URL, "", ""),
                              DEFAULT_API_BASE_URL, strip=("/cgi-bin",)),
        host=host,
        port=port,
        member_per_minute=r.number("member_per_minute", MEMBER_PER_MINUTE, 1, 100_000),
        member_per_hour=r.number("member_per_hour", MEMBER_PER_HOUR, 1, 10_000_000),
        menu=_menu(r),
        media_max_bytes=r.number("media_max_mb", MEDIA_MAX_MB, 1, 20) * 1024 * 1024,
        reminder_spread_minutes=r.number("reminder_spread_minutes", 5, 0, 25),
        timeout_seconds=r.number("timeout_seconds", 30, 1, 120),
    )


def _menu(r: SettingsReader) -> tuple[str, ...]:
    raw = r.table("menu")
    if raw is None:
        return DEFAULT_MENU
    assert isinstance(raw, list)
    # WeCom: at most 3 buttons, the last may open up to 5 more; so 7 commands in all.
    if not 1 <= len(raw) <= 7:
        raise r.fail("menu", "must list 1 to 7 command words, like [\"汇总\", \"导出\", \"日程\", \"帮助\"]")
    for n, word in enumerate(raw):
        command = parse_command(word) if isinstance(word, str) else None
        if command is None or command.name == "unknown" or command.args:
            raise r.fail(f"menu[{n}]", f"{word!r} is not a command word (such as 汇总, 导出, 日程, 帮助)")
    return tuple(str(w) for w in raw)


def _word(value: Value) -> str:
    if not _PRINTABLE.fullmatch(value.text):
        raise value.fail("must be visible ASCII characters without spaces (at most 128)")
    return value.text


def _agent_id(value: Value) -> int:
    if not value.text.isascii() or not value.text.isdigit() or not 0 < int(value.text) < 2**31:
        raise value.fail("must be the application's AgentId, a positive whole number like 1000002")
    return int(value.text)


def _aes_key(value: Value) -> str:
    # WeCom generates 43 characters; with one "=" appended they are the base64 of the 32-byte AES key.
    if not _AES_KEY.fullmatch(value.text):
        raise value.fail(f"must be the 43-character EncodingAESKey (letters and digits); got {len(value.text)}")
    try:
        key = base64.b64decode(value.text + "=", validate=True)
    except binascii.Error:
        raise value.fail("is not valid base64") from None
    if len(key) != 32:
        raise value.fail("does not decode to a 32-byte AES key")
    return value.text


def _listen(value: Value) -> tuple[str, int]:
    host, sep, port = value.text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:8080
    if not sep or not host or not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise value.fail("must be host:port, like 127.0.0.1:8080 or 0.0.0.0:8080")
    return host, int(port)
