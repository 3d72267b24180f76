"""Per-replay numbers over the raw rows, as correlated scalar subqueries: the reference.

Each mirrors the summary formula of the same name (`fields.summary`): two
implementations on purpose, so the differential test compares independent answers.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from replaystore.fields import sql
from replaystore.fields.sentry import DEAD_CLICK_CUTOFF, ERROR_LEVELS, INFO_LEVELS, WARNING_LEVELS
from replaystore.fields.sources import correlated


def _scalar(query: exp.Select) -> exp.Subquery:
    return exp.Subquery(this=query)


def _levels(levels: tuple[str, ...]) -> exp.In:
    return exp.In(this=sql.col("level", "l"), expressions=[sql.string(v) for v in levels])


def count_segments() -> exp.Expression:
    return _scalar(correlated("segments", "s").select(exp.Count(this=exp.Star())))


def count_urls() -> exp.Expression:
    return _scalar(
        correlated("segments", "s").select(exp.Sum(this=exp.ArraySize(this=sql.col("urls", "s"))))
    )


def _error_ids() -> exp.Select:
    """Distinct error ids: segments' `error_ids` and linked error/fatal events."""
    from_segments = correlated("segments", "s").select(
        exp.alias_(exp.Explode(this=sql.col("error_ids", "s")), "e", quoted=True)
    )
    from_links = (
        correlated("links", "l")
        .select(exp.alias_(sql.col("event_id", "l"), "e", quoted=True))
        .where(_levels(ERROR_LEVELS))
    )
    return exp.union(from_segments, from_links, distinct=True)


def count_errors() -> exp.Expression:
    ids = exp.select(exp.Count(this=exp.Star())).from_(_error_ids().subquery("ids"))
    return _scalar(ids.where(exp.Not(this=exp.Is(this=sql.col("e", "ids"), expression=exp.null()))))


def _count_links(levels: tuple[str, ...]) -> Callable[[], exp.Expression]:
    def count() -> exp.Expression:
        return _scalar(
            correlated("links", "l").select(exp.Count(this=exp.Star())).where(_levels(levels))
        )

    return count


count_warnings = _count_links(WARNING_LEVELS)
count_infos = _count_links(INFO_LEVELS)


def _count_clicks(flag: str) -> Callable[[], exp.Expression]:
    def count() -> exp.Expression:
        counted = exp.GTE(this=sql.col("timestamp", "c"), expression=exp.convert(DEAD_CLICK_CUTOFF))
        return _scalar(
            correlated("clicks", "c")
            .select(exp.Count(this=exp.Star()))
            .where(sql.all_of(sql.col(flag, "c"), counted))
        )

    return count


count_dead_clicks = _count_clicks("is_dead")
count_rage_clicks = _count_clicks("is_rage")


def count_traces() -> exp.Expression:
    traces = correlated("segments", "s").select(
        exp.alias_(exp.Explode(this=sql.col("trace_ids", "s")), "t", quoted=True)
    )
    distinct = exp.Count(this=exp.Distinct(expressions=[sql.col("t", "u")]))
    return _scalar(exp.select(distinct).from_(traces.subquery("u")))


def activity_of(errors: exp.Expression, urls: exp.Expression) -> exp.Expression:
    """min(10, max(1, (25 * errors + 5 * urls) // 10))."""
    raw = exp.IntDiv(
        this=exp.paren(
            exp.Add(
                this=exp.Mul(this=exp.Literal.number(25), expression=errors),
                expression=exp.Mul(this=exp.Literal.number(5), expression=urls),
            )
        ),
        expression=exp.Literal.number(10),
    )
    return exp.Least(
        this=exp.Literal.number(10),
        expressions=[exp.Greatest(this=exp.Literal.number(1), expressions=[raw])],
    )


def activity() -> exp.Expression:
    return activity_of(count_errors(), count_urls())


def duration() -> exp.Expression:
    """Whole seconds from started_at (min replay start, else min timestamp) to finished_at."""
    started = exp.Coalesce(
        this=exp.Min(this=sql.col("replay_start_timestamp", "s")),
        expressions=[exp.Min(this=sql.col("timestamp", "s"))],
    )
    finished = exp.Max(this=sql.col("timestamp", "s"))
    micros = exp.Sub(
        this=exp.UnixMicros(this=finished),
        expression=exp.UnixMicros(this=started),
    )
    whole = exp.IntDiv(this=exp.paren(micros), expression=exp.Literal.number(1_000_000))
    return _scalar(correlated("segments", "s").select(whole))


def is_archived() -> exp.Expression:
    return exp.Exists(this=correlated("archives", "a").select(exp.Literal.number(1)))
