"""The transports' way into the core: bookings that arrive together are handled as groups, the rest alone."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from decimal import Decimal

import pytest

from bot.app import App
from bot.dispatcher import GATHERERS, Dispatcher
from handlers.messages import Attachment, Reply
from tests.support import Chat, booked_sum


@pytest.fixture
def chats(app: App) -> list[Chat]:
    return [Chat(app, name) for name in ("方广成", "王永辉", "陈明栋")]


@pytest.fixture
def senders(app: App) -> list[Chat]:
    """Twelve senders: three contacts, each on four chat accounts."""
    return [Chat(app, name, transport=f"t{n}") for n in range(4) for name in ("方广成", "王永辉", "陈明栋")]


async def answer_all(dispatcher: Dispatcher, chats: list[Chat], rounds: int = 1) -> list[list[Reply]]:
    """Each chat sends `rounds` reports at once (1 1, 1 2, …), all chats together."""
    return await asyncio.gather(*(dispatcher.answer(chat.message(f"1 {n + 1}"))
                                  for n in range(rounds) for chat in chats))


def test_reports_that_arrive_together_are_handled_in_as_many_groups_as_gatherers(
        app: App, senders: list[Chat]) -> None:
    dispatcher = app.dispatcher
    answers = asyncio.run(dispatcher_answers(dispatcher, senders))
    assert dispatcher.groups == GATHERERS  # twelve reports, one loop turn: shared among the free gatherers
    assert all(replies[0].text.startswith("已记录") for replies in answers), answers
    assert booked_sum(app) == Decimal(sum(range(1, 13)))


def test_with_more_gatherers_the_waiting_reports_are_shared_among_them(app: App, senders: list[Chat]) -> None:
    dispatcher = Dispatcher(app.core, gatherers=3)
    answers = asyncio.run(dispatcher_answers(dispatcher, senders))
    assert dispatcher.groups == 3 and all(r[0].text.startswith("已记录") for r in answers)
    assert booked_sum(app) == Decimal(sum(range(1, 13)))


async def dispatcher_answers(dispatcher: Dispatcher, senders: list[Chat]) -> list[list[Reply]]:
    return await asyncio.gather(*(dispatcher.answer(chat.message(f"1 {n + 1}")) for n, chat in enumerate(senders)))


def test_one_senders_messages_are_handled_one_at_a_time_in_order(app: App, chats: list[Chat]) -> None:
    answers = asyncio.run(answer_all(app.dispatcher, chats, 4))
    # Each chat's fourth report comes after its first three, whatever the groups: 1 + 2 + 3 + 4.
    assert all("累计 10" in replies[0].text for replies in answers[-3:]), answers[-3:]
    assert app.dispatcher.groups >= 4
    assert booked_sum(app) == Decimal(3 * 10)


def test_one_report_at_a_quiet_hour_starts_at_once_alone(app: App, chats: list[Chat]) -> None:
    async def one() -> list[Reply]:
        return await app.dispatcher.answer(chats[0].message("1 2"))

    (reply,) = asyncio.run(one())
    assert reply.text.startswith("已记录") and app.dispatcher.groups == 1


def test_messages_beyond_a_group_wait_for_the_next(app: App, senders: list[Chat]) -> None:
    dispatcher = Dispatcher(app.core, gatherers=1, max_group=5)
    answers = asyncio.run(dispatcher_answers(dispatcher, senders))  # twelve reports: 5, then 5, then 2
    assert dispatcher.groups == 3 and all("已记录" in r[0].text for r in answers)
    assert booked_sum(app) == Decimal(sum(range(1, 13)))


def test_other_messages_go_alone_and_never_wait_for_a_group(app: App, chats: list[Chat]) -> None:
    chats[0].say("1 5")

    async def ask() -> tuple[list[Reply], list[Reply]]:
        return await asyncio.gather(app.dispatcher.answer(chats[0].message("汇总")),
                                    app.dispatcher.answer(chats[1].message("1 1")))

    total, booked = asyncio.run(ask())
    assert app.dispatcher.groups == 1  # the report; 汇总 ran on its own thread
    assert "5" in total[0].text and booked[0].text.startswith("已记录")


def test_a_sender_who_stops_waiting_leaves_the_group_and_its_booking(app: App, chats: list[Chat]) -> None:
    async def run() -> list[list[Reply]]:
        gone = asyncio.ensure_future(app.dispatcher.answer(chats[0].message("1 4")))
        stay = asyncio.ensure_future(app.dispatcher.answer(chats[1].message("1 3")))
        await asyncio.sleep(0)  # one turn of the loop: both are queued, the group is planned
        gone.cancel()
        return [await stay]

    (replies,) = asyncio.run(run())
    assert replies[0].text.startswith("已记录")
    assert booked_sum(app) == Decimal(7)  # the cancelled sender's report was booked all the same


def test_each_event_loop_starts_afresh(app: App, chats: list[Chat]) -> None:
    async def send(n: int) -> list[list[Reply]]:
        return await asyncio.gather(*(app.dispatcher.answer(chat.message(f"1 {n + 1}")) for chat in chats[:2]))

    for n in range(3):  # the CLI and tests run one loop after another on the same app
        answers = asyncio.run(send(n))
        assert all(r[0].text.startswith("已记录") for r in answers), (n, answers)
    assert booked_sum(app) == Decimal(2 * 6)


def test_books_tells_bookings_from_other_work(app: App) -> None:
    chat = Chat(app, "方广成")
    books = app.core.books
    assert books(chat.message("查处网络违法案件 3")) and books(chat.message("今天查处网络违法案件3起"))
    assert books(chat.message("撤销")) and books(chat.message("1"))  # 1: a choice from a proposal's list
    assert not books(chat.message("导出")) and not books(chat.message("汇总")) and not books(chat.message("帮助"))
    document = Attachment("report.docx", b"x")
    from dataclasses import replace
    assert not books(replace(chat.message(""), document=document))


def test_a_failing_worker_pool_fails_the_groups_waiters_with_its_error(app: App, chats: list[Chat]) -> None:
    async def run() -> BaseException | None:
        loop = asyncio.get_running_loop()
        pool = concurrent.futures.ThreadPoolExecutor(1)
        loop.set_default_executor(pool)
        pool.shutdown()  # as at the end of a stop: no new work can be handed to a thread
        try:
            await app.dispatcher.answer(chats[0].message("1 1"))
        except RuntimeError as exc:
            return exc
        return None

    assert isinstance(asyncio.run(run()), RuntimeError)
    assert booked_sum(app) == 0


def test_two_event_loops_at_once_each_get_their_answers(app: App, senders: list[Chat]) -> None:
    # A loop in another thread (as the console's desk runs) must not strand the main loop's waiters.
    results: dict[str, list[list[Reply]]] = {}

    def in_thread() -> None:
        results["thread"] = asyncio.run(dispatcher_answers(app.dispatcher, senders[6:]))

    async def main() -> list[list[Reply]]:
        first = asyncio.ensure_future(dispatcher_answers(app.dispatcher, senders[:6]))
        await asyncio.sleep(0)  # a group in hand …
        second = asyncio.ensure_future(asyncio.gather(
            *(app.dispatcher.answer(chat.message(f"2 {n + 1}")) for n, chat in enumerate(senders[:6]))))
        await asyncio.sleep(0)  # … and the same senders' next reports waiting behind it in this loop's lane
        worker = threading.Thread(target=in_thread)
        worker.start()
        answers = [*await asyncio.wait_for(first, 30), *await asyncio.wait_for(second, 30)]  # stranded: timeout
        await asyncio.to_thread(worker.join, 30)
        return answers

    results["main"] = asyncio.run(main())
    assert all(r[0].text.startswith("已记录") for part in results.values() for r in part), results
    assert len(results["main"]) == 12 and len(results["thread"]) == 6
