"""DingTalk (钉钉 / 政务钉钉) settings: the environment and config.toml's [dingtalk], checked once at start.

  DINGTALK_CLIENT_ID       the application's Client ID (AppKey); required
  DINGTALK_CLIENT_SECRET   its Client Secret (AppSecret); required, environment only
  DINGTALK_ROBOT_CODE      the robot's code (default: the Client ID, which DingTalk uses for an app's robot)
  DINGTALK_API_BASE_URL    default https://api.dingtalk.com: access token, the stream gateway, robot messages
  DINGTALK_OAPI_BASE_URL   default https://oapi.dingtalk.com: media upload, user lookup by mobile

  [dingtalk]
  robot_code = "dingxxxxxxxx"   # the public keys above may also be written here (the environment wins)
  member_per_minute = 20        # messages the bot sends one member per minute
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.settings import SettingsReader, Value, base_url
from campaign import Campaign

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.dingtalk.com"
DEFAULT_OAPI_BASE_URL = "https://oapi.dingtalk.com"
PUBLIC_KEYS = {
    "client_id": "DINGTALK_CLIENT_ID",
    "robot_code": "DINGTALK_ROBOT_CODE",
    "api_base_url": "DINGTALK_API_BASE_URL",
    "oapi_base_url": "DINGTALK_OAPI_BASE_URL",
}
SECRET_KEYS = {"client_secret": "DINGTALK_CLIENT_SECRET"}
CONFIG_KEYS: dict[str, type] = {"member_per_minute": int}
MEMBER_PER_MINUTE = 20  # DingTalk limits a robot's messages too; 20 a minute per person keeps well inside them
_WORD = re.compile(r"[\x21-\x7e]{1,128}")


@dataclass(frozen=True)
class DingTalkSettings:
    """Everything the DingTalk transport needs. repr() never shows the secret."""

    client_id: str
    client_secret: str = field(repr=False)
    robot_code: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    oapi_base_url: str = DEFAULT_OAPI_BASE_URL
    member_per_minute: int = MEMBER_PER_MINUTE


def _reader(campaign: Campaign, environ: Mapping[str, str] | None) -> SettingsReader:
    return SettingsReader(campaign, "dingtalk", env=PUBLIC_KEYS, secrets=SECRET_KEYS, config=CONFIG_KEYS,
                          environ=environ)


def check_section(campaign: Campaign) -> None:
    """[dingtalk] in config.toml holds only known keys of the right type, and no secret: checked at every start."""
    _reader(campaign, {}).number("member_per_minute", MEMBER_PER_MINUTE, 1, 100_000)


def load_settings(campaign: Campaign, environ: Mapping[str, str] | None = None) -> DingTalkSettings | None:
    """The DingTalk settings, or None when no client id and secret are set. Raises ConfigError on bad values."""
    r = _reader(campaign, environ)
    missing = r.missing(("client_id", "client_secret"))
    if missing:
        if len(missing) == 1:
            log.warning("DingTalk is not started: %s not set", missing[0])
        return None
    client_id, secret = r.value("client_id"), r.value("client_secret")
    assert client_id is not None and secret is not None
    robot = r.value("robot_code") or client_id
    return DingTalkSettings(
        client_id=_word(client_id),
        client_secret=_word(secret),
        robot_code=_word(robot),
        api_base_url=base_url(r.value("api_base_url") or Value(DEFAULT_API_BASE_URL, "", ""), DEFAULT_API_BASE_URL),
        oapi_base_url=base_url(r.value("oapi_base_url") or Value(DEFAULT_OAPI_BASE_URL, "", ""),
                               DEFAULT_OAPI_BASE_URL),
        member_per_minute=r.number("member_per_minute", MEMBER_PER_MINUTE, 1, 100_000),
    )


def _word(value: Value) -> str:
    if not _WORD.fullmatch(value.text):
        raise value.fail("must be visible ASCII characters without spaces (at most 128)")
    return value.text
