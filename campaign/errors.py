"""The one exception a bad config.toml raises: it names the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A config value is missing or wrong; the bot must not start with it."""

    def __init__(self, path: Path | str, key: str, reason: str) -> None:
        self.path = str(path)
        self.key = key
        self.reason = reason
        super().__init__(f"{self.path}: {key}: {reason}")
