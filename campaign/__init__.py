"""The campaign as configured: read once from config.toml into frozen dataclasses."""

from campaign.config import load_campaign
from campaign.errors import ConfigError
from campaign.model import (
    Campaign,
    Contact,
    Deadline,
    Department,
    Group,
    Indicator,
    Limits,
    Phase,
)

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
