"""Where a stored replay lies in time, from its stored summary, and the rows that stay near it.

A write reads and rewrites only some month partitions. Which ones must come from what is
stored, not from the timestamps a client sends: otherwise a segment dated in another month is
deduplicated and summarised against that month alone, and replaces the replay's summary
(issue 18). `stored_extents` reads the newest summary row of each touched replay;
`months_of` are the partitions that can hold its rows; `drop_far_rows` refuses incoming rows
of a stored replay that lie more than `SEGMENT_WINDOW` from its stored start, so every row of
a replay stays inside those months.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import Counter
from sqlglot import exp

from replaystore.fields.sql import DIALECT
from replaystore.metrics import REGISTRY
from replaystore.storage.batch import Blob
from replaystore.storage.core import StoreCore
from replaystore.storage.layout import SUMMARY_TABLES
from replaystore.storage.properties import in_utc, partition_month

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A replay lasts at most an hour; an hour more for buffered and re-sent segments.
SEGMENT_WINDOW = timedelta(hours=2)

Key = tuple[int, str]
Extent = tuple[datetime, datetime]  # stored started_at, finished_at

DROPPED = Counter(
    "replaystore_ingest_dropped_rows_total",
    "Incoming rows not stored because they lie too far from their replay's stored start.",
    ["table"],
    registry=REGISTRY,
)


def stored_extents(store: StoreCore, keys: set[Key]) -> dict[Key, Extent]:
    """started_at and finished_at of the touched replays that have a stored summary."""
    if not keys:
        return {}
    con = store.scan_connection({t: store.latest_files(t) for t in SUMMARY_TABLES})
    ids = sorted({k[1] for k in keys})
    query = (
        exp.select("project_id", "replay_id", _epoch_us("started_at"), _epoch_us("finished_at"))
        .from_("replays")
        .where(exp.In(this=exp.column("replay_id"), expressions=[exp.convert(i) for i in ids]))
        .where(exp.column("started_at").is_(exp.null()).not_())
    )
    rows = con.execute(query.sql(dialect=DIALECT)).fetchall()
    found: dict[Key, Extent] = {}
    for project_id, replay_id, started, finished in rows:
        key = (int(project_id), str(replay_id))
        if key in keys:
            found[key] = (_moment(started), _moment(finished if finished is not None else started))
    return found


def _epoch_us(column: str) -> exp.Expression:
    return exp.Anonymous(this="epoch_us", expressions=[exp.column(column)])


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(micros))


def months_of(extents: dict[Key, Extent]) -> set[str]:
    """Every month partition that can hold a row of these stored replays."""
    months: set[str] = set()
    for started, finished in extents.values():
        moment = in_utc(started - SEGMENT_WINDOW).replace(day=1, hour=0, minute=0, second=0)
        last = finished + SEGMENT_WINDOW
        while moment <= last:
            months.add(partition_month(moment))
            moment = (moment + timedelta(days=32)).replace(day=1)
    return months


def _near(rows: pa.Table, extents: dict[Key, Extent]) -> pa.Array:
    """A mask: True for rows of a replay without a stored summary or near its stored start."""
    keep = []
    columns = [rows.column(c).to_pylist() for c in ("project_id", "replay_id", "timestamp")]
    starts = (
        rows.column("replay_start_timestamp").to_pylist()
        if "replay_start_timestamp" in rows.column_names
        else [None] * rows.num_rows
    )
    for project_id, replay_id, moment, start in zip(*columns, starts, strict=True):
        extent = extents.get((project_id, replay_id))
        if extent is None:
            keep.append(True)
            continue
        low, high = extent[0] - SEGMENT_WINDOW, extent[0] + SEGMENT_WINDOW
        keep.append(all(t is None or low <= t <= high for t in (moment, start)))
    return pa.array(keep, pa.bool_())


def drop_far_rows(
    incoming: dict[str, pa.Table], blobs: list[Blob], extents: dict[Key, Extent]
) -> tuple[dict[str, pa.Table], list[Blob]]:
    """The incoming rows (and segment blobs) without those far from their replay's start."""
    if not extents:
        return incoming, blobs
    kept: dict[str, pa.Table] = {}
    dropped_segments: set[tuple[int, str, int]] = set()
    for table, rows in incoming.items():
        mask = _near(rows, extents)
        far = rows.filter(pc.invert(mask))
        if far.num_rows:
            DROPPED.labels(table).inc(far.num_rows)
            log.warning(
                "ingest: %d %s row(s) of replay(s) %s dropped: more than %s from the stored start",
                far.num_rows,
                table,
                ", ".join(sorted(set(far.column("replay_id").to_pylist()))[:5]),
                SEGMENT_WINDOW,
            )
            if table == "segments":
                dropped_segments.update(
                    zip(
                        far.column("project_id").to_pylist(),
                        far.column("replay_id").to_pylist(),
                        far.column("segment_id").to_pylist(),
                        strict=True,
                    )
                )
        kept[table] = rows.filter(mask)
    if "clicks" in kept and dropped_segments:
        # The clicks of a refused segment go with it.
        clicks = kept["clicks"]
        triples = zip(
            clicks.column("project_id").to_pylist(),
            clicks.column("replay_id").to_pylist(),
            clicks.column("segment_id").to_pylist(),
            strict=True,
        )
        kept["clicks"] = clicks.filter(
            pa.array([t not in dropped_segments for t in triples], pa.bool_())
        )
    kept_blobs = [
        b for b in blobs if (b.project_id, b.replay_id, b.segment_id) not in dropped_segments
    ]
    return kept, kept_blobs
