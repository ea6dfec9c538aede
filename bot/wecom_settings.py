"""WeCom settings: read from the environment and config.toml's [wecom], checked once at start.

The environment wins over config.toml. Secrets (secret, token, EncodingAESKey) may only come from the
environment: config.toml is shared and versioned, and a secret there has leaked.

  [wecom]
  member_per_minute = 30   # messages the bot sends one member per minute (config only; WeCom's cap is 30)
  timeout_seconds = 30     # one API call; a hang past it is retried with backoff

member_per_minute exists for private 政务微信 deployments with another cap, and for load tests against a fake
WeCom; on public WeCom leave it at 30, since WeCom silently drops what goes over its cap.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from campaign import Campaign
from campaign.config import did_you_mean
from campaign.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://qyapi.weixin.qq.com"
DEFAULT_LISTEN = "127.0.0.1:8080"
CALLBACK_PATH = "/wecom/callback"
ENVIRONMENT = "environment"  # what ConfigError names as the "file" when an environment variable is wrong

# config.toml key -> environment variable. Only these keys may appear in [wecom].
PUBLIC_KEYS = {
    "corp_id": "WECOM_CORP_ID",
    "agent_id": "WECOM_AGENT_ID",
    "api_base_url": "WECOM_API_BASE_URL",
    "listen": "WECOM_LISTEN",
}
SECRET_KEYS = {"secret": "WECOM_SECRET", "token": "WECOM_TOKEN", "encoding_aes_key": "WECOM_ENCODING_AES_KEY"}
# Whole-number tuning keys, config.toml only, with their defaults and allowed ranges.
MEMBER_PER_MINUTE = 30  # WeCom's per-member cap for application messages
NUMBER_KEYS = {"member_per_minute": (MEMBER_PER_MINUTE, 1, 100_000), "timeout_seconds": (30, 1, 120)}
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
    timeout_seconds: int = 30  # one API call; a hang past it is retried (bot/delivery.py)


@dataclass(frozen=True)
class _Value:
    text: str
    path: str  # the config file, or "environment"
    key: str  # "wecom.agent_id" or "WECOM_AGENT_ID"

    def fail(self, reason: str) -> ConfigError:
        return ConfigError(self.path, self.key, reason)


def check_section(campaign: Campaign) -> Mapping[str, Any]:
    """[wecom] in config.toml holds only known keys of the right type, and no secret: checked at every start."""
    section: Mapping[str, Any] = campaign.sections.get("wecom", {})
    for key in section:
        if key in SECRET_KEYS:
            raise ConfigError(campaign.path, f"wecom.{key}",
                              f"secrets belong in the environment ({SECRET_KEYS[key]})")
        if key in NUMBER_KEYS:
            continue  # checked below
        if key not in PUBLIC_KEYS:
            raise ConfigError(campaign.path, f"wecom.{key}", did_you_mean(key, {*PUBLIC_KEYS, *NUMBER_KEYS}))
        raw, number = section[key], key == "agent_id"
        if isinstance(raw, bool) or not isinstance(raw, str | int) or (isinstance(raw, int) and not number):
            raise ConfigError(campaign.path, f"wecom.{key}", "must be a number" if number else "must be a string")
    for key in NUMBER_KEYS:
        _config_number(campaign, section, key)
    return section


def load_settings(campaign: Campaign, environ: Mapping[str, str] | None = None) -> WeComSettings | None:
    """The WeCom settings, or None when WeCom is not (fully) configured. Raises ConfigError on bad values."""
    env = os.environ if environ is None else environ
    section = check_section(campaign)
    values: dict[str, _Value] = {}
    for key, var in {**PUBLIC_KEYS, **SECRET_KEYS}.items():
        if env.get(var, "").strip():
            values[key] = _Value(env[var].strip(), ENVIRONMENT, var)
        elif str(section.get(key, "")).strip():
            values[key] = _Value(str(section[key]).strip(), campaign.path, f"wecom.{key}")
    missing = [k for k in REQUIRED if k not in values]
    if missing:
        if len(missing) < len(REQUIRED):
            # Half a configuration is most likely a forgotten variable: say so, but do not stop the other transports.
            names = ", ".join(SECRET_KEYS.get(k) or PUBLIC_KEYS[k] for k in missing)
            log.warning("WeCom is not started: %s not set", names)
        return None
    host, port = _listen(values.get("listen") or _Value(DEFAULT_LISTEN, campaign.path, "wecom.listen"))
    return WeComSettings(
        corp_id=_word(values["corp_id"]),
        agent_id=_agent_id(values["agent_id"]),
        secret=_word(values["secret"]),
        token=_word(values["token"]),
        encoding_aes_key=_aes_key(values["encoding_aes_key"]),
        api_base_url=_base_url(values.get("api_base_url") or _Value(DEFAULT_API_BASE_URL, "", "")),
        host=host,
        port=port,
        member_per_minute=_config_number(campaign, section, "member_per_minute"),
        timeout_seconds=_config_number(campaign, section, "timeout_seconds"),
    )


def _config_number(campaign: Campaign, section: Mapping[str, Any], key: str) -> int:
    default, low, high = NUMBER_KEYS[key]
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(campaign.path, f"wecom.{key}", f"must be a whole number from {low} to {high}")
    return value


def _word(value: _Value) -> str:
    if not _PRINTABLE.fullmatch(value.text):
        raise value.fail("must be visible ASCII characters without spaces (at most 128)")
    return value.text


def _agent_id(value: _Value) -> int:
    if not value.text.isascii() or not value.text.isdigit() or not 0 < int(value.text) < 2**31:
        raise value.fail("must be the application's AgentId, a positive whole number like 1000002")
    return int(value.text)


def _aes_key(value: _Value) -> str:
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


def _base_url(value: _Value) -> str:
    parts = urlsplit(value.text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise value.fail("must be an http(s) URL like https://qyapi.weixin.qq.com")
    if parts.query or parts.fragment:
        raise value.fail("must not have a query or fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise value.fail("has a bad port") from None
    return value.text.rstrip("/")


def _listen(value: _Value) -> tuple[str, int]:
    host, sep, port = value.text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:8080
    if not sep or not host or not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise value.fail("must be host:port, like 127.0.0.1:8080 or 0.0.0.0:8080")
    return host, int(port)
