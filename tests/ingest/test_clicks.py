"""Click rows from rrweb breadcrumbs: dead/rage rules, field caps, dedup."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from replaystore.ingest import EnvelopeInput, build_batch
from replaystore.ingest.clicks import classify, extract_clicks
from tests.ingest.builders import (
    REPLAY_ID,
    T0,
    breadcrumb,
    node,
    replay_envelope,
    replay_event,
    slow_click,
)

BUTTON = {"tagName": "button", "id": 1}


def _slow(**data: Any) -> dict[str, Any]:
    return {
        "node": BUTTON,
        "endReason": "timeout",
        "timeAfterClickMs": 7000,
        "clickCount": 1,
    } | data


RULES: list[tuple[str, str, dict[str, Any], tuple[bool, bool] | None]] = [
    ("plain-click", "ui.click", {}, (False, False)),
    ("dead", "ui.slowClickDetected", _slow(), (True, False)),
    ("dead-four-clicks", "ui.slowClickDetected", _slow(clickCount=4), (True, False)),
    ("rage-five", "ui.slowClickDetected", _slow(clickCount=5), (True, True)),
    ("rage-six", "ui.slowClickDetected", _slow(clickCount=6), (True, True)),
    ("link", "ui.slowClickDetected", _slow(node={"tagName": "a"}), (True, False)),
    ("input", "ui.slowClickDetected", _slow(node={"tagName": "input"}), (True, False)),
    ("div-is-slow-only", "ui.slowClickDetected", _slow(node={"tagName": "div"}), None),
    ("upper-case-tag", "ui.slowClickDetected", _slow(node={"tagName": "BUTTON"}), None),
    ("mutation-ended", "ui.slowClickDetected", _slow(endReason="mutation"), None),
    ("under-7s", "ui.slowClickDetected", _slow(timeAfterClickMs=6999), None),
    ("over-7s", "ui.slowClickDetected", _slow(timeAfterClickMs=9000.5), (True, False)),
    ("no-time", "ui.slowClickDetected", _slow(timeAfterClickMs=None), None),
    (
        "lower-case-keys",
        "ui.slowClickDetected",
        {"node": BUTTON, "endReason": "timeout", "timeafterclickms": 7000, "clickcount": 5},
        (True, True),
    ),
    ("no-click-count", "ui.slowClickDetected", _slow(clickCount=None), (True, False)),
    ("multi-click", "ui.multiClick", {"clickCount": 9}, None),
    ("input-breadcrumb", "ui.input", {}, None),
    ("no-category", None, {}, None),
]


@pytest.mark.parametrize(
    ("category", "data", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_classify(category: str | None, data: dict[str, Any], expected: Any) -> None:
    assert classify(category, data) == expected


def test_row_fields_and_caps() -> None:
    attributes = {
        "id": "i" * 70,
        "class": "  a b  c d e f g h i j k l ",
        "role": "r" * 40,
        "alt": "alt",
        "aria-label": "label",
        "title": "t" * 65,
        "data-sentry-component": "Comp",
        "testId": "tid",
    }
    crumb = breadcrumb(
        "ui.click", T0, {**node(9, "b" * 40, **attributes), "textContent": "x" * 2000}
    )
    (row,) = extract_clicks([crumb], REPLAY_ID)
    assert row["id"] == "i" * 64
    assert row["class"] == ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
    assert row["role"] == "r" * 32
    assert row["tag"] == "b" * 32
    assert row["title"] == "t" * 64
    assert row["text"] == "x" * 1024
    assert (row["alt"], row["aria_label"], row["component_name"], row["testid"]) == (
        "alt",
        "label",
        "Comp",
        "tid",
    )
    assert row["node_id"] == 9
    assert row["timestamp"] == datetime.fromtimestamp(T0, UTC).replace(microsecond=164000)
    expected_hash = hashlib.md5(f"{REPLAY_ID}{int(T0)}9".encode()).hexdigest()
    assert row["event_hash"] == expected_hash


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"testId": "a", "data-testid": "b"}, "a"),
        ({"testId": "", "data-testid": "b"}, "b"),
        ({"data-test-id": "c"}, "c"),
        ({"testId": 5, "data-test-id": "c"}, "c"),
        ({}, ""),
    ],
    ids=["testId-first", "empty-skipped", "data-test-id", "non-string-skipped", "none"],
)
def test_testid_fallbacks(attributes: dict[str, Any], expected: str) -> None:
    (row,) = extract_clicks([breadcrumb("ui.click", T0, node(1, **attributes))], REPLAY_ID)
    assert row["testid"] == expected


@pytest.mark.parametrize(
    "crumb",
    [
        breadcrumb("ui.click", T0, None),
        breadcrumb("ui.click", T0, {"id": -1, "tagName": "button"}),
        breadcrumb("ui.click", T0, {"id": "4", "tagName": "button"}),
        breadcrumb("ui.click", T0, "node"),  # type: ignore[arg-type]
        {**breadcrumb("ui.click", T0, node()), "type": 3},
        {"type": 5, "data": {"tag": "performanceSpan", "payload": {"category": "ui.click"}}},
        {"type": 5, "data": {"tag": "breadcrumb", "payload": "x"}},
        "not-an-event",
    ],
    ids=[
        "no-node",
        "negative-node-id",
        "string-node-id",
        "node-not-object",
        "not-custom-event",
        "not-breadcrumb",
        "payload-not-object",
        "event-not-object",
    ],
)
def test_skipped(crumb: Any) -> None:
    assert extract_clicks([crumb], REPLAY_ID) == []


def test_at_most_twenty_per_segment() -> None:
    crumbs = [breadcrumb("ui.click", T0 + i, node(i)) for i in range(25)]
    rows = extract_clicks(crumbs, REPLAY_ID)
    assert [r["node_id"] for r in rows] == list(range(20))


def _batch(*segments: list[dict]) -> list[dict[str, Any]]:
    envelopes = [
        EnvelopeInput(
            replay_envelope(replay_event(segment_id=i, environment="prod"), events),
            project_id=1,
            name=f"s{i}",
        )
        for i, events in enumerate(segments)
    ]
    return sorted(build_batch(envelopes).clicks.to_pylist(), key=lambda r: r["node_id"])


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        ([[breadcrumb("ui.click", T0, node(4))], [slow_click(T0, node(4))]], [(4, 1, True, False)]),
        (
            [[slow_click(T0, node(4), 6)], [breadcrumb("ui.click", T0, node(4))]],
            [(4, 0, True, True)],
        ),
        ([[slow_click(T0, node(4))], [slow_click(T0, node(4), 5)]], [(4, 1, True, True)]),
        (
            [[breadcrumb("ui.click", T0, node(4)), breadcrumb("ui.click", T0 + 0.5, node(4))]],
            [(4, 0, False, False)],
        ),
        (
            [[breadcrumb("ui.click", T0, node(4)), breadcrumb("ui.click", T0 + 1, node(4))]],
            [(4, 0, False, False), (4, 0, False, False)],
        ),
        (
            [[breadcrumb("ui.click", T0, node(4)), slow_click(T0, node(5))]],
            [(4, 0, False, False), (5, 0, True, False)],
        ),
    ],
    ids=[
        "dead-after-plain-wins",
        "plain-after-rage-loses",
        "rage-beats-dead",
        "same-second-collapses",
        "next-second-is-new",
        "other-node-is-new",
    ],
)
def test_dedup_in_batch(segments: list[list[dict]], expected: list[tuple]) -> None:
    rows = _batch(*segments)
    assert [(r["node_id"], r["segment_id"], r["is_dead"], r["is_rage"]) for r in rows] == expected
    assert {r["environment"] for r in rows} == {"prod"}
