"""The parser and indicator matching: what handlers/reports.py does to a message before it books.

Each call is grammar.parse(text) plus, for each item, Catalogue(own, all 58 indicators).resolve —
the catalogue is built per message, as the handler does. Three messages for 市市场监管局 (35 own
indicators): one item, five items, and one misspelt name that only the fuzzy fallback (bigram
suggestions) answers. The baseline is the least any parser must do with a one-item message:
split off the number, look the exact name up in a dict and make a Decimal of the amount.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from bench.harness import Figure, Target, percentile, timings_us
from campaign import Campaign, Indicator, load_campaign
from handlers.grammar import parse
from handlers.matching import Catalogue, Resolution

TARGET = Target("p99 < 1 ms", "value", "<=", 1000.0)
BASELINE = "exact dict lookup + Decimal (one item)"
DEPARTMENT = "scjgj"


def understand(text: str, own: tuple[Indicator, ...], everyone: tuple[Indicator, ...]) -> list[Resolution]:
    parsed = parse(text)
    catalogue = Catalogue(own, everyone)
    return [catalogue.resolve(item.name, item.unit) for item in parsed.items if item.name]


def messages(campaign: Campaign) -> dict[str, str]:
    own = campaign.indicators_of(DEPARTMENT)
    return {
        "one": f"{own[0].name} 3",
        "five": "，".join(f"{ind.name} {n + 1}" for n, ind in enumerate(own[:5])),
        # Swapped characters match no name or part of a name: only the bigram suggestions answer.
        "fuzzy": "删除网络交易平台违法商品信息督促 3",
    }


def run(quick: bool = False) -> list[Figure]:
    campaign = load_campaign()
    own, everyone = campaign.indicators_of(DEPARTMENT), campaign.indicators
    texts = messages(campaign)
    exact = {ind.name: ind for ind in own}
    one = texts["one"]

    def baseline() -> object:
        name, _, amount = one.rpartition(" ")
        return exact[name], Decimal(amount)

    checks = {key: understand(text, own, everyone) for key, text in texts.items()}
    if not all(r.match for r in checks["one"] + checks["five"]) or not checks["fuzzy"][0].suggestions:
        raise RuntimeError(f"the benchmark messages do not parse as intended: {checks}")
    calls, reps = (300, 2) if quick else (3000, 3)
    titles = {"one": "Parser, one-item message", "five": "Parser, five-item message",
              "fuzzy": "Parser, fuzzy fallback (misspelt name → suggestions)"}
    figures = {key: Figure(f"parser.{key}.p99", f"{title}: p99", "µs", f"{BASELINE}, p99", "µs", target=TARGET,
                           ratio_meaning="value / baseline: times the least a parser must do")
               for key, title in titles.items()}
    medians: dict[str, list[float]] = {key: [] for key in titles}
    for _ in range(reps):
        base = percentile(timings_us(baseline, calls), 99)
        for key, text in texts.items():
            samples = timings_us(partial(understand, text, own, everyone), calls)
            figures[key].add(percentile(samples, 99), base)
            medians[key].append(percentile(samples, 50))
    for key, figure in figures.items():
        figure.extra = {"median_us": sorted(medians[key])[len(medians[key]) // 2], "message": texts[key],
                        "calls_per_repetition": calls}
    return list(figures.values())
