"""The campaign as configured: read once from config.toml into frozen dataclasses."""

from campaign.config import (
    Campaign,
    Contact,
    Deadline,
    Department,
    Group,
    Indicator,
    Limits,
    Phase,
    load_campaign,
)
from campaign.errors import ConfigError

__all__ = [
    "Campaign",
    "ConfigError",
    "Contact",
    "Deadline",
    "Department",
    "Group",
    "Indicator",
    "Limits",
    "Phase",
    "load_campaign",
]
