"""Typing of value text per field kind: numbers, durations, UUIDs, IPv4, booleans, wildcards.

Every parser takes the text first and the key (for the error) second, as `ingest.values` does
with its field names. Error texts are Sentry's.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal

from replaystore.errors import SearchError

_NUMBER = re.compile(r"(-?[0-9]+(?:\.[0-9]*)?)([kmbKMB]?)")
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?)(ms|s|min|m|hr|h|day|d|wk|w)")
_UUID = re.compile(
    r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_WILDCARD = re.compile(r"(?<!\\)(?:\\\\)*\*")

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_SECONDS = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "min": Decimal(60),
    "h": Decimal(3_600),
    "hr": Decimal(3_600),
    "d": Decimal(86_400),
    "day": Decimal(86_400),
    "w": Decimal(604_800),
    "wk": Decimal(604_800),
}
_MAX_SECONDS = Decimal(999_999_999 * 86_400)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def invalid_number(key: str, raw: str) -> SearchError:
    return SearchError(
        f"{key}: Invalid number: {raw}. Expected number then optional k, m, or b suffix "
        "(e.g. 500k)."
    )


def could_not_parse(key: str, reason: str) -> SearchError:
    return SearchError(f"Could not parse value for `{key}`. Detail: {reason}")


def number(text: str, key: str, raw: str) -> Decimal:
    """`-?digits[.digits][k|m|b]` (any case suffix); `raw` is what the error message shows."""
    found = _NUMBER.fullmatch(text)
    if found:
        return Decimal(found.group(1)) * _SUFFIX[found.group(2).lower()]
    duration = _DURATION.fullmatch(text)
    if duration:
        raise SearchError(f"{duration.group(2)} is not a valid number suffix, must be k, m or b")
    if text.lower() in ("true", "false"):
        raise SearchError("Invalid number")
    raise invalid_number(key, raw)


def seconds(text: str, key: str, raw: str) -> Decimal:
    """A duration in seconds: `digits[.digits]unit`, or a bare number meaning seconds."""
    found = _DURATION.fullmatch(text)
    if not found:
        if text.lower() in ("true", "false"):
            raise SearchError("Invalid number")
        if not _NUMBER.fullmatch(text):
            raise invalid_number(key, raw)
        return number(text, key, raw)
    value, unit = found.groups()
    result = Decimal(value) * _SECONDS[unit]
    if result > _MAX_SECONDS:
        raise SearchError(
            f"{value}{unit} is too large of a value, the maximum value is 999999999 days"
        )
    return result


def uuid_hex(text: str, key: str) -> str:
    """32 lower-case hex digits from a UUID written with or without dashes."""
    if not _UUID.fullmatch(text):
        raise could_not_parse(key, "Failed to parse uuid.")
    return text.replace("-", "").lower()


def ipv4(text: str, key: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise could_not_parse(key, "Invalid IPv4") from None


def boolean(text: str, key: str) -> bool:
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise SearchError(
            f"{key}: Invalid boolean: {text}. Expected true, 1, false, or 0."
        ) from None


def is_wildcard(text: str) -> bool:
    """A `*` not escaped by a backslash (an even run of backslashes before it)."""
    return _WILDCARD.search(text) is not None


def exact(text: str) -> str:
    """The literal value of a non-wildcard text: `\\*` is a star, other backslashes stay."""
    return text.replace("\\*", "*")


def like_pattern(text: str) -> str:
    """A wildcard text as an ILIKE pattern (escape `\\`): `*` any run, `\\X` a literal X."""
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "*":
            out.append("%")
            continue
        if char == "\\":
            char = next(chars, "\\")
        out.append("\\" + char if char in "%_\\" else char)
    return "".join(out)


def contains_pattern(text: str) -> str:
    """Free text as a case-insensitive substring pattern; its `*` stay wildcards."""
    return "%" + like_pattern(text) + "%"
