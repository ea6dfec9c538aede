"""Which indicator a user means. Exact names and aliases first, then a unique part of a name.

A short message is never silently booked to the wrong indicator: anything that is not one
clear match becomes a list of candidates or suggestions, and nothing is booked.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

from campaign import Campaign, Indicator
from campaign.units import TYPED_UNITS, conversion

_DROP = re.compile(r"[\s\"'“”‘’「」『』《》()\[\]【】{}<>、，,。.:：;；!！?？\-_/\\·的]")
_REPEAT = re.compile(r"(.)\1+")
_UNIT_SUFFIX = re.compile(r"[(（]([^()（）]{1,3})[)）]$")
# Key words that tell apart rows sharing the rest of their names. A message that says one never means a row
# that says the other; a message that says neither, where the sender has rows of both kinds, is not guessed.
OPPOSITES: tuple[tuple[str, str], ...] = (("查处", "移送"), ("罚没款", "处罚金额"))
_PAIR_WORDS = {OPPOSITES[0]: re.compile("移送公安机关|移送|查处"), OPPOSITES[1]: re.compile("罚没款|处罚金额")}
# Fuzzy pinyin, as a pinyin keyboard and a Fujian accent confuse them: 投述/投诉 (shu/su), 竟/竞.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
MIN_LOOSE = 3  # characters a shortened name needs before it may stand for a row
LOOSE_SHARE = 0.4  # ... and the share of the row's name it must cover
FUZZ_SCORE = 80.0  # rapidfuzz ratio a misspelt name needs
FUZZ_MARGIN = 8.0  # ... and its lead over the next row


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
        self._texts = {k: (name, *aliases) for k, (name, aliases) in self._keys.items()}
        self._pinyin = {k: tuple(syllables(t) for t in texts) for k, texts in self._texts.items()}
        self._pairs = {k: tuple(_bigrams(t) for t in texts) for k, texts in self._texts.items()}
        self._charsets = {k: tuple(frozenset(t) for t in texts) for k, texts in self._texts.items()}
        self._soundsets = {k: tuple(frozenset(p) for p in sounds) for k, sounds in self._pinyin.items()}
        self._spelled = {k: tuple("".join(p) for p in sounds) for k, sounds in self._pinyin.items()}
        self._words = {k: frozenset(w for pair in OPPOSITES for w in pair if w in name)
                       for k, (name, _) in self._keys.items()}
        # A row's name without one pair's key words: 查处网售药品违法案件 and 移送公安机关的网售药品违法案件 share it.
        self._stems = {(i.key, pair): words.sub("", self._keys[i.key][0]) for i in everyone
                       for pair, words in _PAIR_WORDS.items()}
        # Which key words the sender's own rows carry: only where both of a pair occur can a message be ambiguous.
        self._own_words = {w for i in self.own for pair in OPPOSITES for w in pair if w in self._keys[i.key][0]}

    def by_index(self, index: int) -> Indicator | None:
        return self.own[index - 1] if 1 <= index <= len(self.own) else None

    def resolve(self, name: str, unit: str | None, suggest: bool = True) -> Resolution:
        """Find the indicator a name means among the contact's own, with the unit as tie-breaker."""
        # A label copied from the list, 清理网上违法违规信息（万条）, names its unit in brackets.
        name, bracketed = split_unit(name)
        unit = unit or bracketed
        query = normalize(name)
        if not query:
            return Resolution()
        found = self._find(self.own, query)
        if found:
            found = self.consistent(query, found)
            if len(found) == 1 and self._unsaid(query, found[0]):
                # 医疗器械案件 is part of 移送医疗器械案件 only; 查处网售医疗器械违法案件 is just as meant.
                found = (*found, *self._twins(found[0], query))
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
        return Resolution(suggestions=self.suggest(query) if suggest else ())

    def _exact(self, pool: Sequence[Indicator], query: str) -> tuple[Indicator, ...]:
        return tuple(i for i in pool if query == self._keys[i.key][0] or query in self._keys[i.key][1])

    def _find(self, pool: Sequence[Indicator], query: str) -> tuple[Indicator, ...]:
        exact = self._exact(pool, query)
        if exact or len(query) < 2:
            return exact
        return tuple(
            i for i in pool if query in self._keys[i.key][0] or any(query in a for a in self._keys[i.key][1])
        )

    def consistent(self, query: str, rows: Sequence[Indicator], hint: str = "") -> tuple[Indicator, ...]:
        """Drop rows whose key word contradicts the query's (or, where the query says none, the hint's)."""
        banned: set[str] = set()  # key words a row must not carry without the word the message says
        for a, b in OPPOSITES:
            said = query if (a in query or b in query) else hint
            if a in said and b not in said:
                banned.add(b)
            elif b in said and a not in said:
                banned.add(a)
        if not banned:
            return tuple(rows)
        opposite = {w: o for a, b in OPPOSITES for w, o in ((a, b), (b, a))}
        return tuple(i for i in rows if not any(w in self._words[i.key] and opposite[w] not in self._words[i.key]
                                               for w in banned))

    def _unsaid(self, query: str, ind: Indicator) -> bool:
        return self._unsaid_pair(query, ind) is not None

    def _unsaid_pair(self, query: str, ind: Indicator) -> tuple[str, str] | None:
        """The pair of which the row carries a key word the query lacks, where the sender has rows of both."""
        name = self._keys[ind.key][0]
        for a, b in OPPOSITES:
            for word, other in ((a, b), (b, a)):
                if word in name and word not in query and other not in query and other in self._own_words:
                    return (a, b)
        return None

    def _twins(self, ind: Indicator, query: str = "") -> tuple[Indicator, ...]:
        pair = self._unsaid_pair(query, ind)
        if pair is None:
            return ()
        stem = self._stems[(ind.key, pair)]
        return tuple(i for i in self.own if i.key != ind.key and self._stems[(i.key, pair)] == stem)

    def loose(self, query: str, hint: str = "") -> Resolution:
        """A shortened, misspelt or homophone name: one clear row among the sender's own, or none.

        The caller proposes what this finds and books it only on 确认. `hint` is the text before the
        query in the same message: 查处药品案件2件，医疗器械案件1件 means 查处 for both.
        """
        query = normalize(query)
        if not query:
            return Resolution()
        # Another department's row named exactly (查处网络违法案件 from market regulation) is that row: never read
        # loosely as one of the sender's own that merely holds its characters in order (查处网络虚假违法广告案件).
        if not self._exact(self.own, query) and (named := self._exact(self.others, query)):
            return Resolution(elsewhere=named[0])
        for pool, own in ((self.own, True), (self.others, False)):
            found = self._loose_find(pool, query, hint)
            if len(found) == 1:
                return Resolution(match=found[0]) if own else Resolution(elsewhere=found[0])
            if found:
                return Resolution(candidates=found) if own else Resolution(elsewhere=found[0])
        return Resolution()

    def _loose_find(self, pool: Sequence[Indicator], query: str, hint: str) -> tuple[Indicator, ...]:
        pool = self.consistent(query, pool, hint)
        exact = self._find(pool, query)
        if exact:
            return self._narrow(query, exact, hint)
        if len(query) < MIN_LOOSE:
            return ()
        spelled = syllables(query)
        chars, sounds = frozenset(query), frozenset(spelled)
        # Character sets first: a row lacking one of the query's characters (or sounds) cannot contain it in order.
        found = tuple(i for i in pool if any(chars <= cs and _in_order(query, t)
                                             for t, cs in zip(self._texts[i.key], self._charsets[i.key], strict=True)))
        if not found:
            found = tuple(i for i in pool if any(sounds <= ss and _in_order(spelled, p) for p, ss in
                                                 zip(self._pinyin[i.key], self._soundsets[i.key], strict=True)))
        if found:
            return self._narrow(query, found, hint)
        joined = "".join(spelled)
        scored = sorted(((max(fuzz.ratio(joined, s, score_cutoff=FUZZ_SCORE - FUZZ_MARGIN)
                              for s in self._spelled[i.key]), i) for i in pool), key=lambda pair: -pair[0])
        if scored and scored[0][0] >= FUZZ_SCORE and (len(scored) == 1 or scored[1][0] <= scored[0][0] - FUZZ_MARGIN):
            return (scored[0][1],)
        return ()

    def _narrow(self, query: str, found: tuple[Indicator, ...], hint: str) -> tuple[Indicator, ...]:
        if len(found) == 1:
            return found if not self._unsaid(query + hint, found[0]) else (*found, *self._twins(found[0], query + hint))
        # Several rows fit: the hint's key word (查处 of the clause before) may settle it.
        said = query + hint
        narrowed = tuple(i for i in found if not any(
            _opposed(said, "", self._keys[i.key][0], a, b) or _opposed(said, "", self._keys[i.key][0], b, a)
            for a, b in OPPOSITES))
        return narrowed or found

    def suggest(self, query: str, limit: int = 3) -> tuple[Indicator, ...]:
        """The own indicators that share the most character pairs with the query, none contradicting it."""
        wanted = _bigrams(query)
        if not wanted:
            return ()
        scored = []
        for ind in self.consistent(query, self.own):
            score = max(_dice(wanted, pairs) for pairs in self._pairs[ind.key])
            if score >= 0.25:
                scored.append((-score, ind.no, ind))
        return tuple(ind for _, _, ind in sorted(scored)[:limit])


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _opposed(query: str, hint: str, name: str, word: str, other: str) -> bool:
    """The query (or the hint, where the query says neither) says `word`; the row says `other` but not `word`."""
    said = query if (word in query or other in query) else hint
    return word in said and other not in said and other in name and word not in name


