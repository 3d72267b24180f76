"""Retention: replays that started before a cutoff are removed physically, everywhere.

A replay expires when it started before the cutoff (`--retention-days`, default 90
as Sentry). Its rows go from every table (segments, clicks, links, the archive marker, the
summary base and tier, the tag index) and its recording blobs from the blob store; vacuum
then deletes the rewritten files once no reader can still need them. A month all of whose
rows are older than the cutoff is dropped as a whole partition (a log-only commit); other
months are rewritten by a key merge that keeps ids out of the Delta log.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
from deltalake import DeltaTable
from sqlglot import exp

from replaystore.fields.schema import REPLAY_KEY
from replaystore.fields.sql import DIALECT
from replaystore.storage import selector_counts
from replaystore.storage.delete import purge_blobs
from replaystore.storage.layout import ALL_TABLES, RAW_TABLES
from replaystore.storage.properties import writer_properties
from replaystore.storage.store import SCAN_CONFIG
from replaystore.storage.tables import COMMIT, merge_predicate, retry_on_conflict
from replaystore.storage.views import register_views

if TYPE_CHECKING:
    from replaystore.storage.store import Store

# The column each table's age is judged by (summary rows: when the replay started).
AGE_COLUMN = {t: "timestamp" for t in RAW_TABLES} | {
    "recordings": "written_at",
    "replays": "started_at",
    "replays_recent": "started_at",
    "tags": "started_at",
}


def expire(store: Store, cutoff: datetime) -> int:
    """Remove every replay that started before `cutoff`; returns how many were removed."""
    with store.lock.hold():
        store.refresh()
        files = {t: store.latest_files(t) for t in ALL_TABLES}
    tables = {
        t: DeltaTable(store.layout.table_uri(t), storage_options=store.storage_options)
        for t in ALL_TABLES
    }
    con = store.duckdb(SCAN_CONFIG)
    try:
        register_views(con, files)
        keys = _expired_keys(con, cutoff)
        # The ranking's counts lose the purged clicks (storage/selector_counts.py).
        purged = selector_counts.stored_clicks(con, keys)
        purged_counts = selector_counts.counts(con, [(purged, -1)])
    finally:
        con.close()
    if not keys:
        return 0
    source = pa.table(
        {
            "project_id": pa.array([k[0] for k in keys], pa.int64()),
            "replay_id": pa.array([k[1] for k in keys], pa.string()),
        }
    )
    for table, dt in tables.items():
        # The blob purge below removes the index rows; counts are taken off, not removed.
        if table not in ("recordings", selector_counts.TABLE):
            _remove(dt, table, source, cutoff)
    with store.lock.hold():
        store.refresh()
        purge = purge_blobs(store, set(keys), store.now())
        selector_counts.record(store, purged_counts)
        store.publish()
    store.blobs.remove_packs(purge.packs)
    return len(keys)


def _expired_keys(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> list[tuple[int, str]]:
    """Replays with any row older than the cutoff: they all started before it."""
    older = exp.Literal.string(cutoff.isoformat())
    parts = [
        exp.select(*REPLAY_KEY)
        .from_(view)
        .where(exp.LT(this=exp.column(AGE_COLUMN.get(view, "started_at")), expression=older))
        for view in ("segments", "clicks", "links", "replays")
    ]
    union = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=True)
    rows = con.sql(union.sql(dialect=DIALECT)).fetchall()
    return sorted({(int(p), str(r)) for p, r in rows})


def _remove(dt: DeltaTable, table: str, keys: pa.Table, cutoff: datetime) -> None:
    dt.update_incremental()
    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return
    months = actions.column("partition.month").to_pylist()
    newest = _stat(actions, f"max.{AGE_COLUMN[table]}")
    oldest = _stat(actions, f"min.{AGE_COLUMN[table]}")
    all_old: dict[str, bool] = {}  # month -> every file's rows older than the cutoff
    some_old: set[str] = set()  # months with a file that may hold a row older than it
    for month, new, old in zip(months, newest, oldest, strict=True):
        all_old[month] = all_old.get(month, True) and new is not None and new < cutoff
        if old is None or old < cutoff:
            some_old.add(month)
    props = writer_properties(table)
    for month, dropped in sorted(all_old.items()):
        if dropped:
            whole = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month)).sql()
            retry_on_conflict(
                lambda p=whole: dt.delete(p, writer_properties=props, commit_properties=COMMIT)
            )
    # Only months that may hold an old row: the current months (where ingest appends) are
    # never read, so the merge does not race ingest there.
    rest = sorted(m for m in some_old if not all_old[m])
    if not rest:
        return

    def run() -> None:
        dt.merge(
            keys,
            merge_predicate(rest, REPLAY_KEY),
            source_alias="s",
            target_alias="t",
            writer_properties=props,
            commit_properties=COMMIT,
        ).when_matched_delete().execute()

    retry_on_conflict(run)


def _stat(actions: pa.Table, column: str) -> list[datetime | None]:
    """A per-file statistic of the add actions (None where the log has none)."""
    if column not in actions.column_names:
        return [None] * actions.num_rows
    return actions.column(column).to_pylist()
