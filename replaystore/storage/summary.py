"""The `replays` summary: one row per replay computed from its raw rows (backend b.1, b.2;
SPEC §3), as one sqlglot SELECT over the views `segments`, `clicks`, `links`, `archives` and
a relation `touched(project_id, replay_id)` naming the replays to compute."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.storage import schema
from replaystore.storage.views import DIALECT, KEY, duckdb_type

TOUCHED = "touched"

# Sentry counts dead/rage clicks only from this day on (backend b.2, hard-coded cut-off).
DEAD_CLICK_CUTOFF = datetime(2023, 7, 24, tzinfo=UTC)

# Columns picked as "any non-empty value" of the segment rows, else null (b.2).
PICKED = (
    "environment",
    "dist",
    "platform",
    "replay_type",
    *(name for name, _ in schema.CONTEXT_COLUMNS),
)

# What an archived replay's summary holds (b.4): started_at stays so it remains listed.
ARCHIVED_KEEP = ("project_id", "replay_id", "started_at", "is_archived", "updated_at", "month")
ARCHIVED_EMPTY_LISTS = (
    "error_ids",
    "warning_ids",
    "info_ids",
    "trace_ids",
    "releases",
    "tags",
    "clicks",
)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _f(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.func(name, *args, dialect=DIALECT)


def _filtered(agg: exp.Expression, condition: exp.Expression) -> exp.Filter:
    return exp.Filter(this=agg, expression=exp.Where(this=condition))


def _list_agg(value: exp.Expression, *order: exp.Expression) -> exp.Expression:
    if not order:
        return exp.ArrayAgg(this=value)
    ordered = exp.Order(this=value, expressions=[exp.Ordered(this=o) for o in order])
    return exp.ArrayAgg(this=ordered)


def _distinct_sorted(list_expr: exp.Expression) -> exp.Expression:
    return _f("list_sort", _f("list_distinct", list_expr))


def _or_empty(list_expr: exp.Expression) -> exp.Expression:
    return exp.func("coalesce", list_expr, exp.Array(expressions=[]))


def _non_empty(name: str) -> exp.Expression:
    return exp.NEQ(this=col(name), expression=exp.Literal.string(""))


def _in_levels(levels: tuple[str, ...]) -> exp.Expression:
    return exp.In(this=col("level"), expressions=[exp.Literal.string(v) for v in levels])


def _of_touched(view: str) -> exp.Select:
    """Rows of a raw view that belong to a touched replay."""
    return (
        exp.select(exp.Star())
        .from_(exp.to_table(view))
        .join(exp.to_table(TOUCHED), using=list(KEY), join_type="semi")
    )


def _keys() -> list[exp.Column]:
    return [col(k) for k in KEY]


def _segment_aggregates() -> exp.Select:
    picks = [
        exp.alias_(
            _filtered(_f("arg_min", col(name), col("segment_id")), _non_empty(name)),
            name,
            quoted=True,
        )
        for name in PICKED
    ]
    return (
        exp.select(
            *_keys(),
            exp.alias_(
                exp.func(
                    "coalesce",
                    exp.Min(this=col("replay_start_timestamp")),
                    exp.Min(this=col("timestamp")),
                ),
                "started_at",
            ),
            exp.alias_(exp.Max(this=col("timestamp")), "finished_at"),
            exp.alias_(exp.Count(this=exp.Star()), "count_segments"),
            exp.alias_(_f("flatten", _list_agg(col("urls"), col("segment_id"))), "urls"),
            exp.alias_(exp.Sum(this=exp.ArraySize(this=col("urls"))), "count_urls"),
            exp.alias_(_f("flatten", _list_agg(col("error_ids"))), "segment_error_ids"),
            exp.alias_(_distinct_sorted(_f("flatten", _list_agg(col("trace_ids")))), "trace_ids"),
            exp.alias_(
                _or_empty(
                    _distinct_sorted(_filtered(_list_agg(col("release")), _non_empty("release")))
                ),
                "releases",
            ),
            exp.alias_(
                exp.func(
                    "bool_or", exp.EQ(this=col("segment_id"), expression=exp.Literal.number(0))
                ),
                "has_segment_0",
            ),
            *picks,
        )
        .from_(
            exp.Subquery(
                this=_of_touched("segments"), alias=exp.TableAlias(this=exp.to_identifier("s"))
            )
        )
        .group_by(*_keys())
    )


def _link_aggregates() -> exp.Select:
    def ids(levels: tuple[str, ...]) -> exp.Expression:
        return _or_empty(_f("list_sort", _filtered(_list_agg(col("event_id")), _in_levels(levels))))

    return (
        exp.select(
            *_keys(),
            exp.alias_(ids(("error", "fatal")), "link_error_ids"),
            exp.alias_(ids(("warning",)), "warning_ids"),
            exp.alias_(ids(("info", "debug")), "info_ids"),
        )
        .from_(
            exp.Subquery(
                this=_of_touched("links"), alias=exp.TableAlias(this=exp.to_identifier("l"))
            )
        )
        .group_by(*_keys())
    )


def _click_struct() -> exp.Struct:
    return exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier(f.name, quoted=True), expression=col(f.name))
            for f in schema.CLICK_STRUCT
        ]
    )


def _click_aggregates() -> exp.Select:
    counted = exp.GTE(this=col("timestamp"), expression=exp.convert(DEAD_CLICK_CUTOFF))

    def count_if(flag: str) -> exp.Expression:
        return _filtered(exp.Count(this=exp.Star()), exp.and_(col(flag), counted))

    return (
        exp.select(
            *_keys(),
            exp.alias_(count_if("is_dead"), "count_dead_clicks"),
            exp.alias_(count_if("is_rage"), "count_rage_clicks"),
            exp.alias_(_list_agg(_click_struct(), col("timestamp"), col("event_hash")), "clicks"),
        )
        .from_(
            exp.Subquery(
                this=_of_touched("clicks"), alias=exp.TableAlias(this=exp.to_identifier("c"))
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
        # the `transaction` tag became `title` and is never a tag (b.2)
        .where(exp.NEQ(this=col("key"), expression=exp.Literal.string("transaction")))
    )
    tag = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier("key", quoted=True), expression=col("key")),
            exp.PropertyEQ(this=exp.to_identifier("value", quoted=True), expression=col("value")),
        ]
    )
    return (
        exp.select(*_keys(), exp.alias_(_list_agg(tag, col("key"), col("value")), "tags"))
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
    error_ids = _distinct_sorted(
        exp.func(
            "list_concat",
            col("segment_error_ids", "s"),
            _or_empty(col("link_error_ids", "l")),
        )
    )
    using = list(KEY)
    return (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("s")),
            exp.alias_(error_ids, "error_ids"),
            exp.alias_(_or_empty(col("warning_ids", "l")), "warning_ids"),
            exp.alias_(_or_empty(col("info_ids", "l")), "info_ids"),
            exp.alias_(
                exp.func("coalesce", col("count_dead_clicks", "c"), exp.Literal.number(0)),
                "count_dead_clicks",
            ),
            exp.alias_(
                exp.func("coalesce", col("count_rage_clicks", "c"), exp.Literal.number(0)),
                "count_rage_clicks",
            ),
            exp.alias_(_or_empty(col("clicks", "c")), "clicks"),
            exp.alias_(_or_empty(col("tags", "t")), "tags"),
            exp.alias_(
                exp.Not(this=exp.Is(this=col("replay_id", "a"), expression=exp.null())),
                "is_archived",
            ),
        )
        .from_(exp.to_table("seg_agg").as_("s"))
        .join(exp.to_table("link_agg").as_("l"), using=using, join_type="left")
        .join(exp.to_table("click_agg").as_("c"), using=using, join_type="left")
        .join(exp.to_table("tag_agg").as_("t"), using=using, join_type="left")
        .join(exp.to_table("arch").as_("a"), using=using, join_type="left")
        .where(col("has_segment_0", "s"))
    )


def _live_value(name: str) -> exp.Expression:
    """The column's value for a replay that is not archived."""
    whole_seconds = exp.IntDiv(
        this=exp.Paren(
            this=exp.Sub(
                this=_f("epoch_us", col("finished_at")),
                expression=_f("epoch_us", col("started_at")),
            )
        ),
        expression=exp.Literal.number(1_000_000),
    )
    count_errors = exp.ArraySize(this=col("error_ids"))
    activity_raw = exp.IntDiv(
        this=exp.Paren(
            this=exp.Add(
                this=exp.Mul(this=exp.Literal.number(25), expression=count_errors),
                expression=exp.Mul(this=exp.Literal.number(5), expression=col("count_urls")),
            )
        ),
        expression=exp.Literal.number(10),
    )
    computed: dict[str, exp.Expression] = {
        "duration": whole_seconds,
        "count_errors": count_errors,
        "count_warnings": exp.ArraySize(this=col("warning_ids")),
        "count_infos": exp.ArraySize(this=col("info_ids")),
        "activity": exp.func(
            "least",
            exp.Literal.number(10),
            exp.func("greatest", exp.Literal.number(1), activity_raw),
        ),
        "month": _f(
            "strftime",
            _f("timezone", exp.Literal.string("UTC"), col("started_at")),
            exp.Literal.string("%Y-%m"),
        ),
    }
    return computed.get(name, col(name))


def _column(field: pa.Field) -> exp.Expression:
    if field.name == "updated_at":
        value: exp.Expression = exp.Placeholder()  # the write time, bound per call
    elif field.name in ARCHIVED_KEEP:
        value = _live_value(field.name)
    else:
        empty = exp.Array(expressions=[]) if field.name in ARCHIVED_EMPTY_LISTS else exp.null()
        value = exp.If(this=col("is_archived"), true=empty, false=_live_value(field.name))
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
        return _f("list_transform", col(name), exp.Lambda(this=array, expressions=[item]))

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
        .with_("seg_agg", as_=_segment_aggregates())
        .with_("link_agg", as_=_link_aggregates())
        .with_("click_agg", as_=_click_aggregates())
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
