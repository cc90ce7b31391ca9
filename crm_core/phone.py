"""Normalised phone keys: every way a caller ID can arrive maps to one key in the phone index.

Handles mobiles (13800138000, +8613800138000, 008613800138000, a stray trunk 0), landlines with or
without area code (010-62345678, 62345678 with a default area code, +86 10 6234 5678), 400/800
numbers, and an extension after the number (``-123``, ``ext 123``, ``x123``, ``转123``, ``分机123``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

MAX_KEY_LENGTH = 32

_EXT_MARKER = re.compile(r"\s*(?:ext\.?|extension|x|转|分机|#)\s*(\d{1,6})\s*$", re.IGNORECASE)
_DASH_EXT = re.compile(r"^(.*\d)\s*-\s*(\d{1,5})\s*$")
# A CN mobile with or without +86 / 0086 / a PBX's trunk 0.
_CN_MOBILE = re.compile(r"(?:\+86|0086|0)?(1[3-9]\d{9})")
_NOISE = re.compile(r"[\s\-().\u3000/]")

_KIND = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline",
    PhoneNumberType.TOLL_FREE: "tollfree",
    PhoneNumberType.SHARED_COST: "tollfree",
    PhoneNumberType.PREMIUM_RATE: "tollfree",
}


class PhoneError(ValueError):
    """The text holds no phone number."""


@dataclass(frozen=True, slots=True)
class PhoneKey:
    """``key`` is E.164 (``+8613812345678``); ``valid`` says whether the numbering plan knows it."""

    key: str
    kind: str
    extension: str = ""
    valid: bool = True


def _split_extension(text: str, region: str) -> tuple[str, str]:
    marker = _EXT_MARKER.search(text)
    if marker:
        return text[: marker.start()], marker.group(1)
    dash = _DASH_EXT.match(text)
    if dash:
        head, tail = dash.group(1), dash.group(2)
        # "138-1234-5678" is one number; "010-62345678-123" has an extension: the whole text must not
        # be a number while the head is one on its own.
        whole_valid = _parse(text, region) is not None
        if not whole_valid and _parse(head, region) is not None and len(re.sub(r"\D", "", head)) >= 7:
            return head, tail
    return text, ""


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def normalize(number: str, region: str = "CN", area_code: str = "") -> PhoneKey:
    """The index key of ``number``; ``area_code`` (e.g. ``"10"``) completes a local landline number.

    Raises :class:`PhoneError` when the text has no digits at all.
    """
    text, extension = _split_extension(number.strip(), region)
    digits = _NOISE.sub("", text)
    if digits.startswith("+"):
        digits = "+" + re.sub(r"\D", "", digits)
    else:
        digits = re.sub(r"\D", "", digits)
    if not digits.strip("+"):
        raise PhoneError(f"不是电话号码 not a phone number: {number[:40]!r}")
    if region == "CN":
        mobile = _CN_MOBILE.fullmatch(digits)
        if mobile:  # the commonest caller ID, answered without the full numbering-plan parse
            return PhoneKey(f"+86{mobile.group(1)}", "mobile", extension, True)
    candidates = [digits]
    if area_code and not digits.startswith(("+", "0")) and 7 <= len(digits) <= 8:
        candidates.insert(0, "0" + area_code.lstrip("0") + digits)
    for candidate in candidates:
        parsed = _parse(candidate, region)
        if parsed is not None:
            kind = _KIND.get(phonenumbers.number_type(parsed), "other")
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            return PhoneKey(e164, kind, extension or (parsed.extension or ""), True)
    return PhoneKey(_unchecked_key(digits, region), "other", extension, False)


def _unchecked_key(digits: str, region: str) -> str:
    """Key of a number the plan does not know: still E.164-shaped when a country can be read from it,
    so that ``+86…``, ``0086…`` and the national form agree."""
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return digits.lstrip("+")[-MAX_KEY_LENGTH:]
    return f"+{number.country_code}{number.national_number}"[:MAX_KEY_LENGTH]


def lookup_keys(number: str, region: str = "CN", area_code: str = "") -> list[str]:
    """The keys to search for ``number``: its own, plus the one without the default area code.

    A number stored before a default area code was configured is still found.
    """
    key = normalize(number, region, area_code)
    keys = [key.key]
    if area_code:
        plain = normalize(number, region, "").key
        if plain not in keys:
            keys.append(plain)
    return keys
