"""Which machine a run was on: the figures mean little without it."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _postgres() -> str | None:
    from tests.pg import find_bin

    found = find_bin()
    return str(found) if found else None


def machine_info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "postgresql_bin": _postgres(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def describe(info: dict[str, Any]) -> str:
    """One line for the README: cpu, cores, memory, versions, date."""
    return (f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB RAM, {info['os']}; "
            f"Python {info['python']}, SQLite {info['sqlite']}; run {info['date']}")
