"""Raw rows with defaults, and DuckDB connections holding them plus their summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from replaystore.fields import schema
from replaystore.storage.summary import compute_summaries

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

_DEFAULTS: dict[pa.DataType, Any] = {
    pa.string(): "",
    schema.STR_LIST: [],
    pa.int64(): 0,
    pa.int32(): 0,
    pa.bool_(): False,
    pa.float64(): -1.0,
}


def _row(table: pa.Schema, values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(table.names)
    assert not unknown, f"not columns: {unknown}"
    row = {f.name: _DEFAULTS.get(f.type) for f in table}
    row.update(month="2024-05", timestamp=T0, project_id=1)
    row.update(values)
    return row


def segment(replay_id: str, segment_id: int = 0, **values: Any) -> dict[str, Any]:
    values.setdefault("timestamp", T0 + timedelta(seconds=5 * segment_id))
    values.setdefault("replay_start_timestamp", T0)
    values.setdefault("received", values["timestamp"])
    return _row(schema.SEGMENTS, {"replay_id": replay_id, "segment_id": segment_id, **values})


def click(replay_id: str, event_hash: str, **values: Any) -> dict[str, Any]:
    return _row(schema.CLICKS, {"replay_id": replay_id, "event_hash": event_hash, **values})


def link(replay_id: str, event_id: str, level: str = "error", **values: Any) -> dict[str, Any]:
    return _row(
        schema.LINKS, {"replay_id": replay_id, "event_id": event_id, "level": level, **values}
    )


def view(replay_id: str, viewer_id: int, **values: Any) -> dict[str, Any]:
    return _row(schema.VIEWERS, {"replay_id": replay_id, "viewer_id": viewer_id, **values})


def raw_connection(
    segments: list[dict[str, Any]],
    clicks: list[dict[str, Any]] = (),  # type: ignore[assignment]
    links: list[dict[str, Any]] = (),  # type: ignore[assignment]
    viewers: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> duckdb.DuckDBPyConnection:
    """Tables segments, clicks, links, archives of the rows, and `replays` summarised from
    them by the storage engineer's summary query."""
    con = duckdb.connect()
    tables = {
        "segments": pa.Table.from_pylist(segments, schema=schema.SEGMENTS),
        "clicks": pa.Table.from_pylist(list(clicks), schema=schema.CLICKS),
        "links": pa.Table.from_pylist(list(links), schema=schema.LINKS),
        "archives": schema.ARCHIVES.empty_table(),
        "viewers": pa.Table.from_pylist(list(viewers), schema=schema.VIEWERS),
    }
    for name, table in tables.items():
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
    keys = sorted({(s["project_id"], s["replay_id"]) for s in segments})
    summaries = compute_summaries(con, keys, T0)
    con.register("replays_arrow", summaries)
    con.execute("CREATE TABLE replays AS SELECT * FROM replays_arrow")
    con.unregister("replays_arrow")
    return con
