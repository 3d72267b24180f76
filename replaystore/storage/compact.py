"""`Store.compact`: fold the recent tier into the sorted base, compact raw files, vacuum."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from sqlglot import exp

from replaystore.storage import schema
from replaystore.storage.layout import RAW_TABLES
from replaystore.storage.properties import (
    DEFAULT_RETENTION,
    SUMMARY_WRITER_PROPERTIES,
    TARGET_FILE_BYTES,
    WRITER_PROPERTIES,
)
from replaystore.storage.tables import COMMIT, retry_on_conflict
from replaystore.storage.tag_index import index_rows
from replaystore.storage.views import DIALECT, KEY, newest_recent, not_superseded

if TYPE_CHECKING:
    from replaystore.storage.store import Store

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


def compact(store: Store, *, retention: timedelta = DEFAULT_RETENTION) -> CompactResult:
    with store.lock.hold():
        store.recover()
        folded, months = _fold_recent(store)
        compacted = {t: _compact_raw(store.tables[t]) for t in RAW_TABLES}
        store.publish()
        vacuumed = sum(_vacuum(dt, retention) for dt in store.tables.values())
        # vacuum commits change no data; publish them so recovery never sees them as unpublished
        store.publish()
        swept = _sweep(store, retention)
    return CompactResult(
        folded_rows=folded,
        months_rewritten=tuple(months),
        files_compacted=compacted,
        files_vacuumed=vacuumed,
        temp_files_swept=swept,
    )


def _fold_recent(store: Store) -> tuple[int, list[str]]:
    """Rewrite each base month the recent tier touches, sorted, then empty the tier."""
    files = {t: [] for t in store.tables}
    files["replays"] = store.latest_files("replays")
    files["replays_recent"] = store.latest_files("replays_recent")
    if not files["replays_recent"]:
        return 0, []
    con = store.scan_connection(files)
    count = exp.select(exp.Count(this=exp.Star())).from_("replays_recent")
    folded = con.execute(count.sql(dialect=DIALECT)).fetchall()[0][0]
    months = _affected_months(con)
    for month in months:
        write_sorted_month(
            store.tables["replays"], store.tables["tags"], con, _month_rows(month), month
        )
    recent = store.tables["replays_recent"]
    # Only this writer (holding the lock) appends to the tier, so everything in it was folded.
    retry_on_conflict(
        lambda: recent.delete(writer_properties=SUMMARY_WRITER_PROPERTIES, commit_properties=COMMIT)
    )
    return folded, months


def _affected_months(con: duckdb.DuckDBPyConnection) -> list[str]:
    recent_months = exp.select("month").from_("replays_recent")
    base_months = (
        exp.select("month")
        .from_(exp.to_table("replays_base").as_("b"))
        .join(exp.to_table("replays_recent").as_("r"), using=list(KEY), join_type="semi")
    )
    query = (
        exp.select("month")
        .distinct()
        .from_(
            exp.Subquery(
                this=exp.union(recent_months, base_months, distinct=False),
                alias=exp.TableAlias(this=exp.to_identifier("m")),
            )
        )
        .where(exp.Not(this=exp.Is(this=exp.column("month"), expression=exp.null())))
    )
    return sorted(m for (m,) in con.sql(query.sql(dialect=DIALECT)).fetchall())


def _month_rows(month: str) -> exp.Select:
    """The folded content of one base month: base rows of replays the tier does not hold,
    plus the tier's newest rows (tier rows are always newer than base rows)."""
    in_month = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month))
    kept_base = not_superseded("replays_base").where(
        exp.EQ(this=exp.column("month", table="b"), expression=exp.Literal.string(month))
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
) -> None:
    """Replace base month `month` with `rows`, sorted newest first, one file per slice, and
    the tag index's month with their index rows.

    One write per slice because delta-rs keeps row order within a record batch but not
    across the batches of one write (it shuffled 65k-row batches of a month); each commit
    stays unpublished until the caller publishes the manifest, so readers see the month whole.
    """
    predicate = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month)).sql()

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


def _compact_raw(dt: DeltaTable) -> int:
    metrics = retry_on_conflict(
        lambda: dt.optimize.compact(
            target_size=TARGET_FILE_BYTES,
            writer_properties=WRITER_PROPERTIES,
            commit_properties=COMMIT,
        )
    )
    return int(metrics.get("numFilesRemoved", 0))


def _vacuum(dt: DeltaTable, retention: timedelta) -> int:
    removed = dt.vacuum(
        retention_hours=int(retention.total_seconds() // 3600),
        dry_run=False,
        enforce_retention_duration=False,
        full=True,
        commit_properties=COMMIT,
    )
    return len(removed)


def _sweep(store: Store, retention: timedelta) -> int:
    """Delete temp files of killed writers (`*.parquet#N`, blob and manifest temps), which no
    vacuum removes (deltalake-notes §6), once they are older than the retention."""
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
