"""Registration by mobile: a failed lookup is asked again later, a directory's answer is final, admins hear once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.app import App
from bot.directory_sync import DirectorySync
from store import directory
from store.models import OutboxRow
from tests.support import FakeClock


class Directory:
    """A fake enterprise directory: mobile -> userid; fails the first `failing` lookups of each mobile."""

    def __init__(self, members: dict[str, str], failing: dict[str, int]) -> None:
        self.members, self.failing = members, dict(failing)
        self.asked: list[str] = []

    async def lookup(self, mobile: str) -> str | None:
        self.asked.append(mobile)
        if self.failing.get(mobile, 0) > 0:
            self.failing[mobile] -= 1
            raise ConnectionError("network unreachable")
        return self.members.get(mobile)


def notices(app: App) -> list[str]:
    with app.db.read() as s:
        return [row.text for row in s.scalars(select(OutboxRow).where(OutboxRow.key.like("directory:%")))]


def test_a_failed_lookup_is_asked_again_later_and_binds(app: App, clock: FakeClock) -> None:
    with app.db.session() as s:
        people = [p for p in directory.people(s) if p.mobile]
        admin = next(p for p in directory.people(s) if p.is_admin)
        directory.set_directory_id(s, admin.id, "wecom", "the-admin", clock(), source="admin")  # hears the notice
    first, second = people[0], people[1]
    members = {p.mobile: f"user{p.id}" for p in people if p.id != second.id}
    fake = Directory(members, failing={first.mobile: 2})
    sync = DirectorySync(app, "wecom", "企业微信", fake.lookup, "请在通讯录里添加。")

    asyncio.run(sync.run_once())
    with app.db.read() as s:
        bound = directory.directory_ids(s, "wecom")
    assert first.id not in bound and bound[people[2].id] == f"user{people[2].id}"
    # Told about the one the directory does not know, not about the one it could not be asked about.
    (told,) = set(notices(app))
    assert second.name in told and first.name not in told

    clock.advance(seconds=30)  # too soon: not asked again
    asyncio.run(sync.run_once())
    assert fake.asked.count(first.mobile) == 1
    clock.advance(seconds=31)  # a minute after the failure: asked, fails again; then two minutes
    asyncio.run(sync.run_once())
    assert fake.asked.count(first.mobile) == 2
    clock.advance(seconds=90)
    asyncio.run(sync.run_once())
    assert fake.asked.count(first.mobile) == 2
    clock.advance(seconds=31)
    asyncio.run(sync.run_once())
    assert fake.asked.count(first.mobile) == 3
    with app.db.read() as s:
        assert directory.directory_ids(s, "wecom")[first.id] == f"user{first.id}"
    # The directory's answers are final: nobody is asked twice after one, and admins are not told again.
    clock.advance(hours=2)
    asyncio.run(sync.run_once())
    assert sorted(fake.asked) == sorted([p.mobile for p in people] + [first.mobile] * 2)
    assert len(set(notices(app))) == 1
