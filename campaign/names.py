"""Which unit a user means by a name: city departments, counties and the departments of each county.

The rules, in order (the first that finds something wins):
1. an exact key, full name or short name of a department (三明市公安局, 市公安局, 三元区公安局);
2. a county's name or alias followed by a department's local name: 三元区 公安局, 三元公安;
3. for a contact of a county (`near`), a bare name means their own county's unit: 公安局 is 三元区公安局;
4. an exact alias of a city department (公安局 is 市公安局 for everyone else, 三明市公安局 too);
5. a part of a name (公安 → 市公安局): among the city's departments, or the asker's county and the city.
A name that fits several units returns them all: the caller asks which one, never guesses.
"""

from __future__ import annotations

import re

from campaign.model import Campaign, County, Department

_SPACE = re.compile(r"[\s\u3000]+")
CITY_PREFIXES = ("三明市", "三明")


def squeeze(text: str) -> str:
    return _SPACE.sub("", text.strip())


def find_county(campaign: Campaign, text: str) -> County | None:
    wanted = squeeze(text)
    for c in campaign.counties:
        if wanted in c.names() or wanted == c.key:
            return c
    return None


def _local(dep: Department, wanted: str) -> bool:
    return wanted in dep.local_names


def _partial(dep: Department, wanted: str) -> bool:
    names = (dep.name, dep.short, *dep.local_names)
    return any(wanted in n or (len(n) >= 2 and n in wanted) for n in names)


def _county_prefixed(campaign: Campaign, wanted: str) -> list[Department]:
    """三元区公安局 / 三元公安: a county's name or alias, then a name inside that county."""
    prefixes = sorted(((p, c) for c in campaign.counties for p in c.names()), key=lambda pc: -len(pc[0]))
    for prefix, county in prefixes:
        if not wanted.startswith(prefix) or wanted == prefix:
            continue
        rest = wanted[len(prefix):]
        inside = campaign.county_departments(county.key)
        found = [d for d in inside if _local(d, rest)] or [d for d in inside if _partial(d, rest)]
        if found:
            return found
    return []


def match_departments(
    campaign: Campaign, text: str, near: str | None = None, county: str | None = None, partial: bool = True
) -> list[Department]:
    """Every department the text could mean (one: found; several: ask; none: unknown).

    `near` is the asking contact's department key; `county` forces the county (an import row's 县（市、区）).
    """
    wanted = squeeze(text)
    if not wanted:
        return []
    home = county
    if home is None and near is not None:
        home = campaign.department(near).county
    pool = campaign.departments if county is None else campaign.county_departments(county)
    exact = [d for d in pool if wanted in (d.key, d.name, d.short)]
    if exact:
        return exact
    if county is None:
        prefixed = _county_prefixed(campaign, wanted)
        if prefixed:
            return prefixed
    if home is not None:
        inside = campaign.county_departments(home)
        local = [d for d in inside if _local(d, wanted)]
        if local:
            return local
        if county is not None:  # a named county: the unit must be one of its own
            return [d for d in inside if _partial(d, wanted)]
    city = [d for d in campaign.departments if d.county is None]
    aliased = [d for d in city if wanted in d.aliases]
    if aliased:
        return aliased
    for prefix in CITY_PREFIXES:  # 三明市公安局 → 公安局
        if wanted.startswith(prefix) and len(wanted) > len(prefix):
            bare = wanted[len(prefix):]
            found = [d for d in city if bare in d.names()]
            if found:
                return found
    if not partial:  # 通知 公安局 …: only a whole name may be a unit, never a word of the message
        return []
    parts = [d for d in city if _partial(d, wanted)]
    if home is not None:
        parts = [d for d in campaign.county_departments(home) if _partial(d, wanted)] + parts
    if parts:
        return parts
    # Last: anything anywhere (a county unit named by a part of its full name), so the user gets choices.
    return [d for d in campaign.departments if d.county is not None and wanted in d.name]


def match_unit(
    campaign: Campaign, text: str, near: str | None = None, partial: bool = True
) -> County | list[Department]:
    """A county (三元区) or the departments the text could mean."""
    found = find_county(campaign, text)
    if found is not None:
        return found
    return match_departments(campaign, text, near=near, partial=partial)


def choices_text(text: str, found: list[Department]) -> str:
    """The question for a name that fits several units."""
    shown = "、".join(d.short for d in found[:10]) + ("等" if len(found) > 10 else "")
    return f"「{text.strip()}」可能是：{shown}。请写完整的单位名称，例如：{found[0].short}"
