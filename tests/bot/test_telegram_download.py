"""Documents from Telegram: the public Bot API through the configured HTTPS_PROXY, a self-hosted server directly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from bot.telegram import download_capped

Body = b"%PDF-1.4 report"


async def serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def test_the_public_api_goes_through_the_proxy_and_a_self_hosted_server_does_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:  # gets the absolute URL, as a forward proxy does
        seen.append(f"proxy {request.url.host}{request.path}")
        return web.Response(body=Body)

    async def server(request: web.Request) -> web.Response:
        seen.append(f"server {request.path}")
        return web.Response(body=Body)

    async def run() -> None:
        proxy_runner, proxy_url = await serve(proxy)
        server_runner, server_url = await serve(server)
        try:
            for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
                monkeypatch.setenv(name, proxy_url)
            for name in ("NO_PROXY", "no_proxy"):
                monkeypatch.delenv(name, raising=False)
            assert await download_capped(f"{server_url}/file/botTOKEN/doc.pdf", 1000) == Body
            assert await download_capped("http://api.telegram.org/file/botTOKEN/doc.pdf", 1000) == Body
            assert await download_capped("http://api.telegram.org/file/botTOKEN/doc.pdf", 5) is None  # capped
        finally:
            await proxy_runner.cleanup()
            await server_runner.cleanup()

    asyncio.run(run())
    assert seen == ["server /file/botTOKEN/doc.pdf", "proxy api.telegram.org/file/botTOKEN/doc.pdf",
                    "proxy api.telegram.org/file/botTOKEN/doc.pdf"]
