"""Replay event normalisation as Relay does it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from replaystore.errors import IngestError
from replaystore.ingest.origin import Origin
from replaystore.ingest.replay_event import normalise_replay_event
from tests.ingest.builders import REPLAY_ID, UA, replay_event

RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ORIGIN = Origin(project_id=7, received=RECEIVED, client_ip="203.0.113.9", user_agent=None)
DASHED = "A1B2C3D4-E5F6-4789-A0B1-C2D3E4F5A6B7"
UUID2 = "00112233445566778899aabbccddeeff"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def row(origin: Origin = ORIGIN, **overrides: Any) -> dict[str, Any]:
    return normalise_replay_event(replay_event(**overrides), origin)


def _pick(result: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    return {key: result[key] for key in keys}


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("replay-id-dashes", {"replay_id": DASHED}, {"replay_id": REPLAY_ID}),
    ("replay-id-braces", {"replay_id": "{" + DASHED + "}"}, {"replay_id": REPLAY_ID}),
    ("platform-missing", {"platform": ...}, {"platform": "other"}),
    ("platform-invalid", {"platform": "brainfuck"}, {"platform": "other"}),
    ("platform-not-string", {"platform": 3}, {"platform": "other"}),
    ("platform-kept", {"platform": "python"}, {"platform": "python"}),
    (
        "ids-normalised",
        {"error_ids": [DASHED], "trace_ids": [UUID2.upper()]},
        {"error_ids": [REPLAY_ID], "trace_ids": [UUID2]},
    ),
    ("error-ids-capped", {"error_ids": [UUID2] * 150}, {"error_ids": [UUID2] * 100}),
    ("urls-capped", {"urls": ["u"] * 101}, {"urls": ["u"] * 100}),
    (
        "urls-byte-budget",
        {"urls": ["a" * 5000, "b" * 5000, "c"]},
        {"urls": ["a" * 5000, "b" * 3192]},
    ),
    (
        "strings-cut",
        {"environment": "e" * 70, "dist": "d" * 65},
        {"environment": "e" * 64, "dist": "d" * 64},
    ),
    ("release-cut", {"release": "r" * 300}, {"release": "r" * 200}),
    ("release-number", {"release": 12}, {"release": "12"}),
    ("replay-type-cut", {"replay_type": "t" * 99}, {"replay_type": "t" * 64}),
    (
        "timestamp-rfc3339",
        {"timestamp": "2026-11-26T07:30:57.013Z", "replay_start_timestamp": "2026-11-26T07:30:56Z"},
        {
            "timestamp": datetime(2026, 11, 26, 7, 30, 57, 13000, tzinfo=UTC),
            "replay_start_timestamp": datetime(2026, 11, 26, 7, 30, 56, tzinfo=UTC),
            "month": "2026-11",
        },
    ),
    (
        "timestamp-offset",
        {"timestamp": "2026-12-01T01:00:00+02:00"},
        {"timestamp": datetime(2026, 11, 30, 23, tzinfo=UTC), "month": "2026-11"},
    ),
    (
        "timestamp-integer",
        {"timestamp": 1767225600, "replay_start_timestamp": None},
        {
            "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
            "replay_start_timestamp": None,
            "month": "2026-01",
        },
    ),
    ("timestamp-missing", {"timestamp": ...}, {"timestamp": RECEIVED, "month": "2026-01"}),
    (
        "tags-object",
        {"tags": {"a": "1", "transaction": "/home", "n": 5, "z": None}},
        {"tags_key": ["a", "n", "z"], "tags_value": ["1", "5", ""], "title": "/home"},
    ),
    (
        "tags-pairs",
        {"tags": [["a", "1"], ["a", "2"], ["transaction", "/x"]]},
        {"tags_key": ["a", "a"], "tags_value": ["1", "2"], "title": "/x"},
    ),
    ("tags-null", {"tags": None}, {"tags_key": [], "tags_value": [], "title": ""}),
    ("user-numeric-id", {"user": {"id": 42}}, {"user_id": "42"}),
    (
        "user-fields",
        {"user": {"username": "ann", "email": "a@b.c", "geo": {"city": "Oslo"}}},
        {"user_name": "ann", "user_email": "a@b.c", "user_id": "", "user_geo_city": "Oslo"},
    ),
    (
        "sample-rates",
        {"contexts": {"replay": {"error_sample_rate": 1, "session_sample_rate": 0.5}}},
        {"error_sample_rate": 1.0, "session_sample_rate": 0.5},
    ),
    ("sample-rates-absent", {}, {"error_sample_rate": -1.0, "session_sample_rate": -1.0}),
    ("sdk", {}, {"sdk_name": "sentry.javascript.browser", "sdk_version": "11.12.0"}),
    ("unknown-keys-dropped", {"segment_names": [], "whatever": {"x": 1}}, {"segment_id": 0}),
]


@pytest.mark.parametrize(
    ("overrides", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_normalisation(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    assert _pick(row(**overrides), expected) == expected


IP_CASES: list[tuple[str, dict[str, Any], str | None, str]] = [
    # (id, event overrides, client ip, expected user_ip)
    ("auto-placeholder", {"user": {"ip_address": "{{auto}}"}}, "198.51.100.1", "198.51.100.1"),
    (
        "auto-placeholder-never",
        {"user": {"ip_address": "{{auto}}"}, "sdk": {"settings": {"infer_ip": "never"}}},
        "198.51.100.1",
        "",
    ),
    ("infer-auto", {"sdk": {"settings": {"infer_ip": "auto"}}}, "198.51.100.1", "198.51.100.1"),
    ("infer-never", {"sdk": {"settings": {"infer_ip": "never"}}}, "198.51.100.1", ""),
    (
        "never-keeps-given",
        {"user": {"ip_address": "192.0.2.5"}, "sdk": {"settings": {"infer_ip": "never"}}},
        "198.51.100.1",
        "192.0.2.5",
    ),
    ("legacy-javascript", {"sdk": {}}, "198.51.100.1", "198.51.100.1"),
    ("legacy-python", {"sdk": {}, "platform": "python"}, "198.51.100.1", ""),
    (
        "legacy-remote-addr",
        {"sdk": {}, "platform": "python", "request": {"env": {"REMOTE_ADDR": "192.0.2.7"}}},
        None,
        "192.0.2.7",
    ),
    ("given-wins", {"user": {"ip_address": "192.0.2.5"}}, "198.51.100.1", "192.0.2.5"),
    ("ipv6-not-shown", {"user": {"ip_address": "2001:db8::1"}}, None, ""),
    ("ipv6-client", {"sdk": {"settings": {"infer_ip": "auto"}}}, "2001:db8::1", ""),
    ("garbage-ip", {"user": {"ip_address": "not-an-ip"}}, None, ""),
    ("no-client-ip", {"sdk": {"settings": {"infer_ip": "auto"}}}, None, ""),
]


@pytest.mark.parametrize(
    ("overrides", "client_ip", "expected"), [c[1:] for c in IP_CASES], ids=[c[0] for c in IP_CASES]
)
def test_ip_address(overrides: dict[str, Any], client_ip: str | None, expected: str) -> None:
    origin = Origin(project_id=1, received=RECEIVED, client_ip=client_ip)
    assert row(origin, **overrides)["user_ip"] == expected


UA_KEYS = ("browser_name", "browser_version", "os_name", "os_version", "device_family")
UA_CASES: list[tuple[str, dict[str, Any], str | None, tuple[str, ...]]] = [
    ("headless-chrome", {}, None, ("Chrome", "156.0.0", "Linux", "", "")),
    (
        "firefox-windows",
        {"request": {"headers": {"user-agent": FIREFOX}}},
        None,
        ("Firefox", "120.0", "Windows", ">=10", ""),
    ),
    (
        "iphone",
        {"request": {"headers": [["User-Agent", IPHONE]]}},
        None,
        ("Mobile Safari", "17.0", "iOS", "17.0", "iPhone"),
    ),
    (
        "fallback-to-http-header",
        {"request": ...},
        FIREFOX,
        ("Firefox", "120.0", "Windows", ">=10", ""),
    ),
    ("event-header-wins", {}, FIREFOX, ("Chrome", "156.0.0", "Linux", "", "")),
    ("no-agent", {"request": ...}, None, ("", "", "", "", "")),
    ("unknown-agent", {"request": {"headers": {"User-Agent": "zzz"}}}, None, ("", "", "", "", "")),
    (
        "existing-browser-context",
        {"contexts": {"browser": {"name": "Edge", "version": "1"}}},
        None,
        ("Edge", "1", "Linux", "", ""),
    ),
    (
        "existing-os-context",
        {"contexts": {"os": {"name": "Plan 9"}}},
        None,
        ("Chrome", "156.0.0", "Plan 9", "", ""),
    ),
    (
        "existing-device-context",
        {"contexts": {"device": {"family": "Pixel", "brand": "Google"}}},
        None,
        ("Chrome", "156.0.0", "Linux", "", "Pixel"),
    ),
]


@pytest.mark.parametrize(
    ("overrides", "http_ua", "expected"), [c[1:] for c in UA_CASES], ids=[c[0] for c in UA_CASES]
)
def test_user_agent(overrides: dict[str, Any], http_ua: str | None, expected: tuple) -> None:
    origin = Origin(project_id=1, received=RECEIVED, user_agent=http_ua)
    result = row(origin, **overrides)
    assert tuple(result[key] for key in UA_KEYS) == expected


def test_iphone_device_brand_and_model() -> None:
    result = row(request={"headers": {"User-Agent": IPHONE}})
    assert (result["device_brand"], result["device_model"]) == ("Apple", "iPhone")


def test_capture_agent_is_the_one_in_the_fixture() -> None:
    assert "HeadlessChrome/156" in UA


BAD_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("replay-id-missing", {"replay_id": ...}, "replay_id", "required"),
    ("replay-id-not-uuid", {"replay_id": "xyz"}, "replay_id", "not a UUID"),
    ("replay-id-0x", {"replay_id": "0x" + "a" * 30}, "replay_id", "not a UUID"),
    ("replay-id-number", {"replay_id": 12}, "replay_id", "not a UUID"),
    ("event-id-bad", {"event_id": "nope"}, "event_id", "not a UUID"),
    ("segment-missing", {"segment_id": ...}, "segment_id", "required"),
    ("segment-negative", {"segment_id": -1}, "segment_id", "out of range"),
    ("segment-string", {"segment_id": "1"}, "segment_id", "expected an integer"),
    ("segment-float", {"segment_id": 1.0}, "segment_id", "expected an integer"),
    ("segment-bool", {"segment_id": True}, "segment_id", "expected an integer"),
    ("segment-huge", {"segment_id": 2**40}, "segment_id", "out of range"),
    ("error-id-bad", {"error_ids": [UUID2, "x"]}, "error_ids[1]", "not a UUID"),
    ("trace-ids-not-list", {"trace_ids": "abc"}, "trace_ids", "expected a list"),
    ("urls-not-list", {"urls": "http://x"}, "urls", "expected a list"),
    ("url-not-string", {"urls": [1]}, "urls[0]", "expected a string"),
    ("timestamp-bad-string", {"timestamp": "yesterday"}, "timestamp", "RFC 3339"),
    ("timestamp-bool", {"timestamp": True}, "timestamp", "expected a number"),
    ("timestamp-negative", {"timestamp": -5}, "timestamp", "out of range"),
    ("timestamp-huge", {"timestamp": 1e300}, "timestamp", "out of range"),
    ("start-bad", {"replay_start_timestamp": []}, "replay_start_timestamp", "expected a number"),
    ("environment-number", {"environment": 5}, "environment", "expected a string"),
    ("user-not-object", {"user": "bob"}, "user", "expected an object"),
    ("user-email-number", {"user": {"email": 5}}, "user.email", "expected a string"),
    ("ip-number", {"user": {"ip_address": 5}}, "user.ip_address", "expected a string"),
    ("tags-string", {"tags": "a:b"}, "tags", "expected a list"),
    ("tag-not-pair", {"tags": [["a"]]}, "tags[0]", "expected a [key, value] pair"),
    ("tag-key-number", {"tags": [[1, "a"]]}, "tags", "tag key must be a string"),
    ("tag-value-object", {"tags": {"k": {"x": 1}}}, "tags.k", "expected a string"),
    ("contexts-list", {"contexts": []}, "contexts", "expected an object"),
    ("browser-context-string", {"contexts": {"browser": "x"}}, "contexts.browser", "object"),
    (
        "sample-rate-string",
        {"contexts": {"replay": {"error_sample_rate": "1"}}},
        "contexts.replay.error_sample_rate",
        "expected a number",
    ),
    ("headers-string", {"request": {"headers": "ua"}}, "request.headers", "object or a list"),
    ("sdk-name-number", {"sdk": {"name": 1}}, "sdk.name", "expected a string"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "words"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_invalid(overrides: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(IngestError) as caught:
        row(**overrides)
    assert caught.value.field == field
    assert f"field {field!r}" in str(caught.value)
    assert words in str(caught.value)
