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


_LANDLINE = re.compile(r"^(0\d{2,3})?-?(\d{7,8})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PERSON = re.compile(r"^[\u4e00-\u9fa5·A-Za-z]{2,20}$")
AREA_CODE = "0598"  # seven-digit numbers in the notice are Sanming landlines


def landline(raw: str) -> str | None:
    """A landline as 0598-8289060 (Sanming's area code when none is given), or None if it is none."""
    m = _LANDLINE.match(unicodedata.normalize("NFKC", raw).strip())
    return f"{m.group(1) or AREA_CODE}-{m.group(2)}" if m else None


def is_email(raw: str) -> bool:
    return bool(_EMAIL.match(raw.strip()))


def is_person_name(raw: str) -> bool:
    """Two to twenty Chinese or Latin letters: what a contact's name may be."""
    return bool(_PERSON.match(raw.strip()))
