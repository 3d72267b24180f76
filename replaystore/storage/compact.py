"""`Store.compact`: fold the recent tier into the sorted base, compact raw files, vacuum."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, WriterProperties, write_deltalake
from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields.schema import REPLAY_KEY
from replaystore.fields.sql import DIALECT
from replaystore.storage import selector_counts
from replaystore.storage.core import StoreCore
from replaystore.storage.layout import RAW_TABLES
from replaystore.storage.properties import (
    DEFAULT_RETENTION,
    LOG_CLEANUP_OFF,
    SUMMARY_WRITER_PROPERTIES,
    TARGET_FILE_BYTES,
    WRITER_PROPERTIES,
)
from replaystore.storage.tables import COMMIT, retry_on_conflict
from replaystore.storage.tag_index import index_rows
from replaystore.storage.views import newest_recent, not_superseded

# The base is sorted newest first, not by project first: the default list (every project
# of an org, `-started_at`) then finds its page in the first row group of the month instead
# of one group per project, the top-N's dynamic filter skips every later group by its
# started_at stats, and the page fetch decodes one group's wide columns (benchmarks, medium:
# browse_7d 173 -> 105 ms for the time sort alone).
SORT_KEY = (("started_at", True), ("replay_id", True))  # (column, descending)


def sort_key() -> list[exp.Ordered]:
    """ORDER BY of a base month as compaction and the bulk loader write it."""
    return [exp.Ordered(this=exp.column(c), desc=desc) for c, desc in SORT_KEY]


# Rows sorted by one DuckDB sort. Summary rows are ~4 KB (payload, clicks, urls); sorting a
# whole month of them at once (medium: 340k rows) exceeds the 1 GB scan limit and DuckDB
# fails to spill ("failed to pin block"), so a month is sorted one started_at slice at a time.
SLICE_ROWS = 65_536


@dataclass(frozen=True)
class CompactResult:
    folded_rows: int = 0  # recent-tier rows folded into the base
    months_rewritten: tuple[str, ...] = ()
    files_compacted: dict[str, int] = field(default_factory=dict)  # raw table -> files removed
    files_vacuumed: int = 0
    temp_files_swept: int = 0


def compact(store: StoreCore, *, retention: timedelta = DEFAULT_RETENTION) -> CompactResult:
    """Everything maintenance does, at once and under the writer lock (the CLI's `compact`)."""
    with store.writing():
        folded, months = _fold_recent(store)
        compacted = {t: compact_raw(store.tables[t]) for t in RAW_TABLES}
        selector_counts.consolidate(store)  # the ranking's signed counts, summed per group
        store.publish()
        vacuumed = sum(vacuum_table(dt, retention) for dt in store.tables.values())
        # vacuum commits change no data; publish them so recovery never sees them as unpublished
        store.publish()
        swept = sweep(store, retention)
    return CompactResult(
        folded_rows=folded,
        months_rewritten=tuple(months),
        files_compacted=compacted,
        files_vacuumed=vacuumed,
        temp_files_swept=swept,
    )


def _fold_recent(store: StoreCore) -> tuple[int, list[str]]:
    """Rewrite each base month the recent tier touches, sorted, then empty the tier."""
    files = {t: [] for t in store.tables}
    files["replays"] = store.latest_files("replays")
    files["replays_recent"] = store.latest_files("replays_recent")
    if not files["replays_recent"]:
        return 0, []
    con = store.scan_connection(files)
    folded = tier_rows(con)
    months = sorted(fold_plan(con))
    for month in months:
        write_sorted_month(
            store.tables["replays"], store.tables["tags"], con, month_rows(month), month
        )
    recent = store.tables["replays_recent"]
    # Only this writer (holding the lock) appends to the tier, so everything in it was folded.
    retry_on_conflict(
        lambda: recent.delete(writer_properties=SUMMARY_WRITER_PROPERTIES, commit_properties=COMMIT)
    )
    return folded, months


def tier_rows(con: duckdb.DuckDBPyConnection) -> int:
    count = exp.select(exp.Count(this=exp.Star())).from_("replays_recent")
    return int(con.execute(count.sql(dialect=DIALECT)).fetchall()[0][0])


def fold_plan(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """Per base month the tier touches, the oldest `started_at` a fold must rewrite from:
    of the tier's rows in the month and of the base rows they supersede there. Base rows of
    the month older than that stay where they are."""
    recent = exp.select("month", "started_at").from_("replays_recent")
    superseded = (
        exp.select(exp.column("month", table="b"), exp.column("started_at", table="b"))
        .from_(exp.to_table("replays_base").as_("b"))
        .join(exp.to_table("replays_recent").as_("r"), using=list(REPLAY_KEY), join_type="semi")
    )
    query = (
        exp.select("month", exp.Min(this=exp.column("started_at")))
        .from_(
            exp.Subquery(
                this=exp.union(recent, superseded, distinct=False),
                alias=exp.TableAlias(this=exp.to_identifier("m")),
            )
        )
        .where(exp.Not(this=exp.Is(this=exp.column("month"), expression=exp.null())))
        .group_by("month")
    )
    return {m: since for m, since in con.sql(query.sql(dialect=DIALECT)).fetchall()}


def _since(since: datetime | None, table: str | None = None) -> exp.Expression:
    """`started_at >= since` (true without a bound), a literal delta-rs parses as well."""
    if since is None:
        return exp.true()
    started = exp.column("started_at", table=table)
    return exp.GTE(this=started, expression=exp.Literal.string(since.isoformat()))


def month_rows(month: str, since: datetime | None = None) -> exp.Select:
    """The folded content of one base month (or of its rows from `since` on): base rows of
    replays the tier does not hold, plus the tier's newest rows (tier rows are always newer
    than base rows)."""
    in_month = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month))
    kept_base = not_superseded("replays_base").where(
        exp.and_(
            exp.EQ(this=exp.column("month", table="b"), expression=exp.Literal.string(month)),
            _since(since, "b"),
        )
    )
    recent = exp.select(exp.Star()).from_(newest_recent().subquery("n")).where(in_month)
    both = exp.union(kept_base, recent, distinct=False, by_name=True)
    return exp.select(exp.Star()).from_(
        exp.Subquery(this=both, alias=exp.TableAlias(this=exp.to_identifier("f")))
    )


