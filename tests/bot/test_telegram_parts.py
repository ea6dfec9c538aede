"""The Telegram transport's parts without a server: settings, log redaction, text splitting, buttons."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.telegram_send import MAX_CALLBACK_DATA, ChoiceTable, markup_for, split_text
from bot.telegram_settings import RedactSecret, load_settings
from campaign import Campaign, ConfigError
from handlers.messages import Choice, Reply

TOKEN = "123456:TEST-token"


def with_section(campaign: Campaign, **telegram: object) -> Campaign:
    return dataclasses.replace(campaign, sections={"telegram": telegram})


def test_no_token_no_telegram(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert load_settings(campaign) is None


def test_a_self_hosted_server_gets_its_file_url(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.delenv("TELEGRAM_BASE_FILE_URL", raising=False)
    settings = load_settings(campaign)
    assert settings is not None
    assert settings.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert settings.webhook_url == "" and TOKEN not in repr(settings)


def test_webhook_settings_are_checked(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings(with_section(campaign, webhook_url="https://bot.example.cn/hook", port=8444))
    assert settings is not None and settings.webhook_path == "/hook" and settings.port == 8444
    assert len(settings.webhook_secret) >= 32
    with pytest.raises(ConfigError, match="telegram.port"):
        load_settings(with_section(campaign, port="8443"))


def test_the_token_is_redacted_from_messages_and_tracebacks() -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST %s", (f"http://x/bot{TOKEN}/getMe",), None)
    try:
        raise ValueError(f"bad {TOKEN}")
    except ValueError as exc:
        record.exc_info = (ValueError, exc, exc.__traceback__)
    assert RedactSecret(TOKEN, "<TOKEN>").filter(record)
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted and formatted.count("<TOKEN>") == 2


@given(st.lists(st.text(alphabet="报数ab \n", max_size=30), max_size=30), st.integers(5, 40))
def test_split_text_keeps_every_character_within_the_limit(parts: list[str], limit: int) -> None:
    text = "\n".join(parts)
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")


def test_buttons_carry_short_choices_directly_and_long_ones_by_key() -> None:
    table = ChoiceTable()
    short, long = "17 3，2 5", "，".join(f"{n} 3" for n in range(1, 30))
    markup = markup_for(Reply("选一个", choices=(Choice("短", short), Choice("长", long))), table)
    data = [row[0].callback_data for row in markup.inline_keyboard]  # type: ignore[union-attr]
    assert all(isinstance(d, str) and len(d.encode()) <= MAX_CALLBACK_DATA for d in data)
    assert [table.text_for(str(d)) for d in data] == [short, long]
    assert table.text_for("k:forgotten") is None and table.text_for("other") is None


def test_a_contact_request_is_a_one_time_reply_keyboard() -> None:
    markup = markup_for(Reply("请验证", request_contact=True), ChoiceTable())
    assert markup is not None
    assert markup.to_dict() == {"keyboard": [[{"text": "分享手机号", "request_contact": True}]],
                                "one_time_keyboard": True, "resize_keyboard": True}

