"""The `replays` summary: one row per replay computed from its raw rows, as one sqlglot
SELECT over the views `segments`, `clicks`, `links`, `archives` and a relation
`touched(project_id, replay_id)` naming the replays to compute. The per-column formulas are
the field registry's (`fields.summary`); this module assembles them into one GROUP BY per
raw table, joins those and applies the archived shape."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields import summary as formulas
from replaystore.fields.schema import REPLAY_KEY
from replaystore.fields.sentry import TRANSACTION_TAG
from replaystore.fields.sql import DIALECT, col
from replaystore.fields.summary import func, list_agg
from replaystore.storage.views import duckdb_type

TOUCHED = "touched"


def _of_touched(view: str) -> exp.Select:
    """Rows of a raw view that belong to a touched replay."""
    return (
        exp.select(exp.Star())
        .from_(exp.to_table(view))
        .join(exp.to_table(TOUCHED), using=list(REPLAY_KEY), join_type="semi")
    )


def _keys() -> list[exp.Column]:
    return [col(k) for k in REPLAY_KEY]


def _aggregates(view: str, alias: str, columns: dict[str, formulas.Formula]) -> exp.Select:
    """One row per touched replay of a raw view, with the formulas' columns."""
    selected = [exp.alias_(formula(), name, quoted=True) for name, formula in columns.items()]
    return (
        exp.select(*_keys(), *selected)
        .from_(
            exp.Subquery(
                this=_of_touched(view), alias=exp.TableAlias(this=exp.to_identifier(alias))
            )
        )
        .group_by(*_keys())
    )


def _tag_aggregates() -> exp.Select:
    pairs = exp.select(
        *_keys(),
        exp.alias_(exp.Unnest(expressions=[col("tags_key")]), "key"),
        exp.alias_(exp.Unnest(expressions=[col("tags_value")]), "value"),
    ).from_(
        exp.Subquery(
            this=_of_touched("segments"), alias=exp.TableAlias(this=exp.to_identifier("s"))
        )
    )
    distinct_pairs = (
        exp.select(*_keys(), col("key"), col("value"))
        .distinct()
        .from_(exp.Subquery(this=pairs, alias=exp.TableAlias(this=exp.to_identifier("p"))))
        .where(exp.NEQ(this=col("key"), expression=exp.Literal.string(TRANSACTION_TAG)))
    )
    tag = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier("key", quoted=True), expression=col("key")),
            exp.PropertyEQ(this=exp.to_identifier("value", quoted=True), expression=col("value")),
        ]
    )
    return (
        exp.select(*_keys(), exp.alias_(list_agg(tag, col("key"), col("value")), "tags"))
        .from_(exp.Subquery(this=distinct_pairs, alias=exp.TableAlias(this=exp.to_identifier("d"))))
        .group_by(*_keys())
    )


def _archived() -> exp.Select:
    return (
        exp.select(*_keys())
        .distinct()
        .from_(
            exp.Subquery(
                this=_of_touched("archives"), alias=exp.TableAlias(this=exp.to_identifier("a"))
            )
        )
    )


def _joined() -> exp.Select:
    """Every aggregate per replay with segment 0, before the archived shape is applied."""
    using = list(REPLAY_KEY)
    joined = [exp.alias_(formula(), name) for name, formula in formulas.JOINED.items()]
    return (
        exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("s")), *joined)
        .from_(exp.to_table("seg_agg").as_("s"))
        .join(exp.to_table("link_agg").as_("l"), using=using, join_type="left")
        .join(exp.to_table("click_agg").as_("c"), using=using, join_type="left")
        .join(exp.to_table("tag_agg").as_("t"), using=using, join_type="left")
        .join(exp.to_table("arch").as_("a"), using=using, join_type="left")
        .where(col("has_segment_0", "s"))
    )


def _column(field: pa.Field) -> exp.Expression:
    if field.name == "updated_at":
        value: exp.Expression = exp.Placeholder()  # the write time, bound per call
    elif field.name in formulas.ARCHIVED_KEEP:
        value = formulas.live_value(field.name)
    else:
        empty = (
            exp.Array(expressions=[]) if field.name in formulas.ARCHIVED_EMPTY_LISTS else exp.null()
        )
        value = exp.If(this=col("is_archived"), true=empty, false=formulas.live_value(field.name))
    return exp.alias_(exp.cast(value, duckdb_type(field.type)), field.name, quoted=True)


def payload() -> exp.Expression:
    """The `payload` of a summary row: its `schema.PAYLOAD_COLUMNS` values as one JSON array,
    tags and clicks as arrays of their struct's values (schema.TAG_FIELDS, CLICK_FIELDS)."""

    def as_arrays(name: str, fields: tuple[str, ...]) -> exp.Expression:
        item = exp.to_identifier("i")
        values = [
            exp.Dot(this=exp.column(item.copy()), expression=exp.to_identifier(f, quoted=True))
            for f in fields
        ]
        array = exp.JSONArray(expressions=values)
        return func("list_transform", col(name), exp.Lambda(this=array, expressions=[item]))

    nested = {"tags": schema.TAG_FIELDS, "clicks": schema.CLICK_FIELDS}
    values = [
        as_arrays(name, nested[name]) if name in nested else col(name)
        for name in schema.PAYLOAD_COLUMNS
    ]
    return exp.cast(exp.JSONArray(expressions=values), exp.DataType.build("VARCHAR"))


def summary_query() -> exp.Select:
    """SELECT every column of `schema.REPLAYS` for the touched replays that have a segment 0;
    `updated_at` is its one parameter."""
    stored = [f for f in schema.REPLAYS if f.name != "payload"]
    outer = [
        exp.alias_(payload(), "payload", quoted=True) if f.name == "payload" else col(f.name)
        for f in schema.REPLAYS
    ]
    return (
        exp.select(*outer)
        .from_(exp.to_table("summary"))
        .with_("seg_agg", as_=_aggregates("segments", "s", formulas.SEGMENTS))
        .with_("link_agg", as_=_aggregates("links", "l", formulas.LINKS))
        .with_("click_agg", as_=_aggregates("clicks", "c", formulas.CLICKS))
        .with_("tag_agg", as_=_tag_aggregates())
        .with_("arch", as_=_archived())
        .with_("joined", as_=_joined())
        .with_("summary", as_=exp.select(*(_column(f) for f in stored)).from_("joined"))
        # Newest first, as the base is sorted: a recent-tier file's row groups then have
        # narrow started_at ranges, which compaction's slices and the list's top-N prune on.
        .order_by(
            exp.Ordered(this=col("started_at"), desc=True),
            exp.Ordered(this=col("replay_id"), desc=True),
        )
    )


@lru_cache(maxsize=1)
def _summary_sql() -> str:
    return summary_query().sql(dialect=DIALECT)


def compute_summaries(
    con: duckdb.DuckDBPyConnection, touched: list[tuple[int, str]], now: datetime
) -> pa.Table:
    """Summary rows of the touched replays over the raw views registered on `con`."""
    keys = pa.table(
        {
            "project_id": pa.array([k[0] for k in touched], pa.int64()),
            "replay_id": pa.array([k[1] for k in touched], pa.string()),
        }
    )
    con.register(TOUCHED, keys)
    try:
        result = con.sql(_summary_sql(), params=[now]).to_arrow_table()
    finally:
        con.unregister(TOUCHED)
    return result.cast(schema.REPLAYS)
