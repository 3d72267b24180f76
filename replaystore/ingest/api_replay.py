"""A `replay` line (docs/jsonl-format.md): a replay as the Replays API shows it -> raw rows.

The object is not turned back into an SDK event (no user agent parsing, no Relay caps): each
value is stored where the summary reads it from, so the summary computed over these rows
shows the object again (`import` keeps what the source answers).

* one `segments` row per entry of the line's `segments` (`received` = its `date_added`, the
  source's `dateAdded`; `timestamp` = the replay's `finished_at`); the row with the lowest
  segment id carries the replay's values (`replay_start_timestamp` = `started_at`, urls,
  trace ids, environment, user, browser, ...), and release *i* goes on row *i*;
* `error_ids` on that row too, and one `links` row per id of `warning_ids` and `info_ids`
  with its level (a line without segments makes its `error_ids` links of level `error`);
* one `clicks` row per entry of the line's `clicks`.

The summary's derived attributes (`duration`, `count_*`, `activity`) are computed from these
rows by the same rules the source applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from replaystore.fields import schema
from replaystore.ingest import values as v
from replaystore.ingest.clicks import event_hash
from replaystore.ingest.replay_event import segment_id as read_segment_id
from replaystore.storage.properties import partition_month

# Link level of each id list of the response.
ID_LEVELS = (("error_ids", "error"), ("warning_ids", "warning"), ("info_ids", "info"))
# Context columns -> (response object, key inside it).
CONTEXT_SOURCES: dict[str, tuple[str, ...]] = {
    "user_id": ("user", "id"),
    "user_name": ("user", "username"),
    "user_email": ("user", "email"),
    "user_ip": ("user", "ip"),
    "user_geo_city": ("user", "geo", "city"),
    "user_geo_country_code": ("user", "geo", "country_code"),
    "user_geo_region": ("user", "geo", "region"),
    "user_geo_subdivision": ("user", "geo", "subdivision"),
    "browser_name": ("browser", "name"),
    "browser_version": ("browser", "version"),
    "os_name": ("os", "name"),
    "os_version": ("os", "version"),
    "device_name": ("device", "name"),
    "device_brand": ("device", "brand"),
    "device_family": ("device", "family"),
    "device_model": ("device", "model_id"),
    "sdk_name": ("sdk", "name"),
    "sdk_version": ("sdk", "version"),
}
# Click row columns given as text in a line's `clicks` ("" when absent).
CLICK_TEXT = ("tag", "id", "text", "role", "alt", "testid", "aria_label", "title")
CLICK_TEXT_ALL = (*CLICK_TEXT, "component_name")


def _nested(replay: Mapping[str, Any], path: tuple[str, ...]) -> str:
    value: Any = replay
    for depth, key in enumerate(path):
        if value is None:
            return ""
        value = v.obj(value, ".".join(path[:depth]) or "replay").get(key)
    return v.text(value, ".".join(path))


def _strings(value: Any, field: str) -> list[str]:
    items = v.array(value, field)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise v.fail(f"{field}[{index}]", f"expected a string, got {v.describe(item)}")
    return list(items)


def _tags(value: Any) -> tuple[list[str], list[str]]:
    keys: list[str] = []
    values: list[str] = []
    for key, listed in v.obj(value, "tags").items():
        for item in _strings(listed, f"tags.{key[:40]}"):
            keys.append(key)
            values.append(item)
    return keys, values


def _segment_ids(value: Any) -> list[tuple[int, datetime | None]]:
    found: dict[int, datetime | None] = {}
    for index, entry in enumerate(v.array(value, "segments")):
        entry = v.obj(entry, f"segments[{index}]")
        if "segment_id" not in entry:
            raise v.fail(f"segments[{index}].segment_id", "required")
        number = read_segment_id(entry["segment_id"], f"segments[{index}].segment_id")
        found[number] = v.optional_timestamp(entry.get("date_added"), f"segments[{index}]")
    return sorted(found.items())


def _bare_segment(
    project_id: int, replay_id: str, number: int, moment: datetime, received: datetime
) -> dict[str, Any]:
    row: dict[str, Any] = {name: "" for name in schema.SEGMENTS.names}
    row.update(
        project_id=project_id,
        replay_id=replay_id,
        segment_id=number,
        timestamp=moment,
        replay_start_timestamp=None,
        received=received,
        urls=[],
        error_ids=[],
        trace_ids=[],
        tags_key=[],
        tags_value=[],
        error_sample_rate=-1.0,
        session_sample_rate=-1.0,
        month=partition_month(moment),
    )
    del row["has_blob"]  # the batch decides
    return row


def _click(entry: Any, index: int, project_id: int, replay_id: str) -> dict[str, Any]:
    where = f"clicks[{index}]"
    entry = v.obj(entry, where)
    node_id = entry.get("node_id")
    if isinstance(node_id, bool) or not isinstance(node_id, int) or not 0 <= node_id < 2**63:
        raise v.fail(f"{where}.node_id", f"expected an integer >= 0, got {v.describe(node_id)}")
    moment = v.timestamp(entry.get("timestamp"), f"{where}.timestamp")
    flags = {}
    for flag in ("is_dead", "is_rage"):
        value = entry.get(flag, False)
        if not isinstance(value, bool):
            raise v.fail(f"{where}.{flag}", f"expected true or false, got {v.describe(value)}")
        flags[flag] = value
    row: dict[str, Any] = {
        "project_id": project_id,
        "replay_id": replay_id,
        "event_hash": event_hash(replay_id, moment.timestamp(), node_id),
        "timestamp": moment,
        "segment_id": read_segment_id(entry.get("segment_id", 0), f"{where}.segment_id"),
        "node_id": node_id,
        "class": _strings(entry.get("class") or [], f"{where}.class"),
        **{name: v.text(entry.get(name), f"{where}.{name}") for name in CLICK_TEXT_ALL},
        **flags,
        "month": partition_month(moment),
    }
    return row


class ReplayRows:
    """The rows of one `replay` line: segments, links and clicks (see the module doc)."""

    def __init__(self, line: Mapping[str, Any], project_id: int, received: datetime) -> None:
        replay = v.obj(line.get("replay"), "replay")
        if replay.get("is_archived"):
            raise v.fail("replay.is_archived", "an archived replay has nothing to store")
        self.project_id = project_id
        self.replay_id = v.uuid_hex(replay.get("id"), "replay.id")
        given = replay.get("project_id")
        if given is not None and str(given) != str(project_id):
            raise v.fail("replay.project_id", f"{given!r} is not the line's project {project_id}")
        started = v.timestamp(replay.get("started_at"), "replay.started_at")
        finished = v.timestamp(replay.get("finished_at"), "replay.finished_at")
        self.segments = self._segments(line, replay, project_id, started, finished, received)
        # Error ids ride on the first segment row (an id may be a warning link's too, as at
        # the source); only a line without segments makes them links of their own.
        levels = ID_LEVELS if not self.segments else ID_LEVELS[1:]
        self.links = [
            {
                "project_id": project_id,
                "replay_id": self.replay_id,
                "event_id": v.uuid_hex(event_id, f"replay.{field}[{i}]"),
                "level": level,
                "transaction": "",  # the API does not show it
                "timestamp": started,
                "month": partition_month(started),
            }
            for field, level in levels
            for i, event_id in enumerate(v.array(replay.get(field), f"replay.{field}"))
        ]
        self.clicks = [
            _click(entry, i, project_id, self.replay_id)
            for i, entry in enumerate(v.array(line.get("clicks"), "clicks"))
        ]

    def _segments(
        self,
        line: Mapping[str, Any],
        replay: Mapping[str, Any],
        project_id: int,
        started: datetime,
        finished: datetime,
        received: datetime,
    ) -> list[dict[str, Any]]:
        listed = _segment_ids(line.get("segments"))
        releases = _strings(replay.get("releases"), "replay.releases")
        rows = [
            _bare_segment(project_id, self.replay_id, number, finished, added or received)
            for number, added in listed
        ]
        for row, release in zip(rows, releases, strict=False):
            row["release"] = release
        if rows:
            first = rows[0]
            tag_keys, tag_values = _tags(replay.get("tags"))
            first.update(
                replay_start_timestamp=started,
                replay_type=v.text(replay.get("replay_type"), "replay.replay_type"),
                platform=v.text(replay.get("platform"), "replay.platform"),
                environment=v.text(replay.get("environment"), "replay.environment"),
                dist=v.text(replay.get("dist"), "replay.dist"),
                urls=_strings(replay.get("urls"), "replay.urls"),
                error_ids=[
                    v.uuid_hex(e, f"replay.error_ids[{i}]")
                    for i, e in enumerate(v.array(replay.get("error_ids"), "replay.error_ids"))
                ],
                trace_ids=[
                    v.uuid_hex(t, f"replay.trace_ids[{i}]")
                    for i, t in enumerate(v.array(replay.get("trace_ids"), "replay.trace_ids"))
                ],
                tags_key=tag_keys,
                tags_value=tag_values,
                **{col: _nested(replay, path) for col, path in CONTEXT_SOURCES.items()},
            )
        return rows
