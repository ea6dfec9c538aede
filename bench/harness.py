"""What every figure is made of: repetitions, a baseline measured beside them, a ratio and a target.

The machines are shared and noisy, so a figure is never an absolute number alone: each repetition
measures the subject and its baseline back to back, the ratio is taken per repetition (noise that
lasts a few seconds hits both), and the figure reports the medians.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["<=", ">="]


@dataclass(frozen=True)
class Target:
    """A goal on the value (`on="value"`) or on the ratio to the baseline (`on="ratio"`)."""

    text: str  # as the issue states it, e.g. "≥ 0.5 of the limit"
    on: Literal["value", "ratio"]
    op: Op
    limit: float

    def met(self, value: float, ratio: float) -> bool:
        subject = value if self.on == "value" else ratio
        return subject <= self.limit if self.op == "<=" else subject >= self.limit


@dataclass
class Figure:
    """One line of the table and one object of bench/results.json."""

    key: str
    title: str
    unit: str
    baseline_name: str
    baseline_unit: str
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)
    target: Target | None = None
    # Why the ratio reads as it does, e.g. "value / baseline: fraction of the limit".
    ratio_meaning: str = "value / baseline"
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    available: bool = True  # False: could not run here (e.g. no PostgreSQL); `notes` say why

    def add(self, value: float, baseline: float) -> None:
        self.samples.append(value)
        self.baseline_samples.append(baseline)

    @property
    def value(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_samples) if self.baseline_samples else float("nan")

    @property
    def ratio(self) -> float:
        ratios = [v / b for v, b in zip(self.samples, self.baseline_samples, strict=True) if b]
        return statistics.median(ratios) if ratios else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target is None or not self.available or not self.samples:
            return None
        return self.target.met(self.value, self.ratio)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "available": self.available,
            "value": _round(self.value),
            "median": _round(self.value),
            "unit": self.unit,
            "samples": [_round(s) for s in self.samples],
            "repetitions": len(self.samples),
            "baseline": {"name": self.baseline_name, "value": _round(self.baseline), "unit": self.baseline_unit,
                         "samples": [_round(s) for s in self.baseline_samples]},
            "ratio": _round(self.ratio),
            "ratio_meaning": self.ratio_meaning,
            "target": None if self.target is None else {
                "text": self.target.text, "on": self.target.on, "op": self.target.op, "limit": self.target.limit},
            "met": self.met,
            "notes": self.notes,
            **({"extra": self.extra} if self.extra else {}),
        }


def _round(x: float) -> float | None:
    if x != x:  # NaN has no JSON form
        return None
    return float(f"{x:.4g}")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), nearest rank: p99 of 1000 samples is the 990th smallest."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def rate(count: int, fn: Callable[[], None]) -> float:
    """Run fn once and return count / elapsed seconds."""
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def timings_us(fn: Callable[[], object], count: int) -> list[float]:
    """Call fn count times; each call's duration in microseconds."""
    out: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        fn()
        out.append((clock() - start) / 1000)
    return out


def median_ms(fn: Callable[[], object], count: int) -> float:
    """The median of count calls in milliseconds (the median, not the best: a user sees typical, not lucky)."""
    return statistics.median(timings_us(fn, count)) / 1000
