"""Summary rows -> response objects: every attribute, nesting, nulls, archived shape."""

from __future__ import annotations

from datetime import UTC, datetime

from replaystore.fields.shape import RESPONSE_FIELDS, replay_object

ROW = {
    "project_id": 42,
    "replay_id": "a" * 32,
    "started_at": datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC),
    "finished_at": datetime(2026, 1, 1, 10, 9, 36, 500, tzinfo=UTC),
    "duration": 576,
    "count_segments": 2,
    "count_urls": 1,
    "urls": ["https://x.test/"],
    "count_errors": 1,
    "count_warnings": 0,
    "count_infos": 0,
    "error_ids": ["b" * 32],
    "warning_ids": [],
    "info_ids": [],
    "trace_ids": [],
    "count_dead_clicks": 1,
    "count_rage_clicks": 0,
    "activity": 4,
    "is_archived": False,
    "environment": "production",
    "releases": ["1.0"],
    "dist": None,
    "platform": "javascript",
    "replay_type": "session",
    "user_id": "",
    "user_name": None,
    "user_email": "a@b.test",
    "user_ip": "10.0.0.1",
    "browser_name": "Chrome",
    "device_model": "iPhone11",
    "tags": [{"key": "k", "value": "v1"}, {"key": "k", "value": "v2"}],
    "clicks": [{"tag": "button", "id": "", "class": ["btn"], "is_dead": True, "is_rage": False}],
}

EXPECTED_KEYS = {
    "activity", "browser", "clicks", "count_dead_clicks", "count_errors", "count_infos",
    "count_rage_clicks", "count_segments", "count_urls", "count_warnings", "device", "dist",
    "duration", "environment", "error_ids", "finished_at", "has_viewed", "id", "info_ids",
    "is_archived", "os", "platform", "project_id", "releases", "replay_type", "sdk",
    "started_at", "tags", "trace_ids", "urls", "user", "warning_ids",
}  # fmt: skip


def test_every_attribute() -> None:
    body = replay_object(ROW)
    assert set(body) == EXPECTED_KEYS == RESPONSE_FIELDS
    assert body["project_id"] == "42"
    assert body["finished_at"] == "2026-01-01T10:09:36.000500+00:00"
    assert body["started_at"] == "2026-01-01T10:00:00.000000+00:00"
    assert body["device"] == {"brand": None, "family": None, "model_id": "iPhone11", "name": None}
    assert body["user"]["id"] is None
    assert body["user"]["display_name"] == "a@b.test"
    assert body["user"]["ip"] == "10.0.0.1"
    assert set(body["user"]["geo"]) == {"city", "country_code", "region", "subdivision"}
    assert body["tags"] == {"k": ["v1", "v2"]}
    assert body["clicks"][0]["click.tag"] == "button"
    assert body["clicks"][0]["click.id"] is None
    assert body["clicks"][0]["click.classes"] == ["btn"]
    assert body["is_archived"] is False and body["has_viewed"] is False


def test_fields_restrict_top_level_keys() -> None:
    body = replay_object(ROW, ["id", "user"])
    assert set(body) == {"id", "user"}
    assert set(body["user"]) == {"id", "username", "email", "ip", "display_name", "geo"}


def test_archived_shape() -> None:
    body = replay_object(ROW | {"is_archived": True})
    assert set(body) == EXPECTED_KEYS - {"replay_type"}
    assert body["is_archived"] is True
    assert body["tags"] == {}
    assert body["user"]["display_name"] == "Archived Replay"
    assert body["urls"] is None and body["count_segments"] is None
    assert body["error_ids"] == [] and body["releases"] == [] and body["clicks"] == []
    assert replay_object(ROW | {"is_archived": True}, ["replay_type"]) == {"replay_type": None}
