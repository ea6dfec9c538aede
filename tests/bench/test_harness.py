"""A smoke test of the benchmark harness (the benchmarks themselves run in `make bench`, not here)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import main
from bench.harness import Figure, Target, percentile
from bench.report import END, START, update_readme


def test_a_quick_run_writes_every_field(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--only", "parsing,booking", "--out", str(out), "--no-readme"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {"cpu", "cores", "memory_gib", "python", "sqlite", "date"} <= set(data["machine"])
    keys = {f["key"] for f in data["figures"]}
    assert {"booking.sqlite", "parser.one.p99", "parser.five.p99", "parser.fuzzy.p99"} <= keys
    for figure in data["figures"]:
        assert {"value", "unit", "baseline", "ratio", "target", "met", "repetitions", "median"} <= set(figure)
        assert figure["baseline"]["name"] and figure["baseline"]["value"] > 0
        assert figure["repetitions"] >= 2 and figure["value"] == figure["median"]


def test_ratio_and_target_are_taken_per_repetition() -> None:
    figure = Figure("k", "t", "ms", "b", "ms", target=Target("< 5 ms", "value", "<=", 5))
    for value, base in ((4, 2), (6, 2), (5, 1)):
        figure.add(value, base)
    assert figure.value == 5 and figure.baseline == 2 and figure.ratio == 3 and figure.met is True
    assert percentile(list(range(1, 101)), 99) == 99


def test_only_the_marked_section_of_the_readme_changes(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Bot\n\n## Benchmarks\n{START}\nold\n{END}\n\n## Tests\nkept\n", encoding="utf-8")
    assert update_readme(readme, "| new |")
    assert readme.read_text(encoding="utf-8") == f"# Bot\n\n## Benchmarks\n{START}\n| new |\n{END}\n\n## Tests\nkept\n"
