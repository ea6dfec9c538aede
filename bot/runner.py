"""Run every configured transport in one asyncio process until asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from bot.app import App
from bot.transport import Transport

log = logging.getLogger(__name__)

# Each factory returns its transport when the environment/config configures it, else None.
TransportFactory = Callable[[App], Transport | None]
# Extra services started beside the transports (e.g. the reminder scheduler).
Service = Callable[[App, dict[str, Transport]], Awaitable[Callable[[], Awaitable[None]]]]


_TRANSPORTS = (
    ("bot.telegram", "telegram_transport"),
    ("bot.wecom", "wecom_transport"),
    ("bot.dingtalk", "dingtalk_transport"),
)
# Threads for asyncio.to_thread: the dispatcher's group of bookings (bot/dispatcher.py) and every message that
# runs alone (导出, 汇总, uploads), besides the transports' own small jobs. Python's default (cores + 4: six here)
# would let six slow exports hold up every other message; the threads mostly wait, so many are cheap.
WORKERS = 64


# How long a thread may keep the GIL while another waits (Python's default: 5 ms). A booking gives the GIL
# up at every SQLite call and must win it back each time; next to a CPU-bound export in another thread, each
# of those waits cost up to the whole interval, and a booking's p99 tripled. 1 ms keeps it near normal.
GIL_INTERVAL = 0.001


def use_worker_pool(loop: asyncio.AbstractEventLoop, workers: int = WORKERS) -> None:
    """Give the loop's default executor (asyncio.to_thread) enough threads that slow messages hold up no others."""
    loop.set_default_executor(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handler"))


def short_gil_turns() -> None:
    """Let a thread that waited for the database get back to work quickly (see GIL_INTERVAL)."""
    sys.setswitchinterval(GIL_INTERVAL)


def freeze_start_up() -> None:
    """Keep what start-up made out of every later full garbage collection (gc.freeze).

    Config, SQLAlchemy's tables and the libraries are some 100,000 objects that live as long as the process. A full
    collection walked them all: a 50 ms pause for every message in flight, once in a while (bench/concurrent.py
    saw it as the p99 of a burst). Frozen, they are never scanned; what is made later is collected as before.
    No collection first: it would cost start-up 40 ms for a few hundred objects of garbage.
    """
    gc.freeze()


def transport_factories() -> list[TransportFactory]:
    """The transports this build has, imported lazily so that unused libraries cost nothing at start."""
    factories: list[TransportFactory] = []
    for module_name, attr in _TRANSPORTS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        factories.append(getattr(module, attr))
    return factories


def configured_transports(app: App) -> dict[str, Transport]:
    found: dict[str, Transport] = {}
    for factory in transport_factories():
        transport = factory(app)
        if transport is not None:
            found[transport.name] = transport
    return found


async def serve(app: App, transports: dict[str, Transport], services: list[Service] | None = None) -> None:
    """Start the transports and services, wait for SIGINT/SIGTERM, then stop them in reverse."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    use_worker_pool(loop)
    short_gil_turns()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on the main thread
            loop.add_signal_handler(sig, stop.set)
    started: list[Callable[[], Awaitable[None]]] = []
    app.core.transports = frozenset(transports)
    try:
        for transport in transports.values():
            await transport.start()
            started.append(transport.stop)
            log.info("transport %s started", transport.name)
        for service in services or []:
            started.append(await service(app, transports))
        freeze_start_up()
        print("READY " + ",".join(transports), flush=True)
        await stop.wait()
    finally:
        for stopper in reversed(started):
            try:
                await stopper()
            except Exception:
                log.exception("error while stopping")
