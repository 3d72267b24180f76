"""The list's `X-Data-Source` value: Sentry's choice between its two strategies."""

from __future__ import annotations

import pytest

from replaystore.query.data_source import AGGREGATED, SCALAR, data_source


@pytest.mark.parametrize(
    ("query", "sort"),
    [
        ("", ""),
        ("", "-started_at"),
        ("", "startedAt"),
        ("browser.name:Chrome", "-started_at"),
        ("browser.name:Chrome os.name:Linux release:1.0 dist:x sdk.name:s", "started_at"),
        ("!browser.name:Chrome", ""),  # negated static fields stay row-level
        ("browser.name:Chr*", ""),  # wildcards on static fields too
        ("url:https://acme.test/", ""),  # one positive varying field
        ("user.email:a@acme.test browser.name:Chrome", "-browser.name"),
        ("environment:production OR platform:javascript", "user.email"),
        ("plan:free", ""),  # a custom tag counts as the varying field
        ("url:https://acme.test/ plan:free", ""),  # Sentry checks no varying field before a tag
        ("error_id:[00000000000000000000000000000001, 00000000000000000000000000000002]", ""),
        ("!has:user.email", ""),
        ("id:00000000000000000000000000000001", "os.name"),
    ],
)
def test_scalar(query: str, sort: str) -> None:
    assert data_source(query, sort) == SCALAR


@pytest.mark.parametrize(
    ("query", "sort"),
    [
        ("", "-count_errors"),  # aggregate sorts
        ("", "duration"),
        ("", "finished_at"),
        ("count_errors:>0", ""),  # aggregate fields
        ("duration:>5s", ""),
        ("click.tag:button", ""),
        ("is_archived:false", ""),
        ("url:a user.email:b", ""),  # two varying fields
        ("plan:free url:a", ""),  # a tag, then a varying field
        ("!url:https://acme.test/", ""),  # a negated varying field
        ("url:[a, b] !user.id:x", ""),
        ("!user.id:[x]", ""),
        ("url:*acme*", ""),  # a wildcard on a varying field
        ("has:user.email", ""),  # Sentry's `user.email:!=""`
        ("(browser.name:a OR count_errors:1)", ""),  # inside parentheses too
    ],
)
def test_aggregated(query: str, sort: str) -> None:
    assert data_source(query, sort) == AGGREGATED


@pytest.mark.parametrize(
    ("preferred", "expected"),
    [("aggregated", AGGREGATED), ("AGGREGATED", AGGREGATED), ("scalar", SCALAR), ("x", SCALAR)],
)
def test_preferred_source(preferred: str, expected: str) -> None:
    assert data_source("", "-started_at", preferred) == expected


def test_scalar_preference_cannot_force_row_level_for_aggregate_terms() -> None:
    assert data_source("count_errors:>1", "", "scalar") == AGGREGATED
