"""Typed readers for JSON values: UUIDs, timestamps, strings, with Relay's coercions.

Every reader raises `IngestError(field=...)` naming the field it was reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from replaystore.errors import IngestError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Arrow `timestamp[us]` and Python datetimes both end at year 9999.
MAX_SECONDS = 253402300799.0

_UUID = re.compile(
    r"\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?",
    re.IGNORECASE,
)


def fail(field: str, reason: str) -> IngestError:
    return IngestError(f"field {field!r}: {reason}", field=field)


def describe(value: Any) -> str:
    """A short, bounded rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def uuid_hex(value: Any, field: str) -> str:
    """A UUID with or without dashes (or braces) as 32 lower-case hex digits."""
    match = _UUID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise fail(field, f"not a UUID: {describe(value)}")
    return "".join(match.groups()).lower()


def optional_uuid_hex(value: Any, field: str) -> str | None:
    return None if value is None else uuid_hex(value, field)


def seconds_to_datetime(seconds: float, field: str) -> datetime:
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS:
        raise fail(field, f"timestamp out of range: {describe(seconds)}")
    return EPOCH + timedelta(microseconds=round(seconds * 1_000_000))


def timestamp(value: Any, field: str) -> datetime:
    """A timestamp given as (float) seconds since the epoch or an RFC 3339 string, in UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return seconds_to_datetime(float(value), field)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise fail(field, f"not an RFC 3339 timestamp: {describe(value)}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise fail(field, f"timestamp out of range: {describe(value)}") from None
    raise fail(field, f"expected a number or an RFC 3339 string, got {describe(value)}")


def optional_timestamp(value: Any, field: str) -> datetime | None:
    return None if value is None else timestamp(value, field)


def aware_utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters (Relay trims over-long strings rather than rejecting them)."""
    return text[:limit]


def text(value: Any, field: str, limit: int | None = None) -> str:
    """A string field: absent/null is "", anything but a string is an error."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fail(field, f"expected a string, got {describe(value)}")
    return value if limit is None else cut(value, limit)


def lenient_text(value: Any, field: str, limit: int | None = None) -> str:
    """Like `text`, but numbers and booleans become their text (Relay's LenientString)."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise fail(field, f"expected a string, got {describe(value)}")
        value = str(int(value)) if value.is_integer() else repr(value)
    return text(value, field, limit)


def obj(value: Any, field: str) -> Mapping[str, Any]:
    """An object field: absent/null is {}, anything but an object is an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(field, f"expected an object, got {describe(value)}")
    return value


def array(value: Any, field: str) -> list[Any]:
    """A list field: absent/null is [], anything but a list is an error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(field, f"expected a list, got {describe(value)}")
    return value


def number(value: Any, field: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(field, f"expected a number, got {describe(value)}")
    return float(value)