def _in_order(query: Sequence[str], text: Sequence[str]) -> bool:
    """屏蔽网站 in 屏蔽或关闭网站 (or the same by sound: 屏避网站, 竟争, 投述, 帐号): every part in order,
    covering enough of the name that a shortened name still says which row it is."""
    if len(query) < LOOSE_SHARE * len(text):
        return False
    it = iter(text)
    return all(part in it for part in query)


def _load_pinyin() -> dict[int, str]:
    """pypinyin's table of character readings (code point -> "lǜ,lù"), loaded alone.

    Importing the pypinyin package also loads its phrase dictionary: half a million small lists that
    made every full garbage collection of the bot take 0.2 s (a stall in the middle of a report). The
    reading table is one dict of ints and strings, which the collector never scans.
    """
    spec = importlib.util.find_spec("pypinyin")
    assert spec is not None and spec.submodule_search_locations, "pypinyin is in requirements.txt"
    path = f"{list(spec.submodule_search_locations)[0]}/pinyin_dict.py"
    table_spec = importlib.util.spec_from_file_location("_pypinyin_readings", path)
    assert table_spec is not None and table_spec.loader is not None
    module = importlib.util.module_from_spec(table_spec)
    table_spec.loader.exec_module(module)
    table: dict[int, str] = module.pinyin_dict
    return table


