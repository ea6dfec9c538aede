"""The server secret that keys the binding codes' HMAC: BOT_SECRET, else one generated once and kept under data/.

A bare SHA-256 of an 8-character code can be reversed by trying every code (31^8 ≈ 8.5·10^11 hashes, hours
on one GPU) by anyone who sees a database copy or backup. Keyed with a secret that lives outside the database,
the stored hashes are useless without it. Several instances must share one BOT_SECRET: a generated file is
per machine.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from store.database import PROJECT

log = logging.getLogger(__name__)

SECRET_FILE = PROJECT / "data" / "bot_secret"
MIN_LENGTH = 16


def server_secret(environ: dict[str, str] | None = None, path: Path = SECRET_FILE) -> bytes:
    """BOT_SECRET from the environment; else the kept file, created on first use (owner-only permissions)."""
    env = os.environ if environ is None else environ
    given = env.get("BOT_SECRET", "").strip()
    if given:
        if len(given) < MIN_LENGTH:
            from campaign.errors import ConfigError  # only on this error path

            raise ConfigError("environment", "BOT_SECRET", f"must be at least {MIN_LENGTH} characters")
        return given.encode()
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32).encode()
    try:
        # O_EXCL: of two processes starting together, one writes and the other reads what it wrote.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(fresh)
    log.warning("BOT_SECRET is not set: generated one in %s (set BOT_SECRET when several instances run)", path)
    return fresh
