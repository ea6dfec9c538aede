"""One reader for every transport's settings: its environment variables and its section of config.toml.

Each transport names its keys once: which come from the environment (a secret only from there), which may
also be written in config.toml, which only there. The reader refuses a key it was not told about, and a
secret written in config.toml, with the file, the key and the reason (campaign.ConfigError), so a typo in
[wecom] stops the start instead of being silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from campaign import Campaign
from campaign.config import did_you_mean
from campaign.errors import ConfigError

ENVIRONMENT = "environment"  # what ConfigError names as the "file" when an environment variable is wrong


@dataclass(frozen=True)
class Value:
    """One setting's text and where it came from, so that a bad value names its file and key."""

    text: str
    path: str  # the config file, or "environment"
    key: str  # "wecom.agent_id" or "WECOM_AGENT_ID"

    def fail(self, reason: str) -> ConfigError:
        return ConfigError(self.path, self.key, reason)


class SettingsReader:
    """The settings of one transport: `[section]` of config.toml plus environment variables.

    env:     config key -> environment variable; the environment wins, config.toml may give the value too
    secrets: config key -> environment variable; only the environment may give these
    config:  config-only keys -> the TOML type they must have (str, int, list, dict)
    """

    def __init__(self, campaign: Campaign, section: str, *, env: Mapping[str, str] | None = None,
                 secrets: Mapping[str, str] | None = None, config: Mapping[str, type] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.path = str(campaign.path)
        self.section = section
        self.env = dict(env or {})
        self.secrets = dict(secrets or {})
        self.config = dict(config or {})
        self.environ = os.environ if environ is None else environ
        self.raw: Mapping[str, Any] = campaign.sections.get(section, {})
        self._check_keys()

    def _check_keys(self) -> None:
        for key, value in self.raw.items():
            if key in self.secrets:
                raise self._fail(key, f"secrets belong in the environment ({self.secrets[key]})")
            if key in self.env:
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise self._fail(key, "must be a string")
                continue
            if key not in self.config:
                raise self._fail(key, did_you_mean(key, {*self.env, *self.config}))
            wanted = self.config[key]
            if isinstance(value, bool) and wanted is not bool or not isinstance(value, wanted):
                raise self._fail(key, f"must be {_TYPE_NAMES.get(wanted, wanted.__name__)}")

    def _fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.path, f"{self.section}.{key}", reason)

    def value(self, key: str) -> Value | None:
        """A key's value from the environment (if set and not blank) or config.toml, else None."""
        var = self.env.get(key) or self.secrets.get(key)
        if var and self.environ.get(var, "").strip():
            return Value(self.environ[var].strip(), ENVIRONMENT, var)
        if key in self.env and str(self.raw.get(key, "")).strip():
            return Value(str(self.raw[key]).strip(), self.path, f"{self.section}.{key}")
        return None

    def missing(self, keys: tuple[str, ...]) -> list[str]:
        """The environment variables (or keys) of `keys` that have no value."""
        return [self.env.get(k) or self.secrets.get(k) or k for k in keys if self.value(k) is None]

    def number(self, key: str, default: int, low: int, high: int) -> int:
        """A whole number from config.toml only, within [low, high]."""
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(key, f"must be a whole number from {low} to {high}")
        return value

    def text(self, key: str, default: str = "") -> str:
        """A string from the environment or config.toml."""
        found = self.value(key)
        return found.text if found is not None else default

    def table(self, key: str) -> Any:
        return self.raw.get(key)

    def fail(self, key: str, reason: str) -> ConfigError:
        return self._fail(key, reason)


_TYPE_NAMES = {str: "a string", int: "a whole number", list: "a list", dict: "a table", bool: "true or false"}


def base_url(value: Value, example: str, strip: tuple[str, ...] = ()) -> str:
    """An http(s) base URL without a trailing slash (nor any of the `strip` suffixes, e.g. "/cgi-bin")."""
    parts = urlsplit(value.text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise value.fail(f"must be an http(s) URL like {example}")
    if parts.query or parts.fragment:
        raise value.fail("must not have a query or fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise value.fail("has a bad port") from None
    url = value.text.rstrip("/")
    for suffix in strip:
        url = url.removesuffix(suffix).rstrip("/")
    return url
