"""Messages handled together in one thread: their bookings share one commit, each keeps its own outcome."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from bot.app import App
from store import gathering
from tests.support import Chat, booked_sum, booking_count

NAMES = ("方广成", "王永辉", "陈明栋", "李勤额")


@pytest.fixture
def chats(app: App) -> list[Chat]:
    return [Chat(app, name) for name in NAMES]


def test_messages_handled_together_share_one_commit_and_each_gets_its_own_answer(
        app: App, chats: list[Chat]) -> None:
    messages = [chat.message(f"1 {n + 1}") for n in range(3) for chat in chats]
    batches = app.db.writer.batches
    answers = app.core.handle_many(messages)
    assert app.db.writer.batches == batches + 1
    assert all(replies[0].text.startswith("已记录") for replies in answers), answers
    # Each answer is its own message's: the police's third report reads 累计 6 (1 + 2 + 3).
    assert "累计 6" in answers[8][0].text and "累计 1" in answers[0][0].text
    assert booked_sum(app) == Decimal(len(chats) * 6)


def test_a_redelivery_in_the_group_is_refused_alone(app: App, chats: list[Chat]) -> None:
    police, market = chats[:2]
    answers = app.core.handle_many([
        police.message("1 2", "same"), market.message("1 3"), police.message("1 2", "same"), market.message("1 4"),
    ])
    assert "已记录" in answers[0][0].text and "已记录" in answers[1][0].text and "已记录" in answers[3][0].text
    assert answers[2][0].text.startswith("这条消息已经记过了"), answers[2]
    assert booked_sum(app) == Decimal(9) and booking_count(app) == 3


def test_a_call_that_fails_leaves_the_others_and_its_own_booking_stands(app: App, chats: list[Chat]) -> None:
    police, market = chats[:2]

    def fails_before() -> object:
        raise ValueError("before")

    def fails_after() -> object:
        police.send("1 5")  # parked at the writer, booked with the others, then this call fails
        raise KeyError("after")

    calls = [lambda: market.send("1 1"), fails_before, fails_after, lambda: market.send("1 2")]
    with pytest.raises(ValueError, match="before"):
        gathering.together(app.db.writer, calls)
    assert booked_sum(app) == Decimal(8) and booking_count(app) == 3


def test_a_call_that_books_twice_parks_twice(app: App, chats: list[Chat]) -> None:
    police, market = chats[:2]
    batches = app.db.writer.batches
    results = gathering.together(app.db.writer, [
        lambda: [police.say("1 1"), police.say("1 2")],
        lambda: [market.say("1 7")],
    ])
    assert app.db.writer.batches == batches + 2  # round one: two bookings together; round two: the last
    assert [len(r) for r in results] == [2, 1] and "累计 3" in results[0][1]
    assert booked_sum(app) == Decimal(10)


def test_more_messages_than_a_batch_holds_take_several_commits(app: App, chats: list[Chat]) -> None:
    app.db.writer.max_batch = 4
    batches = app.db.writer.batches
    answers = app.core.handle_many([chat.message(f"1 {n + 1}") for n in range(5) for chat in chats[:2]])
    assert all("已记录" in replies[0].text for replies in answers)
    assert app.db.writer.batches == batches + 3  # 4 + 4 + 2
    assert booked_sum(app) == Decimal(30)


def test_gathered_bookings_wait_behind_another_threads_batch_and_go_in_one(app: App, chats: list[Chat]) -> None:
    writer = app.db.writer
    holding, release, queued = threading.Event(), threading.Event(), threading.Event()
    writer.on_queue = lambda waiting: queued.set() if waiting == 6 else None

    def slow(s: object) -> None:
        holding.set()
        assert release.wait(30)  # the writer is busy until the gathered jobs are all queued behind it

    leader = threading.Thread(target=app.db.write, args=(slow,))
    batches = writer.batches
    leader.start()
    assert holding.wait(30)
    answers: list[list[str]] = []
    group = threading.Thread(target=lambda: answers.extend(
        [r.text for r in replies] for replies in app.core.handle_many(
            [chat.message(f"1 {n + 2}") for n in range(3) for chat in chats[1:3]])))
    group.start()
    assert queued.wait(30)  # six jobs of one caller, sleeping on one event
    writer.on_queue = None
    release.set()
    leader.join(30)
    group.join(30)
    assert writer.batches == batches + 2 and len(answers) == 6
    assert all(a[0].startswith("已记录") for a in answers)
    assert booked_sum(app) == Decimal(2 * (2 + 3 + 4))


def test_outside_a_group_the_writer_books_as_before(app: App, chats: list[Chat]) -> None:
    assert "已记录" in chats[0].say("1 3")
    assert gathering.together(app.db.writer, []) == []
    assert booked_sum(app) == Decimal(3)


def test_groups_and_single_reports_from_many_threads_all_book_once(app: App, chats: list[Chat]) -> None:
    # The writer's hand-over between callers of one job and callers of several, under real contention.
    app.db.writer.max_batch = 7  # small batches: groups that do not fit, leaders that keep the lead
    senders = [Chat(app, name, transport=f"s{n}") for n in range(4) for name in NAMES]
    answers: list[str] = []
    failures: list[BaseException] = []

    def group(chat_set: list[Chat]) -> None:
        try:
            for n in range(5):
                replies = app.core.handle_many([chat.message(f"1 {n + 1}") for chat in chat_set])
                answers.extend(r[0].text for r in replies)
        except BaseException as exc:
            failures.append(exc)

    def single(chat: Chat) -> None:
        try:
            answers.extend(chat.say(f"1 {n + 1}") for n in range(5))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=group, args=(senders[n * 4:(n + 1) * 4],)) for n in range(3)]
    threads += [threading.Thread(target=single, args=(chat,)) for chat in senders[12:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures and not any(t.is_alive() for t in threads)
    assert len(answers) == len(senders) * 5 and all(a.startswith("已记录") for a in answers), answers
    assert booked_sum(app) == Decimal(len(senders) * 15) and booking_count(app) == len(senders) * 5
