"""How each column of the `replays` summary is computed from a replay's raw rows.

The formulas are grouped by the rows they aggregate: a replay's segment rows, its link rows,
its click rows, then the columns derived from those after the join. `storage.summary` only
assembles them into one GROUP BY per table; `fields.reference` computes the same numbers over
the raw rows independently, and the differential tests compare the two.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields.sentry import DEAD_CLICK_CUTOFF, ERROR_LEVELS, INFO_LEVELS, WARNING_LEVELS
from replaystore.fields.sql import DIALECT, col

Formula = Callable[[], exp.Expression]

# Columns picked as "any non-empty value" of the segment rows (the lowest segment's), else null.
PICKED = (
    "environment",
    "dist",
    "platform",
    "replay_type",
    *(name for name, _ in schema.CONTEXT_COLUMNS),
)

# What an archived replay's summary holds: started_at stays so it remains listed.
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


def func(name: str, *args: exp.Expression) -> exp.Expression:
    """A function call as DuckDB names it (the summary is computed by DuckDB)."""
    return exp.func(name, *args, dialect=DIALECT)


def filtered(aggregate: exp.Expression, condition: exp.Expression) -> exp.Filter:
    return exp.Filter(this=aggregate, expression=exp.Where(this=condition))


def list_agg(value: exp.Expression, *order: exp.Expression) -> exp.Expression:
    if not order:
        return exp.ArrayAgg(this=value)
    ordered = exp.Order(this=value, expressions=[exp.Ordered(this=o) for o in order])
    return exp.ArrayAgg(this=ordered)


def distinct_sorted(list_expr: exp.Expression) -> exp.Expression:
    return func("list_sort", func("list_distinct", list_expr))


def or_empty(list_expr: exp.Expression) -> exp.Expression:
    return exp.func("coalesce", list_expr, exp.Array(expressions=[]))


def _non_empty(name: str) -> exp.Expression:
    return exp.NEQ(this=col(name), expression=exp.Literal.string(""))


def _in_levels(levels: tuple[str, ...]) -> exp.Expression:
    return exp.In(this=col("level"), expressions=[exp.Literal.string(v) for v in levels])


def _picked(name: str) -> Formula:
    return lambda: filtered(func("arg_min", col(name), col("segment_id")), _non_empty(name))


def _started_at() -> exp.Expression:
    return exp.func(
        "coalesce", exp.Min(this=col("replay_start_timestamp")), exp.Min(this=col("timestamp"))
    )


def _releases() -> exp.Expression:
    return or_empty(distinct_sorted(filtered(list_agg(col("release")), _non_empty("release"))))


def _has_segment_0() -> exp.Expression:
    return exp.func("bool_or", exp.EQ(this=col("segment_id"), expression=exp.Literal.number(0)))


# Over one replay's segment rows; `segment_error_ids` is joined with the links' error ids.
SEGMENTS: dict[str, Formula] = {
    "started_at": _started_at,
    "finished_at": lambda: exp.Max(this=col("timestamp")),
    "count_segments": lambda: exp.Count(this=exp.Star()),
    "urls": lambda: func("flatten", list_agg(col("urls"), col("segment_id"))),
    "count_urls": lambda: exp.Sum(this=exp.ArraySize(this=col("urls"))),
    "segment_error_ids": lambda: func("flatten", list_agg(col("error_ids"))),
    "trace_ids": lambda: distinct_sorted(func("flatten", list_agg(col("trace_ids")))),
    "releases": _releases,
    "has_segment_0": _has_segment_0,
    **{name: _picked(name) for name in PICKED},
}


def _ids(levels: tuple[str, ...]) -> Formula:
    return lambda: or_empty(
        func("list_sort", filtered(list_agg(col("event_id")), _in_levels(levels)))
    )


# Over one replay's link rows (linked error, warning and info events).
LINKS: dict[str, Formula] = {
    "link_error_ids": _ids(ERROR_LEVELS),
    "warning_ids": _ids(WARNING_LEVELS),
    "info_ids": _ids(INFO_LEVELS),
}


def _count_clicks(flag: str) -> Formula:
    def count() -> exp.Expression:
        counted = exp.GTE(this=col("timestamp"), expression=exp.convert(DEAD_CLICK_CUTOFF))
        return filtered(exp.Count(this=exp.Star()), exp.and_(col(flag), counted))

    return count


def _click_struct() -> exp.Struct:
    return exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier(f.name, quoted=True), expression=col(f.name))
            for f in schema.CLICK_STRUCT
        ]
    )


# Over one replay's click rows: every click kept, in time order, for click.* search.
CLICKS: dict[str, Formula] = {
    "count_dead_clicks": _count_clicks("is_dead"),
    "count_rage_clicks": _count_clicks("is_rage"),
    "clicks": lambda: list_agg(_click_struct(), col("timestamp"), col("event_hash")),
}


def _joined_error_ids() -> exp.Expression:
    segments, links = col("segment_error_ids", "s"), or_empty(col("link_error_ids", "l"))
    return distinct_sorted(exp.func("list_concat", segments, links))


def _zero_if_none(name: str, table: str) -> Formula:
    return lambda: exp.func("coalesce", col(name, table), exp.Literal.number(0))


# After joining the per-table aggregates (s: segments, l: links, c: clicks, t: tags,
# a: archives): the columns a replay without such rows still has.
JOINED: dict[str, Formula] = {
    "error_ids": _joined_error_ids,
    "warning_ids": lambda: or_empty(col("warning_ids", "l")),
    "info_ids": lambda: or_empty(col("info_ids", "l")),
    "count_dead_clicks": _zero_if_none("count_dead_clicks", "c"),
    "count_rage_clicks": _zero_if_none("count_rage_clicks", "c"),
    "clicks": lambda: or_empty(col("clicks", "c")),
    "tags": lambda: or_empty(col("tags", "t")),
    "is_archived": lambda: exp.Not(this=exp.Is(this=col("replay_id", "a"), expression=exp.null())),
}


def _duration() -> exp.Expression:
    """Whole seconds from started_at to finished_at."""
    micros = exp.Sub(
        this=func("epoch_us", col("finished_at")), expression=func("epoch_us", col("started_at"))
    )
    return exp.IntDiv(this=exp.Paren(this=micros), expression=exp.Literal.number(1_000_000))


def _activity() -> exp.Expression:
    """min(10, max(1, (25 * errors + 5 * urls) // 10))."""
    weighted = exp.Add(
        this=exp.Mul(this=exp.Literal.number(25), expression=exp.ArraySize(this=col("error_ids"))),
        expression=exp.Mul(this=exp.Literal.number(5), expression=col("count_urls")),
    )
    raw = exp.IntDiv(this=exp.Paren(this=weighted), expression=exp.Literal.number(10))
    return exp.func(
        "least", exp.Literal.number(10), exp.func("greatest", exp.Literal.number(1), raw)
    )


def _month() -> exp.Expression:
    utc = func("timezone", exp.Literal.string("UTC"), col("started_at"))
    return func("strftime", utc, exp.Literal.string("%Y-%m"))


# Computed from the joined columns of a live (not archived) replay; others are taken as joined.
DERIVED: dict[str, Formula] = {
    "duration": _duration,
    "count_errors": lambda: exp.ArraySize(this=col("error_ids")),
    "count_warnings": lambda: exp.ArraySize(this=col("warning_ids")),
    "count_infos": lambda: exp.ArraySize(this=col("info_ids")),
    "activity": _activity,
    "month": _month,
}


def live_value(name: str) -> exp.Expression:
    """The summary column's value for a replay that is not archived."""
    formula = DERIVED.get(name)
    return formula() if formula is not None else col(name)
