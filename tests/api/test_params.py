"""Parameter parsers: every accepted form and every error text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from replaystore.errors import ApiError
from replaystore.params import parse_fields, parse_page, parse_window
from replaystore.query.common import Page, Window

NOW = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "start", "end", "expected"),
    [
        (None, None, None, Window(NOW - timedelta(days=7), NOW)),
        ("90", None, None, Window(NOW - timedelta(seconds=90), NOW)),
        ("2h", None, None, Window(NOW - timedelta(hours=2), NOW)),
        ("3w", None, None, Window(NOW - timedelta(weeks=3), NOW)),
        ("99999999999w", None, None, Window(datetime(1970, 1, 1, tzinfo=UTC), NOW)),
        ("1d", "2020-01-01", "2020-01-02", Window(NOW - timedelta(days=1), NOW)),
        (
            None,
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00+02:00",
            Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 22, tzinfo=UTC)),
        ),
        (
            None,
            "1767225600",
            "2026-01-02T00:00:00",
            Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)),
        ),
    ],
)
def test_window(period, start, end, expected) -> None:
    assert parse_window(period, start, end, default_days=7, now=NOW) == expected


@pytest.mark.parametrize(
    ("period", "start", "end", "detail"),
    [
        ("7x", None, None, "Invalid date range: Invalid statsPeriod: '7x'"),
        ("-1d", None, None, "Invalid date range: Invalid statsPeriod: '-1d'"),
        (None, "2026-01-01", None, "Invalid date range: start and end are both required"),
        (None, None, "2026-01-01", "Invalid date range: start and end are both required"),
        (None, "nope", "2026-01-01", "Invalid date range: nope is not a valid ISO8601 date query"),
        (None, "2026-01-02", "2026-01-01", "Invalid date range: start must be before end"),
        (None, "2026-01-02", "2026-01-02", "Invalid date range: start must be before end"),
        (None, "999999999999", "2026-01-02", None),
    ],
)
def test_window_errors(period, start, end, detail) -> None:
    with pytest.raises(ApiError) as caught:
        parse_window(period, start, end, default_days=7, now=NOW)
    assert caught.value.status == 400
    if detail:
        assert caught.value.detail == detail


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, Page(0, 10)),
        ({"limit": "5", "offset": "3"}, Page(3, 5)),
        ({"per_page": "7"}, Page(0, 7)),
        ({"cursor": "0:20:0"}, Page(20, 100)),
        ({"per_page": "5", "cursor": "0:10:1", "offset": "99"}, Page(10, 5)),
        ({"limit": "100"}, Page(0, 100)),
    ],
)
def test_page(args, expected) -> None:
    full = {"limit": None, "offset": None, "per_page": None, "cursor": None} | args
    assert parse_page(**full, default_limit=10) == expected


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        ({"per_page": "101"}, "Invalid per_page value. Cannot exceed 100."),
        ({"per_page": "0"}, "Invalid per_page value. Must be at least 1."),
        ({"per_page": "x"}, "Invalid per_page parameter."),
        ({"limit": "101"}, "Invalid limit value. Cannot exceed 100."),
        ({"limit": "-1"}, "Invalid limit value. Must be at least 1."),
        ({"offset": "-1"}, "Invalid offset value. Cannot be negative."),
        ({"offset": "1.5"}, "Invalid offset parameter."),
        ({"cursor": "abc"}, "Invalid cursor parameter."),
        ({"cursor": "0:-5:0"}, "Invalid cursor parameter."),
    ],
)
def test_page_errors(args, detail) -> None:
    full = {"limit": None, "offset": None, "per_page": None, "cursor": None} | args
    with pytest.raises(ApiError, match="^" + detail.replace(".", r"\.") + "$"):
        parse_page(**full, default_limit=10)


def test_fields() -> None:
    assert parse_fields([]) is None
    assert parse_fields(["id", "id", "user"]) == ["id", "user"]
    with pytest.raises(ApiError, match=re.escape('"user.id" is not a valid choice.')):
        parse_fields(["id", "user.id"])
