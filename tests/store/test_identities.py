"""Chat identities: migration 0008 keeps every binding and WeCom userid; ids compare case-insensitively."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from bot.app import App
from campaign import Campaign
from store import directory
from store.database import MIGRATIONS, Database

T0 = dt.datetime(2023, 8, 10, 1, 0, tzinfo=dt.UTC)


def _at(db: Database, revision: str) -> None:
    """Bring the schema to `revision`: up from nothing, or down from the migrated template database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        migrated = "alembic_version" in inspect(conn).get_table_names()
        (command.downgrade if migrated else command.upgrade)(cfg, revision)
        if migrated:  # the template database was seeded: start from empty tables
            conn.execute(text("DELETE FROM contacts"))
            conn.execute(text("DELETE FROM departments"))


def test_migration_keeps_every_binding_and_wecom_userid(db_url: str) -> None:
    db = Database(db_url)
    _at(db, "0005")
    when = T0.replace(tzinfo=None) if db.dialect == "sqlite" else T0
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (id, key, name, short) VALUES (1, 'ga', '公安局', '公安局')"))
        for cid, name, userid in ((1, "甲", "WangYH"), (2, "乙", None), (3, "丙", "Bound1")):
            conn.execute(text(
                "INSERT INTO contacts (id, name, department_id, section, mobile, office, fax, email, role, "
                "wecom_userid, active, origin, updated_at) VALUES (:id, :name, 1, '', '', '', '', '', 'member', "
                ":userid, true, 'config', :t)"), {"id": cid, "name": name, "userid": userid, "t": when})
        for transport, user, chat, cid in (("telegram", "555", "555", 2), ("wecom", "bound1", "Bound1", 3),
                                           ("console", "console-1", "console-1", 1)):
            conn.execute(text("INSERT INTO bindings (transport, user_id, chat_id, contact_id, bound_at) "
                              "VALUES (:t, :u, :c, :cid, :at)"),
                         {"t": transport, "u": user, "c": chat, "cid": cid, "at": when})
    db.migrate()
    with db.session() as s:
        rows = s.execute(text("SELECT transport, external_id, chat_id, contact_id, source FROM identities "
                              "ORDER BY transport, external_id")).all()
        assert [tuple(r) for r in rows] == [
            ("console", "console-1", "console-1", 1, "chat"),
            ("telegram", "555", "555", 2, "chat"),
            ("wecom", "bound1", "Bound1", 3, "chat"),  # bound before: not duplicated by its config userid
            ("wecom", "wangyh", "WangYH", 1, "config"),
        ]
        # Bindings made before the migration still find their contact, in any case.
        person = directory.bound_person(s, "wecom", "WANGYH")
        assert person is not None and person.name == "甲"
        assert directory.chats_of(s, 1) == [("console", "console-1"), ("wecom", "WangYH")]
    db.dispose()


def test_directory_ids_from_config_and_admins(app: App) -> None:
    with app.db.session() as s:
        fang = next(p for p in directory.people(s) if p.name == "方广成")
        directory.save_contact(s, department_id=fang.department_id, name=fang.name, now=T0, dingtalk_userid="FGC01")
        assert directory.bound_person(s, "dingtalk", "fgc01") == fang
        # Changed by an admin: the old id no longer speaks for the contact.
        directory.save_contact(s, department_id=fang.department_id, name=fang.name, now=T0, dingtalk_userid="fgc02")
        assert directory.bound_person(s, "dingtalk", "FGC01") is None
        assert directory.directory_ids(s, "dingtalk") == {fang.id: "fgc02"}


def test_a_userid_config_changes_follows_config_and_one_an_admin_set_stays(app: App) -> None:
    import dataclasses

    def with_userids(**userids: str) -> Campaign:
        contacts = tuple(dataclasses.replace(c, wecom_userid=userids.get(c.name, c.wecom_userid))
                         for c in app.campaign.contacts)
        return dataclasses.replace(app.campaign, contacts=contacts)

    names = [c.name for c in app.campaign.contacts][:3]
    first, second, third = names
    with app.db.session() as s:
        ids = {p.name: p.id for p in directory.people(s)}
        directory.sync_campaign(s, with_userids(**{first: "cfg-one", second: "cfg-two"}), T0)
        assert directory.directory_ids(s, "wecom")[ids[first]] == "cfg-one"
        directory.set_directory_id(s, ids[second], "wecom", "admin-two", T0, source="admin")
        # config changes both: the config-given one follows, the admin's stays; a colleague's id is refused
        directory.sync_campaign(s, with_userids(**{first: "cfg-one-b", second: "cfg-two-b",
                                                  third: "admin-two"}), T0)
        found = directory.directory_ids(s, "wecom")
        assert found[ids[first]] == "cfg-one-b" and directory.bound_person(s, "wecom", "cfg-one") is None
        assert found[ids[second]] == "admin-two"
        assert ids[third] not in found or found[ids[third]] != "admin-two"
