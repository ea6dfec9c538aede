"""Webhook mode: Telegram posts each update to our HTTPS address instead of being polled.

PTB's own webhook server needs tornado, which this project does not install; aiohttp (already used by the
WeCom transport) serves the one route. Usually a reverse proxy terminates TLS and forwards to listen:port.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.telegram_settings import TelegramSettings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_MAX_BODY = 1024 * 1024  # an update is a few KB


class WebhookServer:
    """Receives updates, checks Telegram's secret header, and hands each to the application."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], settings: TelegramSettings,
                 allowed_updates: list[str]) -> None:
        self.application = application
        self.settings = settings
        self.allowed_updates = allowed_updates
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen first, then tell Telegram where to post, so that no update meets a closed port."""
        server = web.Application(client_max_size=_MAX_BODY)
        server.router.add_post(self.settings.webhook_path, self.receive)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.listen, self.settings.port).start()
        await self.application.bot.set_webhook(
            self.settings.webhook_url, secret_token=self.settings.webhook_secret,
            allowed_updates=self.allowed_updates,
        )
        log.info("webhook listening on %s:%d", self.settings.listen, self.settings.port)

    async def stop(self) -> None:
        """Stop listening. The webhook stays set: Telegram keeps the updates until we are back."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def receive(self, request: web.Request) -> web.Response:
        """Handle one update, then answer 200: the answer is the acknowledgement, so nothing is acknowledged
        that a crash could still lose (Telegram resends until it gets it; the ledger books a resend once)."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.settings.webhook_secret.encode()):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        try:
            await self.application.process_update(update)
        except Exception:  # the error handler has answered the user; a resend would only fail again
            log.exception("update %s could not be handled", update.update_id)
        return web.Response()