def sorted_slices(con: duckdb.DuckDBPyConnection, rows: exp.Select) -> Iterator[pa.Table]:
    """`rows` (summary rows) in the base's sort order, as tables of ~SLICE_ROWS rows by
    started_at (newest first), each cast to the summary schema."""
    source = exp.Subquery(this=rows, alias=exp.TableAlias(this=exp.to_identifier("rows")))
    started = exp.column("started_at")
    starts = exp.select(started).from_(source.copy()).order_by(exp.Ordered(this=started, desc=True))
    column = con.sql(starts.sql(dialect=DIALECT)).to_arrow_table().column(0)
    # Upper bounds of the slices, newest first: slice i holds bounds[i+1] < started_at <= bounds[i]
    # (the last one also any null started_at, which the summary never writes).
    bounds = sorted({v for v in column[::SLICE_ROWS].to_pylist() if v is not None}, reverse=True)
    for i, upper in enumerate(bounds or [None]):
        condition: exp.Expression = exp.true()
        if upper is not None:
            condition = exp.LTE(this=started.copy(), expression=exp.convert(upper))
        if i + 1 < len(bounds):
            lower = exp.GT(this=started.copy(), expression=exp.convert(bounds[i + 1]))
            condition = exp.and_(lower, condition)
        else:
            condition = exp.or_(condition, exp.Is(this=started.copy(), expression=exp.null()))
        query = exp.select(exp.Star()).from_(source.copy()).where(condition).order_by(*sort_key())
        table = con.sql(query.sql(dialect=DIALECT)).to_arrow_table()
        if table.num_rows:
            yield table.select(schema.REPLAYS.names).cast(schema.REPLAYS).combine_chunks()


