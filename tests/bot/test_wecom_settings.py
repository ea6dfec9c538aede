"""WeCom settings validation, the per-member rate limiter and the per-member locks."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest

from bot.wecom_limit import KeyedLocks, MemberLimiter
from bot.wecom_settings import DEFAULT_API_BASE_URL, ENVIRONMENT, WeComSettings, load_settings
from campaign import Campaign, ConfigError
from tests.fakes.wecom_api import AES_KEY

FULL_ENV = {
    "WECOM_CORP_ID": "ww0123456789abcdef", "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "s3cr3t-value",
    "WECOM_TOKEN": "CallbackToken", "WECOM_ENCODING_AES_KEY": AES_KEY,
}


def with_section(campaign: Campaign, **wecom: Any) -> Campaign:
    return dataclasses.replace(campaign, sections={**campaign.sections, "wecom": wecom})


def test_not_configured_is_none(campaign: Campaign) -> None:
    assert load_settings(campaign, {}) is None


def test_everything_from_the_environment_with_defaults(campaign: Campaign) -> None:
    settings = load_settings(campaign, FULL_ENV)
    assert settings == WeComSettings("ww0123456789abcdef", 1000002, "s3cr3t-value", "CallbackToken", AES_KEY,
                                     DEFAULT_API_BASE_URL, "127.0.0.1", 8080)


def test_public_keys_from_config_and_the_environment_wins(campaign: Campaign) -> None:
    configured = with_section(campaign, corp_id="wwfromconfig", agent_id=1000005, listen="0.0.0.0:9000",
                              api_base_url="https://wx.gov.example/prefix/")
    env = {k: v for k, v in FULL_ENV.items() if k not in ("WECOM_CORP_ID", "WECOM_AGENT_ID")}
    settings = load_settings(configured, env)
    assert settings is not None
    assert (settings.corp_id, settings.agent_id, settings.host, settings.port) == ("wwfromconfig", 1000005,
                                                                                   "0.0.0.0", 9000)
    assert settings.api_base_url == "https://wx.gov.example/prefix"  # no trailing slash: paths are appended
    settings = load_settings(configured, {**FULL_ENV, "WECOM_LISTEN": "[::1]:8443",
                                          "WECOM_API_BASE_URL": "http://10.1.2.3:8080"})
    assert settings is not None
    assert (settings.corp_id, settings.agent_id) == ("ww0123456789abcdef", 1000002)
    assert (settings.host, settings.port, settings.api_base_url) == ("::1", 8443, "http://10.1.2.3:8080")


@pytest.mark.parametrize(("key", "variable"), [
    ("secret", "WECOM_SECRET"), ("token", "WECOM_TOKEN"), ("encoding_aes_key", "WECOM_ENCODING_AES_KEY"),
])
def test_secrets_in_config_refuse_to_start(campaign: Campaign, key: str, variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(with_section(campaign, **{key: "x"}), FULL_ENV)
    assert (err.value.path, err.value.key) == (campaign.path, f"wecom.{key}")
    assert err.value.reason == f"secrets belong in the environment ({variable})"


def test_unknown_key_in_config(campaign: Campaign) -> None:
    with pytest.raises(ConfigError, match=r"wecom.agentid: unknown key; did you mean .agent_id.\?"):
        load_settings(with_section(campaign, agentid=1), FULL_ENV)


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("WECOM_AGENT_ID", "abc", "positive whole number"),
    ("WECOM_AGENT_ID", "0", "positive whole number"),
    ("WECOM_ENCODING_AES_KEY", AES_KEY[:-1], "43-character EncodingAESKey"),
    ("WECOM_ENCODING_AES_KEY", AES_KEY[:-1] + "-", "43-character EncodingAESKey"),
    ("WECOM_CORP_ID", "ww 123", "without spaces"),
    ("WECOM_SECRET", "密钥", "visible ASCII"),
    ("WECOM_LISTEN", "8080", "host:port"),
    ("WECOM_LISTEN", "127.0.0.1:70000", "host:port"),
    ("WECOM_API_BASE_URL", "qyapi.weixin.qq.com", "http(s) URL"),
    ("WECOM_API_BASE_URL", "https://wx.gov.example/?a=1", "query"),
])
def test_bad_environment_values_name_the_variable(campaign: Campaign, variable: str, value: str,
                                                  reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(campaign, {**FULL_ENV, variable: value})
    assert (err.value.path, err.value.key) == (ENVIRONMENT, variable)
    assert reason in err.value.reason


def test_bad_config_value_names_the_key(campaign: Campaign) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(with_section(campaign, agent_id=True), FULL_ENV)
    assert err.value.key == "wecom.agent_id"
    env = {k: v for k, v in FULL_ENV.items() if k != "WECOM_AGENT_ID"}
    with pytest.raises(ConfigError) as err:
        load_settings(with_section(campaign, agent_id=-3), env)
    assert (err.value.path, err.value.key) == (campaign.path, "wecom.agent_id")


def test_member_per_minute_defaults_to_wecoms_cap_and_is_checked(campaign: Campaign) -> None:
    settings = load_settings(campaign, FULL_ENV)
    assert settings is not None and settings.member_per_minute == 30
    settings = load_settings(with_section(campaign, member_per_minute=600), FULL_ENV)
    assert settings is not None and settings.member_per_minute == 600
    for bad in (0, True, "60", 1.5):
        with pytest.raises(ConfigError) as err:
            load_settings(with_section(campaign, member_per_minute=bad), FULL_ENV)
        assert (err.value.path, err.value.key) == (campaign.path, "wecom.member_per_minute")


def test_half_configured_is_none_with_a_warning(campaign: Campaign, caplog: pytest.LogCaptureFixture) -> None:
    env = {k: v for k, v in FULL_ENV.items() if k != "WECOM_TOKEN"}
    with caplog.at_level(logging.WARNING):
        assert load_settings(campaign, env) is None
    assert "WECOM_TOKEN not set" in caplog.text


def test_repr_hides_secrets(campaign: Campaign) -> None:
    shown = repr(load_settings(campaign, FULL_ENV))
    assert "ww0123456789abcdef" in shown
    assert all(secret not in shown for secret in ("s3cr3t-value", "CallbackToken", AES_KEY))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_lets_30_through_then_schedules_the_rest() -> None:
    clock = Clock()
    limiter = MemberLimiter(limit=30, window=61.0, clock=clock)
    assert [limiter.reserve("u1") for _ in range(30)] == [0.0] * 30
    assert limiter.reserve("u1") == 61.0  # the 31st waits for the first one's minute to pass
    assert limiter.reserve("u1") == 61.0
    assert limiter.reserve("u2") == 0.0  # other members are not held up
    clock.now += 10
    assert limiter.reserve("u1") == 51.0
    clock.now += 61
    assert limiter.reserve("u1") == 0.0  # the first window is over: free slots again


def test_limiter_never_puts_more_than_the_limit_in_any_window() -> None:
    clock = Clock()
    limiter = MemberLimiter(limit=5, window=60.0, clock=clock)
    sends: list[float] = []
    for step in range(40):
        clock.now = 1000.0 + step * 3.5
        sends.append(clock.now + limiter.reserve("u"))
    assert sends == sorted(sends)
    for i, start in enumerate(sends):
        assert sum(1 for t in sends[i:] if t < start + 60.0) <= 5


def test_keyed_locks_keep_order_per_key_and_clean_up() -> None:
    async def run() -> list[str]:
        locks, log = KeyedLocks(), []

        async def work(key: str, n: int) -> None:
            async with locks.hold(key):
                log.append(f"{key}{n}+")
                await asyncio.sleep(0)
                log.append(f"{key}{n}-")

        await asyncio.gather(*(work(k, n) for n in range(3) for k in "ab"))
        assert len(locks) == 0
        return log

    log = asyncio.run(run())
    for key in "ab":
        assert [e for e in log if e[0] == key] == [f"{key}{n}{s}" for n in range(3) for s in "+-"]
