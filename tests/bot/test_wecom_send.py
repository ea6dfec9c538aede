"""How the WeCom transport turns callbacks into messages and replies into API calls (in process, fake API)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import App
from bot.wecom import CAPS, Callback, WeComTransport, incoming, render
from bot.wecom_api import TEXT_LIMIT, WeComApiError, split_text
from bot.wecom_settings import WeComSettings
from handlers.messages import Attachment, Choice, Incoming, Reply
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComApi


def settings(api: FakeWeComApi, secret: str = SECRET) -> WeComSettings:
    return WeComSettings(CORP_ID, AGENT_ID, secret, TOKEN, AES_KEY, api.base_url, "127.0.0.1", 0)


def run(app: App, api: FakeWeComApi, use: Callable[[WeComTransport], Awaitable[None]], secret: str = SECRET) -> None:
    async def main() -> None:
        transport = WeComTransport(app, settings(api, secret))
        try:
            await use(transport)
        finally:
            await transport.api.close()

    asyncio.run(main())


def test_text_callback_becomes_the_incoming_message() -> None:
    cb = Callback("fanggc", "text", "7300000000000000001", text="1 3", agent_id=AGENT_ID, created=1)
    assert incoming(cb) == Incoming("wecom", "fanggc", "fanggc", "7300000000000000001", "1 3", caps=CAPS)


def test_media_goes_to_the_core_and_events_mostly_not_at_all() -> None:
    assert incoming(Callback("u", "image", "9", media_id="m")) == Incoming("wecom", "u", "u", "9", "", caps=CAPS)
    assert incoming(Callback("u", "voice", "9")) is None  # the transport answers what it accepts
    assert incoming(Callback("u", "event", "", event="enter_agent", created=5)) is None
    assert incoming(Callback("u", "unknown", "", event="", created=5)) is None
    click = incoming(Callback("u", "event", "", event="click", event_key="汇总", created=5))
    assert click is not None and click.text == "汇总"
    press = incoming(Callback("u", "event", "", event="template_card_event", event_key="1 3", task_id="t1"))
    assert press is not None and (press.text, press.message_id) == ("1 3", "card-t1")
    greeting = incoming(Callback("u", "event", "", event="subscribe", created=5))
    assert greeting is not None and greeting.text == "/start"
    assert Callback("u", "text", "9").key != Callback("u", "event", "", event="subscribe", created=5).key


def test_choices_become_lines_to_copy() -> None:
    reply = Reply("「网红」对应多个项目，请用序号：", choices=(Choice("17. 检查餐饮“网红店”（个次）", "17 3"),
                                                       Choice("20. 查处餐饮“网红店”案件（件）", "20 3")))
    (text,) = render(reply)
    assert text.splitlines()[-2:] == ["17. 检查餐饮“网红店”（个次）　回复：17 3",
                                      "20. 查处餐饮“网红店”案件（件）　回复：20 3"]


@given(st.text(alphabet=st.sampled_from("报数a1\n 。"), max_size=3000), st.integers(min_value=4, max_value=300))
def test_split_text_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(p.encode()) <= limit for p in pieces)


def test_long_reply_is_sent_in_pieces_in_order(app: App) -> None:
    lines = [f"{n}. 查处网络违法案件：{n} 件" for n in range(300)]
    with FakeWeComApi() as api:
        run(app, api, lambda t: t.send("fanggc", Reply("\n".join(lines))))
        sent = api.sent("fanggc")
    assert len(sent) > 1
    assert all(len(c.text.encode()) <= TEXT_LIMIT for c in sent)
    assert "\n".join(c.text for c in sent).splitlines() == lines
    assert [c.path for c in api.calls].count("gettoken") == 1  # the token is cached


def test_file_is_uploaded_then_sent(app: App) -> None:
    data = b"PK\x03\x04 not really a workbook"
    reply = Reply(file=Attachment("三明市统计表（截至11月20日）.xlsx", data, "全市统计表"))
    with FakeWeComApi() as api:
        run(app, api, lambda t: t.send("wangyh", reply))
        calls = [c for c in api.calls if c.path != "gettoken"]
    upload, caption, file = calls
    assert (upload.path, upload.query["type"], upload.filename, upload.data) == (
        "media/upload", "file", "三明市统计表（截至11月20日）.xlsx", data)
    assert caption.text == "全市统计表"
    assert file.body == {"touser": "wangyh", "msgtype": "file", "agentid": AGENT_ID,
                         "file": {"media_id": upload.media_id}, "safe": 0}


def test_refused_token_is_fetched_again_once(app: App) -> None:
    with FakeWeComApi() as api:
        async def two_sends(t: WeComTransport) -> None:
            await t.send("u1", Reply("一"))
            api.token = "rotated-elsewhere"  # e.g. another process fetched a new token: ours is now invalid
            await t.send("u1", Reply("二"))

        run(app, api, two_sends)
        outcome = [(c.path, c.errcode) for c in api.calls]
    assert outcome == [("gettoken", 0), ("message/send", 0), ("message/send", 40014), ("gettoken", 0),
                       ("message/send", 0)]


def test_wrong_secret_raises(app: App) -> None:
    with FakeWeComApi() as api, pytest.raises(WeComApiError) as err:
        run(app, api, lambda t: t.send("u1", Reply("一")), secret="wrong")
    assert (err.value.call, err.value.errcode) == ("gettoken", 40001)
    assert "wrong" not in str(err.value)


def test_a_failed_start_up_check_is_tried_again_and_then_sets_the_menu(app: App) -> None:
    """A network blip or a 企业可信IP fixed after start must not leave the run without menu and lookups."""
    with FakeWeComApi(blocked_ip="203.0.113.7") as api:
        async def main() -> None:
            transport = WeComTransport(app, settings(api))
            await transport.start()
            try:
                assert not [c for c in api.calls if c.path == "menu/create"]
                assert transport._recheck_task is not None and not transport._recheck_task.done()
                assert not await transport.recheck()  # still refused: nothing set
                api.blocked_ip = ""  # the operator added the server's IP
                assert await transport.recheck()
                assert [c for c in api.calls if c.path == "menu/create"]
                assert transport.directory._task is not None
            finally:
                await transport.stop()
            assert transport._recheck_task.cancelled() or transport._recheck_task.done()

        asyncio.run(main())
