"""`Store.delete_replay`: purge a replay's recordings and personal data, keep an archive marker."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields.schema import REPLAY_KEY
from replaystore.fields.sql import DIALECT
from replaystore.storage import selector_counts
from replaystore.storage.blobs import Purge
from replaystore.storage.core import StoreCore
from replaystore.storage.layout import RAW_TABLES
from replaystore.storage.properties import partition_month
from replaystore.storage.summary import compute_summaries
from replaystore.storage.tables import append, delete_rows

PURGED = ("segments", "clicks", "links", "viewers")


def delete_replay(
    store: StoreCore, project_id: int, replay_id: str, *, now: datetime | None = None
) -> bool:
    """False when the replay is already archived; else purge it and return True."""
    with store.writing():
        when = now or store.now()
        updated = store.now()  # the newest summary wins, whatever `now` the caller passed
        key = [(project_id, replay_id)]
        con = store.scan_connection(_all_files(store))
        if _rows_of(con, "archives", project_id, replay_id, ("month",)):
            return False
        before = compute_summaries(con, key, updated)
        purged_counts = selector_counts.counts(con, [(selector_counts.stored_clicks(con, key), -1)])
        months = {
            table: sorted({m for (m,) in _rows_of(con, table, project_id, replay_id, ("month",))})
            for table in PURGED
        }
        started_at = before.column("started_at")[0].as_py() if before.num_rows else None
        append(store.tables["archives"], _marker(project_id, replay_id, when, started_at))
        archived = _archived_summary(store, key, updated) if before.num_rows else None
        purge = purge_blobs(store, {(project_id, replay_id)}, updated)
        for table in PURGED:
            rows = pa.table(
                {
                    "project_id": pa.array([project_id] * len(months[table]), pa.int64()),
                    "replay_id": pa.array([replay_id] * len(months[table]), pa.string()),
                    "month": pa.array(months[table], pa.string()),
                }
            )
            delete_rows(store.tables[table], rows, REPLAY_KEY)
        if archived is not None:
            append(store.tables["replays_recent"], archived)
        selector_counts.record(store, purged_counts)
        store.publish()
        store.blobs.remove_packs(purge.packs)
    return True


def purge_blobs(store: StoreCore, replays: set[tuple[int, str]], when: datetime) -> Purge:
    """Rewrite the packs holding these replays' recordings without them, commit the moved
    bodies' index rows and delete the replays' rows (call with the lock held; publish, then
    `store.blobs.remove_packs(result.packs)`)."""
    index = store.tables["recordings"]
    purge = store.blobs.rewrite_without(replays, store.latest_files("recordings"), when)
    append(index, purge.moved)
    months = sorted({p["month"] for p in index.partitions()})
    keys = sorted(replays)
    rows = pa.table(
        {
            "project_id": pa.array([k[0] for k in keys for _ in months], pa.int64()),
            "replay_id": pa.array([k[1] for k in keys for _ in months], pa.string()),
            "month": pa.array([m for _ in keys for m in months], pa.string()),
        }
    )
    delete_rows(index, rows, REPLAY_KEY)
    store.blobs.purge_legacy(replays)
    return purge


def _all_files(store: StoreCore) -> dict[str, list[str]]:
    # Raw tables only: the summary is computed from them, and the summary tables may be
    # under a background fold (storage/maintenance.py) meanwhile.
    return {t: store.latest_files(t) for t in RAW_TABLES}


def _rows_of(
    con: duckdb.DuckDBPyConnection,
    table: str,
    project_id: int,
    replay_id: str,
    columns: tuple[str, ...],
) -> list[tuple]:
    query = (
        exp.select(*columns)
        .distinct()
        .from_(table)
        .where(
            exp.and_(
                exp.EQ(this=exp.column("replay_id"), expression=exp.Literal.string(replay_id)),
                exp.EQ(this=exp.column("project_id"), expression=exp.convert(project_id)),
            )
        )
    )
    return con.sql(query.sql(dialect=DIALECT)).fetchall()


def _marker(
    project_id: int, replay_id: str, when: datetime, started_at: datetime | None
) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "project_id": project_id,
                "replay_id": replay_id,
                "timestamp": when,
                "started_at": started_at,
                "month": partition_month(when),
            }
        ],
        schema=schema.ARCHIVES,
    )


def _archived_summary(store: StoreCore, key: list[tuple[int, str]], when: datetime) -> pa.Table:
    """The summary recomputed with the new archive marker: the archived shape."""
    con = store.scan_connection(_all_files(store))
    return compute_summaries(con, key, when)
