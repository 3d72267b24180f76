"""Hand-made raw rows conforming to the stored schemas, for storage tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from replaystore.fields import schema
from replaystore.storage.batch import Blob, WriteBatch

T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def rid(n: int) -> str:
    """A replay id: 32 lower-case hex digits."""
    return f"{n:032x}"


def month_of(ts: datetime) -> str:
    return ts.strftime("%Y-%m")


def _defaults(table_schema: pa.Schema) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in table_schema:
        if pa.types.is_string(f.type):
            values[f.name] = ""
        elif pa.types.is_list(f.type):
            values[f.name] = []
        elif pa.types.is_boolean(f.type):
            values[f.name] = False
        elif pa.types.is_floating(f.type):
            values[f.name] = -1.0
        else:
            values[f.name] = None
    return values


def segment(project_id: int, replay_id: str, segment_id: int, **kw: Any) -> dict[str, Any]:
    row = _defaults(schema.SEGMENTS)
    ts = kw.pop("timestamp", T0 + timedelta(seconds=5 * segment_id))
    start = kw.pop("replay_start_timestamp", T0 if segment_id == 0 else None)
    row.update(
        project_id=project_id,
        replay_id=replay_id,
        segment_id=segment_id,
        timestamp=ts,
        replay_start_timestamp=start,
        received=ts,
        platform="javascript",
        month=month_of(ts),
    )
    row.update(kw)
    return row


def click(project_id: int, replay_id: str, event_hash: str, **kw: Any) -> dict[str, Any]:
    row = _defaults(schema.CLICKS)
    ts = kw.pop("timestamp", T0 + timedelta(seconds=1))
    row.update(
        project_id=project_id,
        replay_id=replay_id,
        event_hash=event_hash,
        timestamp=ts,
        segment_id=0,
        node_id=1,
        tag="button",
        month=month_of(ts),
    )
    row.update(kw)
    return row


def link(project_id: int, replay_id: str, event_id: str, level: str, **kw: Any) -> dict[str, Any]:
    ts = kw.pop("timestamp", T0 + timedelta(seconds=2))
    return {
        "project_id": project_id,
        "replay_id": replay_id,
        "event_id": event_id,
        "level": level,
        "timestamp": ts,
        "month": month_of(ts),
    }


def table(table_schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=table_schema)


def batch(
    segments: list[dict[str, Any]] = (),  # type: ignore[assignment]
    clicks: list[dict[str, Any]] = (),  # type: ignore[assignment]
    links: list[dict[str, Any]] = (),  # type: ignore[assignment]
    blobs: list[Blob] = (),  # type: ignore[assignment]
) -> WriteBatch:
    return WriteBatch(
        segments=table(schema.SEGMENTS, list(segments)),
        clicks=table(schema.CLICKS, list(clicks)),
        links=table(schema.LINKS, list(links)),
        blobs=list(blobs),
    )
