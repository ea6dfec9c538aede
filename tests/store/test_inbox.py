"""The inbox keeps an accepted message once, and gives back what was never marked handled."""

from __future__ import annotations

import datetime as dt

from bot.app import App
from store import inbox

T0 = dt.datetime(2023, 8, 20, 1, 0, tzinfo=dt.UTC)


def test_accept_once_and_replay_the_unhandled(app: App) -> None:
    fields = {"transport": "wecom", "chat_id": "u1", "sender_id": "u1", "text": "1 3"}
    with app.db.session() as s:
        first = inbox.accept(s, message_id="m1", now=T0, **fields)
        assert first is not None
        assert inbox.accept(s, message_id="m1", now=T0, **fields) is None  # WeCom's retry
        second = inbox.accept(s, message_id="m2", now=T0 + dt.timedelta(seconds=5), **fields)
        assert second is not None
        inbox.mark_handled(s, first, T0)
    with app.db.session() as s:
        left = inbox.unhandled(s, "wecom", T0 + dt.timedelta(minutes=1))
        assert [(i.id, i.message_id, i.text) for i in left] == [(second, "m2", "1 3")]
        assert left[0].received_at == T0 + dt.timedelta(seconds=5)  # a late reply names this time, not the replay's
        assert inbox.unhandled(s, "wecom", T0 + dt.timedelta(seconds=1)) == []  # accepted after the start
        assert inbox.unhandled(s, "telegram", T0 + dt.timedelta(minutes=1)) == []
