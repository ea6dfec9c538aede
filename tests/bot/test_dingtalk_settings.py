"""[dingtalk] is checked at every start, as [wecom] and [telegram] are: a typo or a secret stops the bot there."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.app import check_sections
from campaign import Campaign, ConfigError


def with_section(campaign: Campaign, **dingtalk: Any) -> Campaign:
    return dataclasses.replace(campaign, sections={**campaign.sections, "dingtalk": dingtalk})


def test_a_typo_in_dingtalk_stops_the_start_without_any_dingtalk_account(campaign: Campaign) -> None:
    with pytest.raises(ConfigError, match=r"dingtalk.member_per_minite: unknown key; did you mean .member_per_minute."):
        check_sections(with_section(campaign, member_per_minite=10))


def test_a_secret_in_the_file_stops_the_start(campaign: Campaign) -> None:
    with pytest.raises(ConfigError) as err:
        check_sections(with_section(campaign, client_secret="x"))
    assert (err.value.path, err.value.key) == (campaign.path, "dingtalk.client_secret")
    assert "DINGTALK_CLIENT_SECRET" in err.value.reason


def test_a_bad_number_is_named(campaign: Campaign) -> None:
    with pytest.raises(ConfigError, match="dingtalk.member_per_minute"):
        check_sections(with_section(campaign, member_per_minute=0))
    check_sections(with_section(campaign, member_per_minute=30))  # a good value passes
