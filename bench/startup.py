"""Start-up to ready for the console chat, and the resident memory of the idle bot.

`python -m bot console --as 王永辉` is started as a new process on an existing database (a restart,
the usual case; the first start, which creates the schema, is run once beforehand and not timed).
Ready is its first printed line, the console's greeting. Standard input stays open, so the bot then
sits idle waiting for a message: that is when its resident memory (VmRSS) is read. Baselines:
`python -c pass` from start to exit, and an interpreter idling on standard input.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Figure, Target
from bench.workload import sqlite_url, temp_dir

PROJECT = Path(__file__).resolve().parent.parent
COMMAND = ("-m", "bot", "console", "--as", "王永辉")
START_TARGET = Target("< 1 s", "value", "<=", 1.0)
MEMORY_TARGET = Target("< 120 MB", "value", "<=", 120.0)


def bot_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECOM_", "BOT_"))}
    env.update(BOT_DATABASE_URL=sqlite_url(folder), PYTHONUNBUFFERED="1")
    return env


def rss_mb(pid: int) -> float:
    """Resident set size from /proc, in MB (10^6 bytes, as the target is stated)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for {pid}")


def time_to_first_line(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from process start to its first line on stdout, and its RSS (MB) once idle after it."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=PROJECT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - start
        if not line:
            raise RuntimeError(f"{args} printed nothing: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)  # let it reach the blocking read: idle, as between two messages
        rss = rss_mb(proc.pid)
        proc.stdin.close()
        proc.wait(timeout=30)
        return elapsed, rss
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def python_pass() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[Figure]:
    reps = 2 if quick else 5
    start_up = Figure("startup.console", "Start-up: process start to the console's first line "
                      "(python -m bot console --as 王永辉)", "s", "python -c pass (start to exit)", "s",
                      target=START_TARGET, ratio_meaning="value / baseline: times a bare interpreter start")
    memory = Figure("startup.idle_rss", "Idle resident memory of the console bot (VmRSS)", "MB",
                    "an interpreter idling on stdin (VmRSS)", "MB", target=MEMORY_TARGET,
                    ratio_meaning="value / baseline: times a bare interpreter")
    idle = [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"]
    with temp_dir("startup") as folder:
        env = bot_env(folder)
        bot = [sys.executable, *COMMAND]
        time_to_first_line(bot, env)  # first start: creates and migrates the database
        for _ in range(reps):
            base = python_pass()
            _, base_rss = time_to_first_line(idle, env)
            elapsed, rss = time_to_first_line(bot, env)
            start_up.add(elapsed, base)
            memory.add(rss, base_rss)
    return [start_up, memory]
