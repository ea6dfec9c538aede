"""TELEGRAM_WEBHOOK_SECRET comes from the environment, the same across restarts and instances; random only when
unset; a value Telegram would refuse stops the start."""

from __future__ import annotations

import pytest

from bot.telegram_settings import webhook_secret
from campaign import ConfigError


def test_the_secret_from_the_environment_is_used_as_is() -> None:
    env = {"TELEGRAM_WEBHOOK_SECRET": "shared-secret_42"}
    assert webhook_secret(env) == webhook_secret(env) == "shared-secret_42"


def test_unset_means_a_new_random_one_each_time() -> None:
    first, second = webhook_secret({}), webhook_secret({})
    assert first != second and len(first) >= 32


@pytest.mark.parametrize("bad", ["with space", "ü" * 3, "x" * 257])
def test_a_secret_telegram_would_refuse_stops_the_start(bad: str) -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        webhook_secret({"TELEGRAM_WEBHOOK_SECRET": bad})
