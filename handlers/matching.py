"""Which indicator a user means. Exact names and aliases first, then a unique part of a name.

A short message is never silently booked to the wrong indicator: anything that is not one
clear match becomes a list of candidates or suggestions, and nothing is booked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from campaign import Indicator
from campaign.units import TYPED_UNITS, conversion

_DROP = re.compile(r"[\s\"'“”‘’「」『』《》()\[\]【】{}<>、，,。.:：;；!！?？\-_/\\·的]")
_REPEAT = re.compile(r"(.)\1+")
_UNIT_SUFFIX = re.compile(r"[(（]([^()（）]{1,3})[)）]$")


def normalize(text: str) -> str:
    """Reduce a name to what matters for matching: no punctuation, quotes, 的 or doubled characters."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return _REPEAT.sub(r"\1", _DROP.sub("", folded))


# The catalogue's names are few and fixed, but a Catalogue is built for every message: normalizing its
# names again each time was a fifth of the time of booking one report. User text is not cached here.
_normalized_name = lru_cache(maxsize=4096)(normalize)


def split_unit(name: str) -> tuple[str, str | None]:
    """Take a bracketed unit off the end of a name: 查处网络违法案件(件) -> (查处网络违法案件, 件).

    Only a unit someone could type counts; (网站、APP等) stays part of the name.
    """
    folded = unicodedata.normalize("NFKC", name).strip()
    m = _UNIT_SUFFIX.search(folded)
    if m is None or m.group(1) not in TYPED_UNITS:
        return name, None
    return folded[: m.start()], m.group(1)


@dataclass(frozen=True)
class Resolution:
    """The outcome of matching one item: exactly one of its fields says what happened."""

    match: Indicator | None = None
    candidates: tuple[Indicator, ...] = ()  # several fit: ask, book nothing
    suggestions: tuple[Indicator, ...] = ()  # none fits, these look close
    elsewhere: Indicator | None = None  # it is another department's indicator
    unit_misfit: tuple[Indicator, ...] = field(default=())  # the name fits, the unit does not
    unit: str | None = None  # the unit that was asked for, typed or in brackets


class Catalogue:
    """The indicators one contact may book, plus every other one to explain refusals."""

    def __init__(self, own: Sequence[Indicator], everyone: Sequence[Indicator]) -> None:
        self.own = tuple(own)
        own_keys = {i.key for i in self.own}  # keys, not dataclass equality: this runs for every message
        self.others = tuple(i for i in everyone if i.key not in own_keys)
        self._keys = {i.key: (_normalized_name(i.name), tuple(_normalized_name(a) for a in i.aliases))
                      for i in everyone}

    def by_index(self, index: int) -> Indicator | None:
        return self.own[index - 1] if 1 <= index <= len(self.own) else None

    def resolve(self, name: str, unit: str | None) -> Resolution:
        """Find the indicator a name means among the contact's own, with the unit as tie-breaker."""
        # A label copied from the list, 清理网上违法违规信息（万条）, names its unit in brackets.
        name, bracketed = split_unit(name)
        unit = unit or bracketed
        query = normalize(name)
        if not query:
            return Resolution()
        found = self._find(self.own, query)
        if found:
            fitting = tuple(i for i in found if unit is None or conversion(i.unit, unit) is not None)
            if not fitting:
                return Resolution(unit_misfit=found, unit=unit)
            if len(fitting) == 1:
                return Resolution(match=fitting[0])
            return Resolution(candidates=fitting)
        other = self._find(self.others, query)
        if other:
            return Resolution(elsewhere=other[0])
        return Resolution(suggestions=self.suggest(query))

    def _find(self, pool: Sequence[Indicator], query: str) -> tuple[Indicator, ...]:
        exact = tuple(i for i in pool if query == self._keys[i.key][0] or query in self._keys[i.key][1])
        if exact or len(query) < 2:
            return exact
        return tuple(
            i for i in pool if query in self._keys[i.key][0] or any(query in a for a in self._keys[i.key][1])
        )

    def suggest(self, query: str, limit: int = 3) -> tuple[Indicator, ...]:
        """The own indicators that share the most character pairs with the query."""
        wanted = _bigrams(query)
        if not wanted:
            return ()
        scored = []
        for ind in self.own:
            name, aliases = self._keys[ind.key]
            score = max(_dice(wanted, _bigrams(n)) for n in (name, *aliases))
            if score >= 0.25:
                scored.append((-score, ind.no, ind))
        return tuple(ind for _, _, ind in sorted(scored)[:limit])


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0
