"""Rows of the `replays` summary -> Sentry's replay objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from replaystore.fields.clicks import RESPONSE_KEYS
from replaystore.fields.schema import (
    CLICK_FIELDS,
    FETCHED_COLUMNS,
    PAYLOAD_COLUMNS,
    TAG_FIELDS,
)

Row = Mapping[str, Any]
ARCHIVED_USER = "Archived Replay"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with an explicit `+00:00` offset and six fractional digits."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _text(value: Any) -> str | None:
    """Stored strings use "" for "no value"; the API shows null."""
    return value if value else None


def _ids(value: Any) -> list[str]:
    return list(value or [])


def _tags(row: Row) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for pair in row.get("tags") or []:
        values = tags.setdefault(pair["key"], [])
        if pair["value"] not in values:
            values.append(pair["value"])
    return tags


def _user(row: Row) -> dict[str, Any]:
    user_id, username = _text(row.get("user_id")), _text(row.get("user_name"))
    email, ip = _text(row.get("user_email")), _text(row.get("user_ip"))
    return {
        "id": user_id,
        "username": username,
        "email": email,
        "ip": ip,
        "display_name": username or email or user_id or ip,
        "geo": {
            "city": _text(row.get("user_geo_city")),
            "country_code": _text(row.get("user_geo_country_code")),
            "region": _text(row.get("user_geo_region")),
            "subdivision": _text(row.get("user_geo_subdivision")),
        },
    }


def _clicks(row: Row) -> list[dict[str, Any]]:
    # One object per click row: Sentry's zip of independently filtered columns mixes clicks
    # up; the per-row form keeps every value with its own element.
    return [
        {key: (click.get(src) or None) for key, src in RESPONSE_KEYS}
        for click in row.get("clicks") or []
    ]


def _pair(row: Row, prefix: str, *names: str) -> dict[str, str | None]:
    return {name: _text(row.get(f"{prefix}_{name}")) for name in names}


def _device(row: Row) -> dict[str, str | None]:
    return {
        "brand": _text(row.get("device_brand")),
        "family": _text(row.get("device_family")),
        "model_id": _text(row.get("device_model")),
        "name": _text(row.get("device_name")),
    }


# Every response attribute once: name -> how to compute it from a summary row.
FIELDS: dict[str, Callable[[Row], Any]] = {
    "activity": lambda r: r.get("activity"),
    "browser": lambda r: _pair(r, "browser", "name", "version"),
    "clicks": _clicks,
    "count_dead_clicks": lambda r: r.get("count_dead_clicks"),
    "count_errors": lambda r: r.get("count_errors"),
    "count_infos": lambda r: r.get("count_infos"),
    "count_rage_clicks": lambda r: r.get("count_rage_clicks"),
    "count_segments": lambda r: r.get("count_segments"),
    "count_urls": lambda r: r.get("count_urls"),
    "count_warnings": lambda r: r.get("count_warnings"),
    "device": _device,
    "dist": lambda r: _text(r.get("dist")),
    "duration": lambda r: r.get("duration"),
    "environment": lambda r: _text(r.get("environment")),
    "error_ids": lambda r: _ids(r.get("error_ids")),
    "finished_at": lambda r: iso(r.get("finished_at")),
    "has_viewed": lambda r: bool(r.get("has_viewed")),
    "id": lambda r: r["replay_id"],
    "info_ids": lambda r: _ids(r.get("info_ids")),
    "is_archived": lambda r: False,
    "os": lambda r: _pair(r, "os", "name", "version"),
    "platform": lambda r: r.get("platform") or "",
    "project_id": lambda r: str(r["project_id"]),
    "releases": lambda r: _ids(r.get("releases")),
    "replay_type": lambda r: _text(r.get("replay_type")),
    "sdk": lambda r: _pair(r, "sdk", "name", "version"),
    "started_at": lambda r: iso(r.get("started_at")),
    "tags": _tags,
    "trace_ids": lambda r: _ids(r.get("trace_ids")),
    "urls": lambda r: _ids(r.get("urls")),
    "user": _user,
    "warning_ids": lambda r: _ids(r.get("warning_ids")),
}
RESPONSE_FIELDS: frozenset[str] = frozenset(FIELDS)


def _nulls(*names: str) -> dict[str, None]:
    return dict.fromkeys(names)


def _archived(row: Row) -> dict[str, Any]:
    """Sentry's archived-replay shape, with `tags` an object like a live replay's."""
    return {
        "activity": None,
        "browser": _nulls("name", "version"),
        "clicks": [],
        "count_dead_clicks": None,
        "count_errors": None,
        "count_infos": None,
        "count_rage_clicks": None,
        "count_segments": None,
        "count_urls": None,
        "count_warnings": None,
        "device": _nulls("brand", "family", "model_id", "name"),
        "dist": None,
        "duration": None,
        "environment": None,
        "error_ids": [],
        "finished_at": None,
        "has_viewed": False,
        "id": row["replay_id"],
        "info_ids": [],
        "is_archived": True,
        "os": _nulls("name", "version"),
        "platform": None,
        "project_id": str(row["project_id"]),
        "releases": [],
        "sdk": _nulls("name", "version"),
        "started_at": None,
        "tags": {},
        "trace_ids": [],
        "urls": None,
        "user": {
            "id": ARCHIVED_USER,
            "username": None,
            "email": None,
            "ip": None,
            "display_name": ARCHIVED_USER,
            "geo": _nulls("city", "country_code", "region", "subdivision"),
        },
        "warning_ids": [],
    }


def unpacked(fetched: Row) -> dict[str, Any]:
    """The summary row of a fetch of `FETCHED_COLUMNS`, its payload array unpacked."""
    row: dict[str, Any] = dict(zip(PAYLOAD_COLUMNS, orjson.loads(fetched["payload"]), strict=True))
    row["tags"] = [dict(zip(TAG_FIELDS, pair, strict=True)) for pair in row["tags"] or ()]
    row["clicks"] = [dict(zip(CLICK_FIELDS, c, strict=True)) for c in row["clicks"] or ()]
    row.update((name, fetched[name]) for name in FETCHED_COLUMNS if name != "payload")
    return row


def replay_object(row: Row, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The response object of one summary row, restricted to `fields` when given."""
    if row.get("is_archived"):
        full = _archived(row)
        # Sentry: `replay_type` is absent from the archived shape unless asked for.
        return {name: full.get(name) for name in fields} if fields else full
    names: Iterable[str] = fields or FIELDS
    return {name: FIELDS[name](row) for name in names}
