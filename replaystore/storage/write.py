"""`Store.write`: idempotent upserts of one ingest batch, published atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import Histogram
from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields.schema import REPLAY_KEY
from replaystore.fields.sql import DIALECT
from replaystore.metrics import REGISTRY
from replaystore.storage import selector_counts
from replaystore.storage.batch import WriteBatch
from replaystore.storage.core import StoreCore
from replaystore.storage.extent import drop_far_rows, months_of, stored_extents
from replaystore.storage.layout import RAW_TABLES
from replaystore.storage.properties import partition_months, writer_properties
from replaystore.storage.summary import compute_summaries
from replaystore.storage.tables import append, merge_rows

# Replays last at most one hour: a replay's rows lie in the months of its
# touched rows widened by this much, which bounds the partitions a write has to read.
REPLAY_SPAN = timedelta(hours=1)

SORT_ORDER: dict[str, tuple[str, ...]] = {
    "segments": ("project_id", "timestamp", "replay_id", "segment_id"),
    "clicks": ("project_id", "replay_id", "timestamp", "event_hash"),
    "links": ("project_id", "replay_id", "event_id"),
}

Key = tuple[int, str]

WRITE_SECONDS = Histogram(
    "replaystore_store_write_seconds",
    "Time of one store write (an ingest commit), writer lock included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10),
    registry=REGISTRY,
)


@dataclass(frozen=True)
class WriteResult:
    """Rows written and skipped per table (`replays` = summary rows), and the touched replays."""

    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    blobs_written: int = 0
    touched: tuple[Key, ...] = ()


def write_batch(store: StoreCore, batch: WriteBatch) -> WriteResult:
    if batch.is_empty():
        return WriteResult()
    with WRITE_SECONDS.time(), store.writing():
        incoming = batch.tables()
        keys = _batch_keys(incoming, batch)
        # Every month already holding a touched replay comes from its stored summary, never
        # from the timestamps a client sent (issue 18); rows far from it are not stored.
        extents = stored_extents(store, keys)
        incoming, batch_blobs = drop_far_rows(incoming, batch.blobs, extents)
        months = _months_near(incoming) | months_of(extents)
        files = {t: store.latest_files(t, months) for t in ("segments", "clicks", "links")}
        files["archives"] = store.latest_files("archives")
        con = store.scan_connection(files)
        new_rows, replaced = _new_rows(con, incoming, keys)
        # The ranking's counts move with the click rows (storage/selector_counts.py).
        overwritten = selector_counts.replaced_clicks(con, replaced)
        selector_rows = selector_counts.counts(
            con, [(new_rows["clicks"], 1), (replaced, 1), (overwritten, -1)]
        )
        archived = _archived_keys(con, keys)
        blobs = [b for b in batch_blobs if (b.project_id, b.replay_id) not in archived]
        packed = store.blobs.pack(blobs, store.latest_files("recordings"), store.now())
        for table in RAW_TABLES[:3]:
            append(store.tables[table], new_rows[table])
        append(store.tables["recordings"], packed)
        merge_rows(store.tables["clicks"], replaced, schema.KEYS["clicks"])
        selector_counts.record(store, selector_rows)
        touched = sorted(_keys_of(*new_rows.values(), replaced))
        summaries = _summaries(store, touched, months) if touched else None
        if summaries is not None:
            append(store.tables["replays_recent"], summaries, writer_properties("replays_recent"))
        store.publish()
    written = {t: new_rows[t].num_rows for t in new_rows}
    written["clicks"] += replaced.num_rows
    written["replays"] = summaries.num_rows if summaries is not None else 0
    skipped = {t: incoming[t].num_rows - written[t] for t in incoming}
    return WriteResult(
        written=written, skipped=skipped, blobs_written=packed.num_rows, touched=tuple(touched)
    )


def _months_near(tables: dict[str, pa.Table]) -> set[str]:
    """The months of every row's timestamps, widened by a replay's span either way."""
    months: set[str] = set()
    for rows in tables.values():
        for column in ("timestamp", "replay_start_timestamp"):
            if column not in rows.column_names:
                continue
            values = rows.column(column)
            for shift in (-REPLAY_SPAN, timedelta(0), REPLAY_SPAN):
                months |= partition_months(pc.add(values, pa.scalar(shift)) if shift else values)
    return months


def _keys_of(*tables: pa.Table) -> set[Key]:
    keys: set[Key] = set()
    for rows in tables:
        keys.update(
            zip(
                rows.column("project_id").to_pylist(),
                rows.column("replay_id").to_pylist(),
                strict=True,
            )
        )
    return keys


def _batch_keys(incoming: dict[str, pa.Table], batch: WriteBatch) -> set[Key]:
    keys = _keys_of(*incoming.values())
    keys.update((b.project_id, b.replay_id) for b in batch.blobs)
    return keys


def _replay_filter(keys: set[Key]) -> exp.Expression:
    """`replay_id IN (...)` as literals: a constant list lets DuckDB probe the bloom filters."""
    ids = sorted({k[1] for k in keys})
    return exp.In(this=exp.column("replay_id"), expressions=[exp.Literal.string(i) for i in ids])


def _stored(view: str, keys: set[Key], columns: tuple[str, ...]) -> exp.Select:
    # copy=False throughout: sqlglot's builders copy the whole tree (hundreds of id literals)
    # on every call otherwise, ~10 ms of each commit.
    return (
        exp.select(*columns, copy=False)
        .from_(view, copy=False)
        .where(_replay_filter(keys), copy=False)
    )


def _not_archived(query: exp.Select, keys: set[Key]) -> exp.Select:
    # Rows of a deleted replay are never stored again (a deletion really purges, docs/decisions.md).
    archived = _stored("archives", keys, REPLAY_KEY)
    return query.join(
        exp.Subquery(this=archived, alias=exp.TableAlias(this=exp.to_identifier("a"))),
        using=list(REPLAY_KEY),
        join_type="anti",
        copy=False,
    )


def _new_rows(
    con: duckdb.DuckDBPyConnection, incoming: dict[str, pa.Table], keys: set[Key]
) -> tuple[dict[str, pa.Table], pa.Table]:
    """The incoming rows whose key is not stored yet, and the dead/rage clicks that replace a
    stored plain click of the same key."""
    result: dict[str, pa.Table] = {}
    for table, rows in incoming.items():
        name = f"incoming_{table}"
        con.register(name, rows)
        stored = _stored(table, keys, schema.KEYS[table])
        query = (
            exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("n")), copy=False)
            .from_(exp.to_table(name).as_("n"), copy=False)
            .join(
                exp.Subquery(this=stored, alias=exp.TableAlias(this=exp.to_identifier("e"))),
                using=list(schema.KEYS[table]),
                join_type="anti",
                copy=False,
            )
            .order_by(*(exp.column(c, table="n") for c in SORT_ORDER[table]), copy=False)
        )
        query = _not_archived(query, keys)
        result[table] = _fetch(con, query, schema.TABLES[table])
    replaced = _fetch(con, _replacements(keys), schema.CLICKS)
    return result, replaced


def _replacements(keys: set[Key]) -> exp.Select:
    def flagged(table: str) -> exp.Expression:
        return exp.or_(exp.column("is_dead", table=table), exp.column("is_rage", table=table))

    stored = _stored("clicks", keys, (*schema.KEYS["clicks"], "is_dead", "is_rage"))
    query = (
        exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("n")), copy=False)
        .from_(exp.to_table("incoming_clicks").as_("n"), copy=False)
        .join(
            exp.Subquery(this=stored, alias=exp.TableAlias(this=exp.to_identifier("e"))),
            using=list(schema.KEYS["clicks"]),
            copy=False,
        )
        .where(exp.and_(flagged("n"), exp.not_(flagged("e"))), copy=False)
    )
    return _not_archived(query, keys)


def _fetch(con: duckdb.DuckDBPyConnection, query: exp.Select, table_schema: pa.Schema) -> pa.Table:
    return (
        con.sql(query.sql(dialect=DIALECT, copy=False))
        .to_arrow_table()
        .select(table_schema.names)
        .cast(table_schema)
    )


def _archived_keys(con: duckdb.DuckDBPyConnection, keys: set[Key]) -> set[Key]:
    query = _stored("archives", keys, REPLAY_KEY)
    rows = con.execute(query.sql(dialect=DIALECT, copy=False)).fetchall()
    return {(int(p), str(r)) for p, r in rows}


def _summaries(store: StoreCore, touched: list[Key], months: set[str]) -> pa.Table:
    files = {t: store.latest_files(t, months) for t in ("segments", "clicks", "links")}
    files["archives"] = store.latest_files("archives")
    con = store.scan_connection(files)
    return compute_summaries(con, touched, store.now())
