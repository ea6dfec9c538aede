"""What every messaging transport offers the rest of the bot.

A transport turns its platform's messages into handlers.messages.Incoming at the edge, calls
the core (in a worker thread: the core and the store are synchronous), and shows the replies.
Reminders use send() to reach a chat without an incoming message.
"""

from __future__ import annotations

from typing import Protocol

from handlers.messages import Capabilities, Reply


class Transport(Protocol):
    name: str  # "telegram", "wecom", "dingtalk": the value of Incoming.transport
    caps: Capabilities  # what it can do; every Incoming it makes carries these, so handlers never name it

    async def start(self) -> None:
        """Connect and begin delivering incoming messages to the core."""

    async def stop(self) -> None:
        """Stop receiving and close connections."""

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one reply to a chat; raise on failure so the caller can retry."""
