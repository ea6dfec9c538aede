"""Telegram settings: the secret token from the environment, the rest from [telegram] in config.toml.

  TELEGRAM_BOT_TOKEN       the bot token from @BotFather (required; never in config.toml, never logged)
  TELEGRAM_BASE_URL        a self-hosted Bot API server, e.g. http://127.0.0.1:8081/bot (PTB's base_url)
  TELEGRAM_BASE_FILE_URL   its file URL (default: derived from TELEGRAM_BASE_URL, …/bot → …/file/bot)
  TELEGRAM_WEBHOOK_SECRET  the secret Telegram sends with each webhook call; set it when several instances serve
                           one webhook (default: a new random one per start, for a single instance only)

  [telegram]
  webhook_url = "https://bot.example.gov.cn/telegram"   # empty or absent: long polling
  listen = "127.0.0.1"                                   # where the webhook server listens (behind a proxy)
  port = 8443
  poll_timeout = 30                                      # seconds one getUpdates long poll may wait
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.settings import SettingsReader
from campaign import Campaign, ConfigError

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    base_file_url: str = DEFAULT_BASE_FILE_URL
    webhook_url: str = ""
    listen: str = "127.0.0.1"
    port: int = 8443
    webhook_secret: str = field(default="", repr=False)
    poll_timeout: int = 30

    @property
    def webhook_path(self) -> str:
        return urlsplit(self.webhook_url).path or "/"


ENV_KEYS = {"base_url": "TELEGRAM_BASE_URL", "base_file_url": "TELEGRAM_BASE_FILE_URL"}
SECRET_KEYS = {"token": "TELEGRAM_BOT_TOKEN", "webhook_secret": "TELEGRAM_WEBHOOK_SECRET"}
CONFIG_KEYS: dict[str, type] = {"webhook_url": str, "listen": str, "port": int, "poll_timeout": int}
_SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook secret_token


def _reader(campaign: Campaign, environ: Mapping[str, str]) -> SettingsReader:
    return SettingsReader(campaign, "telegram", env=ENV_KEYS, secrets=SECRET_KEYS, config=CONFIG_KEYS,
                          environ=environ)


def check_section(campaign: Campaign) -> None:
    """[telegram] in config.toml holds only known keys, and no secret: checked at every start."""
    _reader(campaign, {})


def webhook_secret(environ: Mapping[str, str]) -> str:
    """TELEGRAM_WEBHOOK_SECRET, the same for every instance behind one webhook; a random one only when unset
    (then only a single instance may serve the webhook, and the secret changes at each start)."""
    secret = environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
    if not secret:
        return secrets.token_urlsafe(32)
    if not _SECRET_CHARS.fullmatch(secret):
        raise ConfigError("environment", "TELEGRAM_WEBHOOK_SECRET",
                          "must be 1–256 characters from A–Z, a–z, 0–9, _ and -")
    return secret


def load_settings(campaign: Campaign, environ: Mapping[str, str] | None = None) -> TelegramSettings | None:
    """The settings, or None when no token is set (then the bot runs without Telegram)."""
    env = os.environ if environ is None else environ
    r = _reader(campaign, env)
    token = r.text("token")
    if not token:
        return None
    base_url, file_url = r.text("base_url"), r.text("base_file_url")
    webhook_url = str(r.table("webhook_url") or "").strip()
    if webhook_url and not env.get("TELEGRAM_WEBHOOK_SECRET", "").strip():
        logging.getLogger(__name__).warning(
            "TELEGRAM_WEBHOOK_SECRET is not set: a random secret is used for this start only; set it when several "
            "instances serve the webhook")
    if base_url and not file_url and base_url.endswith("/bot"):
        file_url = base_url.removesuffix("/bot") + "/file/bot"  # the layout of telegram-bot-api servers
    return TelegramSettings(
        token=token,
        base_url=base_url or DEFAULT_BASE_URL,
        base_file_url=file_url or DEFAULT_BASE_FILE_URL,
        webhook_url=webhook_url,
        listen=str(r.table("listen") or "").strip() or "127.0.0.1",
        port=r.number("port", 8443, 1, 65535),
        webhook_secret=webhook_secret(env),
        poll_timeout=r.number("poll_timeout", 30, 1, 50),
    )


class RedactSecret(logging.Filter):
    """Replace a secret in every log line, traceback included.

    The token is part of every Bot API URL, so httpx's request lines and PTB's debug output would show it.
    """

    def __init__(self, secret: str, label: str) -> None:
        super().__init__()
        self.secret, self.label = secret, label

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, self.label), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, self.label)
        return True


def redact_in_logs(secret: str, label: str) -> None:
    """Filter every root handler; filters on loggers would miss the records of their children."""
    root = logging.getLogger()
    for handler in root.handlers:
        if secret and not any(isinstance(f, RedactSecret) and f.secret == secret for f in handler.filters):
            handler.addFilter(RedactSecret(secret, label))
    if root.getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long poll is noise
