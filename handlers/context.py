"""What a handler gets: the message, who sent it, the campaign, the store and the time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from campaign import Campaign, Department, Indicator
from handlers.messages import Incoming
from store.database import Database
from store.directory import Person

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Context:
    campaign: Campaign
    db: Database
    msg: Incoming
    now: dt.datetime
    person: Person
    args: str = ""
    transports: frozenset[str] = frozenset()  # the running transports: where outgoing messages can be delivered

    @property
    def department(self) -> Department:
        return self.campaign.department(self.person.department)

    @property
    def own(self) -> tuple[Indicator, ...]:
        return self.campaign.indicators_of(self.person.department)

    def at(self) -> str:
        local = self.now.astimezone(self.campaign.tz)
        return f"{local.month}月{local.day}日 {local:%H:%M}"