_READINGS: dict[int, str] = {}  # filled on the first lookup: loading the table costs start-up ~50 ms


@lru_cache(maxsize=8192)
def _syllable(ch: str) -> str:
    if not _READINGS:
        _READINGS.update(_load_pinyin())
    reading = _READINGS.get(ord(ch))
    if reading is None:
        return ch.lower()  # not a Chinese character: itself
    first = unicodedata.normalize("NFD", reading.split(",")[0])
    sound = "".join(c for c in first if not unicodedata.combining(c))  # no tones: 诉 sù and 述 shù are near
    for long, short in _FUZZY_INITIALS:
        if sound.startswith(long):
            sound = short + sound[len(long):]
    return sound[:-1] if sound.endswith("ng") else sound  # ing/in, eng/en, ang/an


def syllables(text: str) -> tuple[str, ...]:
    """One fuzzy pinyin syllable per character (cached per character: a name costs a few dict lookups)."""
    return tuple(_syllable(ch) for ch in text)


_catalogues: dict[tuple[int, str], tuple[weakref.ref[Campaign], Catalogue]] = {}


def catalogue_for(campaign: Campaign, department: str) -> Catalogue:
    """The department's catalogue, built once per process (the campaign is read once and never changes)."""
    key = (id(campaign), department)
    cached = _catalogues.get(key)
    if cached is not None and cached[0]() is campaign:
        return cached[1]
    built = Catalogue(campaign.indicators_of(department), campaign.indicators)
    _catalogues[key] = (weakref.ref(campaign), built)
    return built
