"""What a unit's totals include: ONE rule, used by 汇总, 导出, 进度 (and the desk).

A scope is a set of reporting units (each at most once) and the 附件2 groups it shows:
- unit: one department alone, its own groups;
- system: a city department and the county units of its system, that department's groups
  (the 药监 system also takes the 药品监管 rows of the county 市场监管局 that do that work);
- county: every department of one 县（市、区）, the groups they fill;
- city: every department of the city and of every county, every group.
Its totals are the sum over its members of the indicators in its groups. A unit only ever books its own
indicators, so each entry is counted once in any scope that holds its unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from campaign.model import Campaign, Department, Group

CITY = "city"
COUNTY_ADMIN = "county_admin"


@dataclass(frozen=True)
class Part:
    """A block of a scope shown on its own (a county within a system, a department within a county)."""

    label: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    kind: str  # unit | system | county | city
    key: str  # department key, county key, or "city"
    label: str  # 市公安局系统, 三元区, 全市, 三元区公安局
    filled_by: str  # the 填报单位 line of the table
    members: tuple[str, ...]  # department keys, each once
    groups: tuple[str, ...]  # group names in table order
    parts: tuple[Part, ...] = ()

    def group_objects(self, campaign: Campaign) -> tuple[Group, ...]:
        return tuple(g for g in campaign.groups if g.name in self.groups)

    def indicator_keys(self, campaign: Campaign) -> frozenset[str]:
        return frozenset(i.key for g in self.group_objects(campaign) for i in g.indicators)

    def reporting(self, campaign: Campaign) -> tuple[Department, ...]:
        """Members that have rows of this scope to fill: the ones that are asked to report."""
        wanted = set(self.groups)
        return tuple(d for d in (campaign.department(k) for k in self.members) if wanted & set(d.groups))

    def covers(self, other: Scope) -> bool:
        return set(other.members) <= set(self.members)


def _ordered_groups(campaign: Campaign, names: set[str]) -> tuple[str, ...]:
    return tuple(g.name for g in campaign.groups if g.name in names)


def unit_scope(campaign: Campaign, key: str) -> Scope:
    dep = campaign.department(key)
    return Scope("unit", key, dep.short, dep.name, (key,), _ordered_groups(campaign, set(dep.groups)))


def system_members(campaign: Campaign, head: str) -> tuple[str, ...]:
    """The city department, then the county units of its system in county order."""
    dep = campaign.department(head)
    mine = set(dep.groups)
    members = [head]
    for county in campaign.counties:
        for d in campaign.county_departments(county.key):
            if d.parent == head or (mine and mine & set(d.extra_groups)):
                members.append(d.key)
    return tuple(members)


def system_scope(campaign: Campaign, head: str) -> Scope:
    dep = campaign.department(head)
    members = system_members(campaign, head)
    parts = [Part(f"{dep.short}（本级）", (head,))]
    for county in campaign.counties:
        inside = tuple(k for k in members if campaign.department(k).county == county.key)
        if inside:
            parts.append(Part(county.name, inside))
    groups = _ordered_groups(campaign, set(dep.groups))
    filled_by = f"{dep.name}（本系统{len(members)}个单位汇总）" if len(members) > 1 else dep.name
    return Scope("system", head, f"{dep.short}系统" if len(members) > 1 else dep.short, filled_by, members, groups,
                 tuple(parts) if len(members) > 1 else ())


def county_scope(campaign: Campaign, county_key: str) -> Scope:
    county = campaign.county(county_key)
    deps = campaign.county_departments(county_key)
    groups = _ordered_groups(campaign, {g for d in deps for g in d.groups})
    parts = tuple(Part(d.short, (d.key,)) for d in deps if d.groups)
    return Scope("county", county_key, county.name, f"{county.name}（{len(deps)}个部门汇总）",
                 tuple(d.key for d in deps), groups, parts)


def city_scope(campaign: Campaign) -> Scope:
    heads = [d for d in campaign.departments if d.county is None]
    parts = []
    for head in heads:
        if head.groups:
            system = system_scope(campaign, head.key)
            parts.append(Part(system.label, system.members))
    city_units = sum(1 for d in campaign.departments if d.county is None)
    filled_by = f"三明市（{city_units}个成员单位" + (
        f"及{len(campaign.counties)}个县（市、区）汇总）" if campaign.counties else "汇总）"
    )
    return Scope(CITY, CITY, "全市", filled_by, tuple(d.key for d in campaign.departments),
                 tuple(g.name for g in campaign.groups), tuple(parts))


def named_scope(campaign: Campaign, dep: Department) -> Scope:
    """What a department's name means in 汇总/导出: a city department's whole system, a county unit alone."""
    return unit_scope(campaign, dep.key) if dep.county is not None else system_scope(campaign, dep.key)


def viewer_scope(campaign: Campaign, department: str, role: str) -> Scope:
    """Everything a contact may see: 网监科 admins the city, a county's market regulation its county,
    a city department its system, a county department its own rows."""
    if role == "admin":
        return city_scope(campaign)
    dep = campaign.department(department)
    if role == COUNTY_ADMIN and dep.county is not None:
        return county_scope(campaign, dep.county)
    return named_scope(campaign, dep)


def scope_totals(
    campaign: Campaign, scope: Scope, sums: Mapping[tuple[str, str], Decimal], members: tuple[str, ...] | None = None
) -> dict[str, Decimal]:
    """Indicator -> the sum over the scope's members (or a part's) of their entries in the scope's groups."""
    wanted = scope.indicator_keys(campaign)
    chosen = set(scope.members if members is None else members)
    result: dict[str, Decimal] = {}
    for (dep, indicator), value in sums.items():
        if dep in chosen and indicator in wanted:
            result[indicator] = result.get(indicator, Decimal(0)) + value
    return result
