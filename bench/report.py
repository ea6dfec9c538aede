"""The outputs of a run: the printed table, bench/results.json and the README's Benchmarks table."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import Figure
from bench.machine import describe

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _number(x: float) -> str:
    if x != x:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _met(figure: Figure) -> str:
    met = figure.met
    return "–" if met is None else ("yes" if met else "**no**")


def rows(figures: Sequence[Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        if not f.available:
            out.append([f.title, "not available", "", "", "", ""])
            continue
        out.append([
            f.title,
            f"{_number(f.value)} {f.unit}",
            f"{f.baseline_name}: {_number(f.baseline)} {f.baseline_unit}",
            _number(f.ratio),
            f.target.text if f.target else "–",
            _met(f),
        ])
    return out


HEADER = ["figure (median of repetitions)", "value", "baseline (same run)", "ratio", "target", "met"]


def markdown_table(figures: Sequence[Figure], info: dict[str, Any], seconds: float) -> str:
    lines = [f"Machine: {describe(info)}. `make bench` took {seconds:.0f} s.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows(figures):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def text_table(figures: Sequence[Figure]) -> str:
    """A plain table for the terminal, one figure per line."""
    table = [HEADER, *rows(figures)]
    table = [[row[0][:70], *row[1:3], *row[3:]] for row in table]
    table = [[c if len(c) <= 60 else c[:57] + "…" for c in row] for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in table)


def write_json(path: Path, figures: Sequence[Figure], info: dict[str, Any], seconds: float,
               errors: dict[str, str]) -> None:
    data = {"machine": info, "seconds": round(seconds, 1), "figures": [f.as_json() for f in figures],
            "errors": errors}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def update_readme(path: Path, table: str) -> bool:
    """Replace what is between the bench markers; False when the README has no markers."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        return False
    path.write_text(pattern.sub(lambda _: f"{START}\n{table}\n{END}", text, count=1), encoding="utf-8")
    return True
