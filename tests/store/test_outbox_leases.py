"""Outbox claims: a few at a time, with a lease; a row whose sender died is taken again after the lease, once."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from bot.app import App
from store import outbox
from tests.support import FakeClock


def _queue(app: App, count: int) -> None:
    with app.db.session() as s:
        for n in range(count):
            assert outbox.enqueue(s, key=f"k{n}", contact_id=None, transport="wecom", chat_id=f"u{n}", text="hi",
                                  now=app.now())


def test_a_claim_takes_a_few_rows_not_the_whole_batch(app: App) -> None:
    _queue(app, 20)
    with app.db.session() as s:
        taken = outbox.claim_due(s, app.now(), {"wecom"})
    assert len(taken) == outbox.CLAIM_BATCH


def test_a_row_whose_sender_died_is_taken_again_after_its_lease(app: App, clock: FakeClock) -> None:
    _queue(app, 1)
    lease = dt.timedelta(seconds=30)
    with app.db.session() as s:
        (first,) = outbox.claim_due(s, app.now(), {"wecom"}, lease=lease)
    # the sender dies here: the row stays `sending`
    clock.advance(seconds=29)
    with app.db.session() as s:
        assert outbox.claim_due(s, app.now(), {"wecom"}, lease=lease) == []  # still held
    clock.advance(seconds=2)
    with app.db.session() as s:
        (again,) = outbox.claim_due(s, app.now(), {"wecom"}, lease=lease)
        outbox.mark_sent(s, again.id, app.now())
    assert again.key == first.key and again.attempts == 2
    clock.advance(minutes=10)
    with app.db.session() as s:
        assert outbox.claim_due(s, app.now(), {"wecom"}, lease=lease) == []
        assert outbox.sent_keys(s) == ["k0"]


def test_racing_senders_take_each_row_once(app: App, clock: FakeClock) -> None:
    _queue(app, 30)

    def drain(_: int) -> list[str]:
        keys: list[str] = []
        while True:
            with app.db.session() as s:
                taken = outbox.claim_due(s, app.now(), {"wecom"})
                for item in taken:
                    outbox.mark_sent(s, item.id, app.now())
            if not taken:
                return keys
            keys += [t.key for t in taken]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(drain, range(4)))
    everything = [k for keys in results for k in keys]
    assert sorted(everything) == sorted(f"k{n}" for n in range(30))


def test_an_expired_row_is_dropped_and_reported_never_sent(app: App, clock: FakeClock) -> None:
    with app.db.session() as s:
        outbox.enqueue(s, key="notify:x#1", contact_id=None, transport="wecom", chat_id="u", text="【通知】…",
                       now=app.now(), expires_at=app.now() + dt.timedelta(hours=1))
    clock.advance(hours=2)
    with app.db.session() as s:
        dropped = outbox.expire_stale(s, app.now())
        assert [d.key for d in dropped] == ["notify:x#1"]
        assert outbox.claim_due(s, app.now(), {"wecom"}) == []


def test_each_row_gets_a_fresh_lease_before_its_send_and_a_lost_claim_is_not_sent(app: App, clock: FakeClock) -> None:
    """A claim of several rows sent one after another: a slow first send must not let another instance take the
    later rows (their lease is renewed just before each send); a row whose lease ran out is not sent by both."""
    _queue(app, 2)
    lease = dt.timedelta(seconds=30)
    with app.db.session() as s:
        first, second = outbox.claim_due(s, app.now(), {"wecom"}, lease=lease)
    clock.advance(seconds=25)  # the first send was slow
    with app.db.session() as s:
        renewed = outbox.renew(s, second, app.now() + lease)
    assert renewed is not None
    clock.advance(seconds=10)  # past the claim's first lease, within the renewed one
    with app.db.session() as s:
        taken = outbox.claim_due(s, app.now(), {"wecom"}, lease=lease)
    assert [t.key for t in taken] == [first.key]  # the unrenewed row is taken again; the renewed one is not
    with app.db.session() as s:
        assert outbox.renew(s, first, app.now() + lease) is None  # so its first sender must not send it
