"""Where a field's values live per replay, in the two sources.

A `Values` answers "does some non-empty value of this replay satisfy a `Match`?" both over
the `replays` summary (one row per replay, list columns) and over the raw `segments`,
`clicks`, `links` rows of the replay (correlated to the outer replay row `r`, see
`raw_replays_query`). Every condition built here is NULL-free.

Choice (documented in the package docstring): the summary's scalar columns hold *one*
non-empty value per replay, the raw rows hold every segment's value. They agree whenever a
replay's segments agree on the value or leave it empty, which is what the SDK sends (Sentry
makes the same assumption).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from replaystore.fields import sql
from replaystore.fields.sentry import TRANSACTION_TAG

RAW = "r"  # alias of the outer per-replay row in raw conditions

Accessor = Callable[[str], exp.Expression]
ClickCondition = Callable[[Accessor], exp.Expression]


@dataclass(frozen=True)
class Match:
    """A condition on one string value: equals one of `values` or matches one of `patterns`.

    With neither it means "is non-empty" (used by `has:` and `field:""`).
    """

    values: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def on(self, value: exp.Expression) -> exp.Expression:
        """The condition on one value (callers add the non-empty test)."""
        parts: list[exp.Expression] = []
        if len(self.values) == 1:
            parts.append(exp.EQ(this=value.copy(), expression=sql.string(self.values[0])))
        elif self.values:
            parts.append(
                exp.In(this=value.copy(), expressions=[sql.string(v) for v in self.values])
            )
        parts.extend(sql.ilike(value.copy(), p) for p in self.patterns)
        return sql.any_of(*parts) if parts else exp.true()

    def on_list(self, values: exp.Expression) -> exp.Expression:
        """Some non-empty element of a list matches (array functions for exact values)."""
        if self.values and not self.patterns:
            if len(self.values) == 1:
                return exp.ArrayContains(this=values, expression=sql.string(self.values[0]))
            return exp.ArrayOverlaps(this=values, expression=sql.strings(self.values))
        return sql.some_element(values, lambda x: sql.all_of(sql.non_empty(x), self.on(x)))


@dataclass(frozen=True)
class Values:
    """A per-replay multiset of non-empty strings, reachable from both sources."""

    summary: Callable[[Match], exp.Expression]
    raw: Callable[[Match], exp.Expression]


def correlated(table: str, alias: str) -> exp.Select:
    """`SELECT ... FROM <table> AS <alias> WHERE` it belongs to the outer replay `r`."""
    return (
        exp.select()
        .from_(exp.alias_(exp.to_table(table), alias, table=True))
        .where(
            sql.all_of(
                exp.EQ(this=sql.col("project_id", alias), expression=sql.col("project_id", RAW)),
                exp.EQ(this=sql.col("replay_id", alias), expression=sql.col("replay_id", RAW)),
            )
        )
    )


def exists(query: exp.Select) -> exp.Exists:
    return exp.Exists(this=query)


def _unnested(table: str, column: str, where: exp.Expression | None = None) -> exp.Select:
    """`SELECT UNNEST(column) AS v FROM table` of the replay (one row per element)."""
    query = correlated(table, "s").select(
        exp.alias_(exp.Explode(this=sql.col(column, "s")), "v", quoted=True)
    )
    return query.where(where) if where is not None else query


def _some_row_value(query: exp.Select, value: exp.Expression, match: Match) -> exp.Exists:
    """Some row of `query` (already selecting from its source) has a matching `value`."""
    condition = match.on(value)
    return exists(
        query.select(exp.Literal.number(1)).where(sql.all_of(sql.non_empty(value), condition))
    )


def _some_unnested(select: exp.Select, match: Match) -> exp.Exists:
    inner = exp.select(exp.Literal.number(1)).from_(select.subquery("u"))
    value = sql.col("v", "u")
    return exists(inner.where(sql.all_of(sql.non_empty(value), match.on(value))))


# ---- constructors of Values


def scalar(summary_column: str, raw_column: str | None = None) -> Values:
    """A string column of the summary, and the same value on each raw segment row."""
    raw_name = raw_column or summary_column

    def summary(match: Match) -> exp.Expression:
        value = sql.col(summary_column)
        return sql.true_or_false(sql.all_of(sql.non_empty(value), match.on(value)))

    def raw(match: Match) -> exp.Expression:
        return _some_row_value(correlated("segments", "s"), sql.col(raw_name, "s"), match)

    return Values(summary, raw)


def listed(summary_column: str, raw_column: str | None = None, raw_is_list: bool = True) -> Values:
    """A list column of the summary, and a list (or scalar) column of the raw segments."""
    raw_name = raw_column or summary_column

    def summary(match: Match) -> exp.Expression:
        return sql.true_or_false(match.on_list(sql.col(summary_column)))

    def raw(match: Match) -> exp.Expression:
        if raw_is_list:
            return _some_unnested(_unnested("segments", raw_name), match)
        return _some_row_value(correlated("segments", "s"), sql.col(raw_name, "s"), match)

    return Values(summary, raw)


def _linked(levels: tuple[str, ...]) -> Callable[[Match], exp.Expression]:
    def raw(match: Match) -> exp.Expression:
        query = correlated("links", "l").where(
            exp.In(this=sql.col("level", "l"), expressions=[sql.string(v) for v in levels])
        )
        return _some_row_value(query, sql.col("event_id", "l"), match)

    return raw


def linked_ids(
    summary_column: str, levels: tuple[str, ...], segment_column: str | None = None
) -> Values:
    """Event ids from links of some levels (plus a list column of the segments, if given)."""
    from_links = _linked(levels)

    def summary(match: Match) -> exp.Expression:
        return sql.true_or_false(match.on_list(sql.col(summary_column)))

    def raw(match: Match) -> exp.Expression:
        if segment_column is None:
            return from_links(match)
        from_segments = _some_unnested(_unnested("segments", segment_column), match)
        return sql.any_of(from_segments, from_links(match))

    return Values(summary, raw)


def replay_id() -> Values:
    def summary(match: Match) -> exp.Expression:
        return sql.true_or_false(match.on(sql.col("replay_id")))

    def raw(match: Match) -> exp.Expression:
        return sql.true_or_false(match.on(sql.col("replay_id", RAW)))

    return Values(summary, raw)


def _nothing(_: Match) -> exp.Expression:
    return exp.false()


def tag(key: str) -> Values:
    """Values of tag `key`: summary `tags` structs, raw parallel `tags_key`/`tags_value`."""
    if key == TRANSACTION_TAG:
        return Values(_nothing, _nothing)

    def summary(match: Match) -> exp.Expression:
        def condition(field: Accessor) -> exp.Expression:
            value = field("value")
            return sql.all_of(
                exp.EQ(this=field("key"), expression=sql.string(key)),
                sql.non_empty(value),
                match.on(value),
            )

        return sql.true_or_false(sql.some_struct(sql.col("tags"), condition, "t"))

    def raw(match: Match) -> exp.Expression:
        pairs = correlated("segments", "s").select(
            exp.alias_(exp.Explode(this=sql.col("tags_key", "s")), "k", quoted=True),
            exp.alias_(exp.Explode(this=sql.col("tags_value", "s")), "v", quoted=True),
        )
        value = sql.col("v", "u")
        inner = exp.select(exp.Literal.number(1)).from_(pairs.subquery("u"))
        return exists(
            inner.where(
                sql.all_of(
                    exp.EQ(this=sql.col("k", "u"), expression=sql.string(key)),
                    sql.non_empty(value),
                    match.on(value),
                )
            )
        )

    return Values(summary, raw)


# ---- clicks: conditions on one click, as a struct of the summary list or a raw row


def some_click(condition: ClickCondition) -> tuple[exp.Expression, exp.Expression]:
    """(summary, raw) forms of "some click of the replay satisfies `condition`"."""
    summary = sql.true_or_false(sql.some_struct(sql.col("clicks"), condition, "c"))
    query = correlated("clicks", "c")
    raw = exists(query.select(exp.Literal.number(1)).where(condition(lambda n: sql.col(n, "c"))))
    return summary, raw


def click_attribute(
    name: str, is_list: bool = False
) -> Callable[[Accessor, Match], exp.Expression]:
    """The condition on one click that its attribute `name` matches."""

    def on_click(click: Accessor, match: Match) -> exp.Expression:
        if is_list:
            return sql.true_or_false(match.on_list(click(name)))
        value = click(name)
        return sql.true_or_false(sql.all_of(sql.non_empty(value), match.on(value)))

    return on_click


def clicked(on_click: Callable[[Accessor, Match], exp.Expression]) -> Values:
    def summary(match: Match) -> exp.Expression:
        return some_click(lambda c: on_click(c, match))[0]

    def raw(match: Match) -> exp.Expression:
        return some_click(lambda c: on_click(c, match))[1]

    return Values(summary, raw)


def raw_replays_query(condition: exp.Expression) -> exp.Select:
    """`project_id, replay_id` of the replays with a segment 0 that satisfy `condition`."""
    replays = (
        exp.select(sql.col("project_id"), sql.col("replay_id"))
        .from_("segments")
        .group_by(sql.col("project_id"), sql.col("replay_id"))
        .having(exp.EQ(this=exp.Min(this=sql.col("segment_id")), expression=exp.Literal.number(0)))
    )
    return (
        exp.select(sql.col("project_id", RAW), sql.col("replay_id", RAW))
        .from_(replays.subquery(RAW))
        .where(condition)
    )
