"""python -m bench: run every benchmark, print the table, write bench/results.json and the README table.

  python -m bench                      everything (what `make bench` runs)
  python -m bench --only parsing,totals
  python -m bench --quick --out /tmp/r.json --no-readme     small sizes: a smoke test of the harness
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from bench.harness import Figure
from bench.machine import machine_info
from bench.report import markdown_table, text_table, update_readme, write_json
from bot.runner import short_gil_turns

BENCH = Path(__file__).resolve().parent
# In the order of the issue; each module has run(quick) -> list[Figure].
MODULES = ("booking", "concurrent", "parsing", "totals", "export", "counties", "startup", "postgres", "telegram")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated modules: " + ",".join(MODULES))
    parser.add_argument("--quick", action="store_true", help="small sizes and few repetitions (smoke test)")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    parser.add_argument("--readme", type=Path, default=BENCH.parent / "README.md")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    chosen = args.only.split(",") if args.only else list(MODULES)
    unknown = set(chosen) - set(MODULES)
    if unknown:
        parser.error(f"unknown modules: {', '.join(sorted(unknown))}")

    short_gil_turns()  # as bot/runner.serve does: the figures measure the bot as it runs
    info = machine_info()
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    started = time.perf_counter()
    for name in chosen:
        module_start = time.perf_counter()
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            figures.extend(module.run(quick=args.quick))
        except Exception:  # one broken benchmark must not hide the others' figures
            errors[name] = traceback.format_exc()
            print(errors[name], file=sys.stderr)
        print(f"bench: {name} done in {time.perf_counter() - module_start:.1f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started

    print(text_table(figures))
    print(f"\n{len(figures)} figures in {seconds:.0f} s; "
          f"targets met: {sum(f.met is True for f in figures)}, missed: {sum(f.met is False for f in figures)}")
    write_json(args.out, figures, info, seconds, errors)
    print(f"wrote {args.out}")
    if not args.no_readme and not args.only and not args.quick:
        # Only a full run may replace the README's table: a partial one would drop figures.
        if update_readme(args.readme, markdown_table(figures, info, seconds)):
            print(f"updated the Benchmarks table in {args.readme}")
        else:
            print(f"{args.readme} has no bench markers: table not written there", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
