"""The real bot as a separate process, `python -m bot run`, for the end-to-end tests and the benchmarks.

Started the way systemd starts it, with an environment of its own; ready when it prints its READY line;
stopped with SIGTERM, as systemd stops it. Nothing sleeps: every wait has a timeout.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without the bot's settings (TELEGRAM_*, WECOM_*, BOT_*), with the project on
    PYTHONPATH and unbuffered output, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECOM_", "BOT_"))}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, (str(PROJECT), env.get("PYTHONPATH")))), PYTHONUNBUFFERED="1")
    env.update(variables)
    return env


@dataclass
class BotProcess:
    """One `python -m bot run`, its stderr in folder/<name>-<start>.log; launch() returns at once, so several
    instances can start together, and wait_ready() then waits for each."""

    name: str
    env: dict[str, str]
    folder: Path
    proc: subprocess.Popen[str] | None = None
    ready: str = ""  # the READY line, e.g. "READY telegram,wecom"
    starts: int = 0
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @property
    def stderr_path(self) -> Path:
        return self.folder / f"{self.name}-{self.starts}.log"

    def launch(self) -> BotProcess:
        self.starts += 1
        lines: queue.Queue[str | None] = queue.Queue()
        self._lines = lines
        with self.stderr_path.open("w", encoding="utf-8") as err:
            self.proc = proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=PROJECT, env=self.env, text=True, encoding="utf-8",
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            )

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, name=f"{self.name}-stdout", daemon=True).start()
        return self

    def wait_ready(self, timeout: float = 60) -> BotProcess:
        """Wait for the READY line; if none comes in time, stop the bot and fail with the end of its log."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"{self.name}: no READY within {timeout} s:\n{self.log()[-3000:]}") from None
            if line is None:
                self.stop()
                raise AssertionError(f"{self.name} ended before READY:\n{self.log()[-3000:]}")
            if line.startswith("READY"):
                self.ready = line.strip()
                return self

    def start(self) -> BotProcess:
        return self.launch().wait_ready()

    def stop(self) -> int:
        """SIGTERM, as systemd stops the bot (SIGKILL if it has not ended 30 s later); the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or acknowledged; as in a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def log(self) -> str:
        """What the bot wrote to stderr since its last start."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")