def write_sorted_month(
    base: DeltaTable,
    index: DeltaTable,
    con: duckdb.DuckDBPyConnection,
    rows: exp.Select,
    month: str,
    since: datetime | None = None,
) -> None:
    """Replace base month `month` (its rows from `since` on, when given) with `rows`, sorted
    newest first, one file per slice, and the tag index's month with their index rows.

    One write per slice because delta-rs keeps row order within a record batch but not
    across the batches of one write (it shuffled 65k-row batches of a month); each commit
    stays unpublished until the caller publishes the manifest, so readers see the month whole.
    """
    predicate = exp.and_(
        exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month)), _since(since)
    ).sql()

    tables = ((base, SUMMARY_WRITER_PROPERTIES), (index, WRITER_PROPERTIES))

    def run() -> None:
        first = True
        slices = sorted_slices(con, rows)
        # DuckDB sorts the next slice while delta-rs encodes this one (both release the GIL).
        with ThreadPoolExecutor(max_workers=1) as pool:
            upcoming = pool.submit(next, slices, None)
            while (table := upcoming.result()) is not None:
                upcoming = pool.submit(next, slices, None)
                for (dt, props), data in zip(tables, (table, index_rows(table)), strict=True):
                    write_deltalake(
                        dt,
                        data,
                        mode="overwrite" if first else "append",
                        predicate=predicate if first else None,
                        writer_properties=props,
                        commit_properties=COMMIT,
                    )
                first = False
        if first:
            for dt, props in tables:
                dt.delete(predicate, writer_properties=props, commit_properties=COMMIT)

    retry_on_conflict(run)


def compact_raw(
    dt: DeltaTable,
    *,
    target: int = TARGET_FILE_BYTES,
    month: str | None = None,
    writer_properties: WriterProperties = WRITER_PROPERTIES,
) -> int:
    """Bin-pack the table's files smaller than `target` (of one month when given); returns
    how many files were replaced."""
    partitions = [("month", "=", month)] if month is not None else None
    metrics = retry_on_conflict(
        lambda: dt.optimize.compact(
            partition_filters=partitions,
            target_size=target,
            writer_properties=writer_properties,
            commit_properties=COMMIT,
        )
    )
    return int(metrics.get("numFilesRemoved", 0))


def retention_property(retention: timedelta) -> str:
    return f"interval {max(int(retention.total_seconds()), 0)} seconds"


def set_file_retention(dt: DeltaTable, retention: timedelta) -> None:
    """Make the table keep removed files, and its log, for `retention` (table properties,
    which vacuum and the log cleanup after each checkpoint both follow)."""
    wanted = retention_property(retention)
    keys = ("delta.deletedFileRetentionDuration", "delta.logRetentionDuration")
    properties = {**dict.fromkeys(keys, wanted), **LOG_CLEANUP_OFF}
    config = dt.metadata().configuration
    if any(config.get(k) != v for k, v in properties.items()):
        retry_on_conflict(
            lambda: dt.alter.set_table_properties(properties, commit_properties=COMMIT)
        )


def vacuum_table(dt: DeltaTable, retention: timedelta) -> int:
    """Delete files the table removed more than `retention` ago, and orphans of killed writes
    that old; returns how many were deleted."""
    set_file_retention(dt, retention)
    if not dt.vacuum(dry_run=True, full=True):
        return 0  # a vacuum always commits twice: only run it when it deletes something
    removed = dt.vacuum(dry_run=False, full=True, commit_properties=COMMIT)
    return len(removed)


def sweep(store: StoreCore, retention: timedelta) -> int:
    """Delete temp files of killed writers (`*.parquet#N`, blob and manifest temps), which no
    vacuum removes (they are in no Delta log), once they are older than the retention."""
    if not store.layout.is_local:
        return 0
    cutoff = time.time() - retention.total_seconds()
    swept = 0
    for directory, _, names in os.walk(store.layout.root):
        for name in names:
            if ".parquet#" in name or ".tmp-" in name or name.endswith(".json#1"):
                path = os.path.join(directory, name)
                try:
                    if os.path.getmtime(path) <= cutoff:
                        os.remove(path)
                        swept += 1
                except FileNotFoundError:
                    continue
    return swept
