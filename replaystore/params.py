"""HTTP query parameters of the API (the api layer): periods, dates, paging, fields; a bad one
raises ApiError with Sentry's error text (a 400)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from replaystore.errors import ApiError
from replaystore.fields.shape import RESPONSE_FIELDS
from replaystore.query.common import MAX_PAGE, Page, Window

LIST_DAYS = 7  # default window of the list and tag routes
RETENTION_DAYS = 90  # default window of the single-replay routes
LIST_LIMIT = 10  # the seed's default page of the list; every other route pages by MAX_PAGE
_PERIOD = re.compile(r"^(\d{1,12})([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _range_error(message: str) -> ApiError:
    return ApiError(f"Invalid date range: {message}")


def parse_stats_period(value: str) -> timedelta:
    """`<digits>[s|m|h|d|w]`, a bare number meaning seconds."""
    match = _PERIOD.match(value)
    if not match:
        raise _range_error(f"Invalid statsPeriod: '{value}'")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    return timedelta(seconds=min(seconds, 10**11))


def parse_datetime(value: str) -> datetime:
    """ISO 8601 (naive means UTC) or Unix seconds; else Sentry's 400."""
    try:
        if re.fullmatch(r"-?\d{1,12}(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise _range_error(f"{value} is not a valid ISO8601 date query") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_window(
    stats_period: str | None,
    start: str | None,
    end: str | None,
    *,
    default_days: int,
    now: datetime | None = None,
) -> Window:
    """The `[start, end)` a request asks for; `statsPeriod` wins over `start`/`end`."""
    now = now or datetime.now(UTC)
    if stats_period:
        period = parse_stats_period(stats_period)
        return Window(_EPOCH if period >= now - _EPOCH else now - period, now)
    if start or end:
        if not (start and end):
            raise _range_error("start and end are both required")
        window = Window(parse_datetime(start), parse_datetime(end))
        if window.start >= window.end:
            raise _range_error("start must be before end")
        return window
    return Window(now - timedelta(days=default_days), now)


def _int(value: str, name: str) -> int:
    if not re.fullmatch(r"-?\d{1,9}", value.strip()):
        raise ApiError(f"Invalid {name} parameter.")
    return int(value)


def _size(value: str, name: str) -> int:
    size = _int(value, name)
    if size > MAX_PAGE:
        raise ApiError(f"Invalid {name} value. Cannot exceed {MAX_PAGE}.")
    if size < 1:
        raise ApiError(f"Invalid {name} value. Must be at least 1.")
    return size


def parse_cursor(value: str) -> int:
    """The offset of a Sentry cursor `<value>:<offset>:<is_prev>`."""
    parts = value.split(":")
    if len(parts) != 3 or not all(re.fullmatch(r"-?\d{1,9}", p) for p in parts):
        raise ApiError("Invalid cursor parameter.")
    offset = int(parts[1])
    if offset < 0:
        raise ApiError("Invalid cursor parameter.")
    return offset


def parse_page(
    *,
    limit: str | None,
    offset: str | None,
    per_page: str | None,
    cursor: str | None,
    default_limit: int,
) -> Page:
    """Seed paging (`limit`/`offset`) and Sentry's (`per_page`/`cursor`, default 100)."""
    sentry_style = per_page is not None or cursor is not None
    if per_page is not None:
        size = _size(per_page, "per_page")
    elif limit is not None:
        size = _size(limit, "limit")
    else:
        size = MAX_PAGE if sentry_style else default_limit
    if cursor is not None:
        start = parse_cursor(cursor)
    elif offset is not None:
        start = _int(offset, "offset")
        if start < 0:
            raise ApiError("Invalid offset value. Cannot be negative.")
    else:
        start = 0
    return Page(start, size)


def parse_fields(values: Sequence[str]) -> list[str] | None:
    """Requested response attributes: None for all, 400 for any unknown name."""
    if not values:
        return None
    for value in values:
        if value not in RESPONSE_FIELDS:
            raise ApiError(f'"{value}" is not a valid choice.')
    return list(dict.fromkeys(values))
