"""The county-level units (县、市、区) and their departments, expanded from one template.

config.toml lists the counties once ([[counties]]) and the departments every county has once
([[county_departments]]); this module makes one Department per county and template, e.g. key
sanyuan-gaj, name 三元区公安局, in the system of the city department `parent` (whose 附件2 group it fills).
A county may change one of its departments' extra groups: [counties.departments.scjgj] extra_groups = [].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from campaign.model import County, Department

if TYPE_CHECKING:
    from campaign.config import _Reader

_OVERRIDABLE = frozenset({"extra_groups"})


def _template(r: _Reader, t: Mapping[str, Any], where: str, city: Mapping[str, Department],
              group_names: set[str]) -> tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]]:
    # Unknown keys were refused with a did-you-mean by parse_campaign (config.KNOWN_KEYS).
    key, parent, name = r.text(t, "key", where), r.text(t, "parent", where), r.text(t, "name", where)
    if parent not in city:
        raise r.fail(f"{where}.parent", f"no city department with key {parent!r}")
    short = r.text(t, "short", where, "") or name
    extra = _extra(r, t, where, group_names)
    return key, parent, name, short, r.strs(t, "aliases", where), extra


def _extra(r: _Reader, t: Mapping[str, Any], where: str, group_names: set[str]) -> tuple[str, ...]:
    extra = r.strs(t, "extra_groups", where)
    for g in extra:
        if g not in group_names:
            raise r.fail(f"{where}.extra_groups", f"no indicator group named {g!r}")
    return extra


def parse_counties(
    r: _Reader, raw: Mapping[str, Any], city: tuple[Department, ...], group_names: set[str]
) -> tuple[tuple[County, ...], tuple[Department, ...]]:
    """The counties and their departments; both empty when config lists no counties."""
    if raw.get("counties") is None:
        return (), ()
    by_key = {d.key: d for d in city}
    templates: list[tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]]] = []
    for n, t in enumerate(r.tables(raw, "county_departments")):
        item = _template(r, t, f"county_departments[{n}]", by_key, group_names)
        if any(x[0] == item[0] for x in templates):
            raise r.fail(f"county_departments[{n}].key", f"template key {item[0]!r} appears twice")
        templates.append(item)
    counties: list[County] = []
    departments: list[Department] = []
    for n, c in enumerate(r.tables(raw, "counties")):
        where = f"counties[{n}]"
        county = County(r.text(c, "key", where), r.text(c, "name", where), r.strs(c, "aliases", where))
        if any(x.key == county.key for x in counties) or county.key in by_key:
            raise r.fail(f"{where}.key", f"key {county.key!r} appears twice")
        overrides = r.table(c, "departments", required=False)
        for template_key, change in overrides.items():
            ow = f"{where}.departments.{template_key}"
            if not any(t[0] == template_key for t in templates):
                raise r.fail(ow, "no county_departments entry with this key")
            if not isinstance(change, Mapping) or not set(change) <= _OVERRIDABLE:
                raise r.fail(ow, f"must be a table with only: {', '.join(sorted(_OVERRIDABLE))}")
        counties.append(county)
        for key, parent, name, short, aliases, extra in templates:
            change = overrides.get(key, {})
            if "extra_groups" in change:
                extra = _extra(r, change, f"{where}.departments.{key}", group_names)
            head = by_key[parent]
            departments.append(Department(
                key=f"{county.key}-{key}", name=f"{county.name}{name}", short=f"{county.name}{short}",
                group=head.group, parent=parent, county=county.key, extra_groups=extra,
                local_names=tuple(dict.fromkeys((name, short, *aliases))),
            ))
    return tuple(counties), tuple(departments)


def check_names(r: _Reader, departments: tuple[Department, ...], counties: tuple[County, ...]) -> None:
    """Refuse two units (departments or counties) that answer to the same name or alias."""
    owner: dict[str, str] = {}

    def claim(name: str, who: str, key: str) -> None:
        seen = owner.setdefault(name, who)
        if seen != who:
            raise r.fail(key, f"name {name!r} of {who} is already a name of {seen}")

    for d in departments:
        where = "county_departments" if d.county else "departments"
        for name in (d.key, d.name, d.short, *d.aliases):
            claim(name, f"{d.short}（{d.key}）", f"{where} ({d.key}).aliases")  # by key: two units, one short
    for n, c in enumerate(counties):
        for name in (c.key, *c.names()):
            claim(name, c.name, f"counties[{n}].aliases")
