"""Phone numbers as users type them, reduced to one comparable form."""

from __future__ import annotations

import re
import unicodedata

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """Return the digits of a phone number without +86/0086 or separators."""
    text = unicodedata.normalize("NFKC", raw)
    digits = re.sub(r"\D", "", text)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def is_mobile(raw: str) -> bool:
    """Tell whether the text is a mainland mobile number (11 digits, starting with 1)."""
    return bool(_MOBILE.match(normalize_phone(raw)))
