"""Profiles that explain a missed target: pyinstrument call trees, written next to the results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pyinstrument import Profiler

BENCH = Path(__file__).resolve().parent
PROFILES = BENCH / "profiles"


def profile_to(name: str, fn: Callable[[], object], interval: float = 0.0005) -> str:
    """Run fn under pyinstrument; write the call tree to bench/profiles/NAME.txt and return that path."""
    PROFILES.mkdir(exist_ok=True)
    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    path = PROFILES / f"{name}.txt"
    # Library frames are folded away (show_all=False) so the tree shows which of our calls cost what.
    path.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
    return str(path.relative_to(BENCH.parent))
