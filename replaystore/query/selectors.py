"""The dead/rage click selector ranking (`replay-selectors`).

Clicks are grouped by project and element (tag, id, class list without empty strings, role,
alt, testid, aria label, title, component name); each group counts its dead and rage clicks.
Whole UTC days of the window come from the precomputed `selectors` counts
(storage/selector_counts.py), the partial days at its edges from the click rows themselves, so
a request reads at most two days of click rows whatever the window. When the search rejects a
group without dead or rage clicks (the UI's `!count_dead_clicks:0`), only flagged rows are read.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from replaystore.errors import SearchError
from replaystore.fields.clicks import DISPLAYED, ELEMENT
from replaystore.query.common import (
    FULL_PAGE,
    Executor,
    Page,
    Paged,
    Window,
    conjunction,
    paged,
    project_condition,
)
from replaystore.search import parse, values
from replaystore.search.compiler import COMPARISONS, NEGATED, key_label
from replaystore.search.nodes import And, Filter, FreeText, Has, ListValue, Node, Or
from replaystore.storage.selector_counts import (
    TOTALS_MONTH,
    clicked,
    element_key,
    element_of_key,
    is_flagged,
    raw_element_columns,
)

COUNTS = {"count_dead_clicks": "dead", "count_rage_clicks": "rage"}
DEFAULT_SORT = "-count_dead_clicks"
SORTS = frozenset(f"{sign}{name}" for name in COUNTS for sign in ("", "-"))
# The comparisons of COMPARISONS on plain counts (does a search admit a group without clicks?).
_PYTHON: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}
_INTEGER = re.compile(r"-?(\d{1,18}(\.\d*)?|\.\d{1,18})")
_DAY = timedelta(days=1)
SUMS = ("clicks", "dead", "rage")
# From this many whole days on, the flagged ranking starts from the all-time totals: with
# 90 days of retention, what lies outside the window is then the smaller part.
TOTALS_FROM = timedelta(days=45)

Counts = dict[str, int]


# ---- the search language: the two counts, compared as integers -------------------------


@dataclass(frozen=True)
class Having:
    """A compiled `query`: the HAVING condition, and the same test on plain Python counts."""

    condition: exp.Expression
    holds: Callable[[Counts], bool]


def _integer(key: str, text: str) -> int:
    """Sentry reads the value as a float and truncates it (`2.9` is 2); anything else fails."""
    if not _INTEGER.fullmatch(text):
        raise values.could_not_parse(key, "Failed to parse int.")
    try:
        return int(Decimal(text))
    except InvalidOperation:
        raise values.could_not_parse(key, "Failed to parse int.") from None


def _leaf(node: Filter) -> Having:
    key = key_label(node.key)
    column = COUNTS.get(node.key.name) if node.key.kind != "tag" else None
    if column is None:
        raise SearchError(f"Unsupported search field: {key}")
    if isinstance(node.value, ListValue):
        numbers = [_integer(key, item.text) for item in node.value.items]
        op = "NOT IN" if node.negated else "IN"
    else:
        numbers = [_integer(key, node.value.text)]
        op = node.op or "="
        op = NEGATED[op] if node.negated else op
    total = exp.column(column)
    if op in ("IN", "NOT IN"):
        member: exp.Expression = exp.In(
            this=total, expressions=[exp.Literal.number(n) for n in numbers]
        )
        inside = set(numbers)
        if op == "NOT IN":
            return Having(exp.not_(member), lambda c: c[column] not in inside)
        return Having(member, lambda c: c[column] in inside)
    number, test = numbers[0], _PYTHON[op]
    condition = COMPARISONS[op](this=total, expression=exp.Literal.number(number))
    return Having(condition, lambda c: test(c[column], number))


def _compile(node: Node) -> Having:
    if isinstance(node, And | Or):
        parts = [_compile(child) for child in node.children]
        if isinstance(node, And):
            return Having(
                exp.and_(*(p.condition for p in parts)), lambda c: all(p.holds(c) for p in parts)
            )
        return Having(
            exp.or_(*(p.condition for p in parts)), lambda c: any(p.holds(c) for p in parts)
        )
    if isinstance(node, FreeText):
        raise SearchError("Unsupported search field: message")
    if isinstance(node, Has):
        raise SearchError("Unsupported search field: has")
    return _leaf(node)


def compile_selector_search(text: str) -> Having | None:
    """The `query` of replay-selectors: only `count_dead_clicks` and `count_rage_clicks`, with
    `=`, `!=`, `>`, `>=`, `<`, `<=` and lists; None for an empty query."""
    tree = parse(text) if text.strip() else None
    return _compile(tree) if tree is not None else None


# ---- the query ------------------------------------------------------------------------


def _sort(sort: str) -> tuple[str, bool]:
    text = sort.strip() or DEFAULT_SORT
    if text not in SORTS:
        raise SearchError(f"The field `{text.removeprefix('-')}` is not a sortable field.")
    return COUNTS[text.removeprefix("-")], text.startswith("-")


def _day_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def split(window: Window) -> tuple[Window | None, list[Window]]:
    """The window's whole UTC days (None if it holds none) and its partial edges."""
    first = _day_floor(window.start)
    if first < window.start:
        first += _DAY
    last = _day_floor(window.end)
    if first >= last:
        return None, [window]
    edges = [Window(window.start, first), Window(last, window.end)]
    return Window(first, last), [w for w in edges if w.start < w.end]


def _environment(environments: Sequence[str]) -> exp.Expression | None:
    if not environments:
        return None
    return exp.column("environment").isin(*(exp.Literal.string(e) for e in environments))


def _keys() -> list[exp.Expression]:
    return [exp.column("project_id"), exp.column("element_key")]


def _from_counts(days: Window, where: list[exp.Expression | None], flagged: bool) -> exp.Select:
    conditions = [
        *(w.copy() if w is not None else None for w in where),
        days.condition("day"),
        days.month_condition(),
        exp.column("flagged") if flagged else None,
    ]
    columns = [*_keys(), *(exp.column(c) for c in ("clicks", "dead", "rage"))]
    return exp.select(*columns).from_("selectors").where(conjunction(conditions))


def _from_clicks(
    edges: list[Window], where: list[exp.Expression | None], flagged: bool
) -> exp.Select:
    in_edges = exp.or_(*(e.condition("timestamp") for e in edges))
    months = exp.or_(*(e.month_condition() for e in edges))
    conditions = [
        *(w.copy() if w is not None else None for w in where),
        clicked(),
        in_edges,
        months,
        is_flagged() if flagged else None,
    ]
    columns = [
        exp.column("project_id"),
        exp.alias_(element_key(raw_element_columns()), "element_key"),
        exp.alias_(exp.Literal.number(1), "clicks"),
        exp.alias_(exp.Cast(this=exp.column("is_dead"), to=exp.DataType.build("BIGINT")), "dead"),
        exp.alias_(exp.Cast(this=exp.column("is_rage"), to=exp.DataType.build("BIGINT")), "rage"),
    ]
    return exp.select(*columns).from_("clicks").where(conjunction(conditions))


def _summed(parts: Sequence[exp.Select]) -> exp.Select:
    """The rows of `parts` (project_id, element_key, clicks, dead, rage) summed per group."""
    rows: exp.Expression = parts[0]
    for part in parts[1:]:
        rows = exp.union(rows, part, distinct=False)
    sums = [exp.alias_(exp.Sum(this=exp.column(c)), c) for c in SUMS]
    return (
        exp.select(*_keys(), *sums)
        .from_(exp.Subquery(this=rows, alias=exp.TableAlias(this=exp.to_identifier("r"))))
        .group_by(*_keys())
    )


def _negated(select: exp.Select) -> exp.Select:
    """`select` (a part) with its three counts negated."""
    columns = [
        exp.alias_(exp.Neg(this=exp.column(c)), c) if c in SUMS else exp.column(c)
        for c in ("project_id", "element_key", *SUMS)
    ]
    return exp.select(*columns).from_(select.subquery("n"))


def _from_totals(
    project_ids: Sequence[int], environments: Sequence[str], days: Window, edges: list[Window]
) -> exp.Subquery:
    """Flagged groups of a long window from compaction's all-time totals, corrected by the
    folded day rows outside the window's whole days (taken off), the deltas written since the
    last compaction inside them, and the edge clicks: no GROUP BY over the window's groups."""
    env = _environment(environments)
    scope = [project_condition(project_ids), env, exp.column("flagged")]
    scoped = [c.copy() for c in scope if c is not None]
    every = exp.Is(this=exp.column("environment"), expression=exp.null())
    in_totals = exp.alias_(exp.Literal.number(1), "in_totals")
    listed = [*_keys(), *(exp.column(c) for c in SUMS), in_totals]
    totals = exp.select(*listed).from_("selectors").where(
        conjunction([
            *scoped,
            exp.EQ(this=exp.column("month"), expression=exp.Literal.string(TOTALS_MONTH)),
            None if environments else every,
        ])
    )  # fmt: skip
    day_rows = [
        exp.NEQ(this=exp.column("month"), expression=exp.Literal.string(TOTALS_MONTH)),
        *(c.copy() for c in scoped),
    ]
    outside = exp.select(*_keys(), *(exp.column(c) for c in SUMS)).from_("selectors").where(
        conjunction([*day_rows, exp.column("folded"), exp.not_(days.condition("day"))])
    )  # fmt: skip
    recent = exp.select(*_keys(), *(exp.column(c) for c in SUMS)).from_("selectors").where(
        conjunction([
            *(c.copy() for c in day_rows),
            exp.not_(exp.column("folded")),
            days.condition("day"),
            days.month_condition(),
        ])
    )  # fmt: skip
    parts = [_negated(outside), recent]
    if edges:
        parts.append(_from_clicks(edges, [project_condition(project_ids), env], True))
    corrections = _summed(parts)

    # The key of whichever side holds the group. Not COALESCE over the keys: ClickHouse fills
    # the missing side of an outer join with default values (0, ""), not NULL.
    held = exp.EQ(
        this=exp.Coalesce(
            this=exp.column("in_totals", table="t"), expressions=[exp.Literal.number(0)]
        ),
        expression=exp.Literal.number(1),
    )

    def either(column: str) -> exp.Expression:
        return exp.If(
            this=held.copy(),
            true=exp.column(column, table="t"),
            false=exp.column(column, table="c"),
        )

    def added(column: str) -> exp.Expression:
        zero = exp.Literal.number(0)
        return exp.Add(
            this=exp.Coalesce(this=exp.column(column, table="t"), expressions=[zero]),
            expression=exp.Coalesce(this=exp.column(column, table="c"), expressions=[zero.copy()]),
        )

    on = exp.and_(
        *(exp.EQ(this=exp.column(k, table="t"), expression=exp.column(k, table="c"))
          for k in ("project_id", "element_key"))
    )  # fmt: skip
    joined = (
        exp.select(
            exp.alias_(either("project_id"), "project_id"),
            exp.alias_(either("element_key"), "element_key"),
            *(exp.alias_(added(c), c) for c in SUMS),
        )
        .from_(totals.subquery("t"))
        .join(corrections.subquery("c"), on=on, join_type="full outer")
    )
    return joined.subquery("g")


def ranking_query(
    *,
    project_ids: Sequence[int],
    window: Window,
    page: Page,
    query: str = "",
    sort: str = DEFAULT_SORT,
    environments: Sequence[str] = (),
) -> exp.Select:
    """The SELECT of one page of the ranking (validates `query` and `sort`)."""
    having = compile_selector_search(query)
    column, descending = _sort(sort)
    # Groups without dead or rage clicks can only match when the search admits zero counts.
    flagged = having is not None and not having.holds({"dead": 0, "rage": 0})
    where = [project_condition(project_ids), _environment(environments)]
    days, edges = split(window)
    if (
        days is not None
        and flagged
        and len(environments) <= 1
        and days.end - days.start >= TOTALS_FROM
    ):
        summed = _from_totals(project_ids, environments, days, edges)
    else:
        parts: list[exp.Select] = []
        if days is not None:
            parts.append(_from_counts(days, where, flagged))
        if edges:
            parts.append(_from_clicks(edges, where, flagged))
        summed = _summed(parts).subquery("g")
    other = "rage" if column == "dead" else "dead"
    exists = exp.GT(this=exp.column("clicks"), expression=exp.Literal.number(0))
    order = [
        exp.Ordered(this=exp.column(column), desc=descending),
        exp.Ordered(
            this=exp.column(other), desc=True
        ),  # a deterministic tie-breaker (Sentry has none)
        exp.Ordered(this=exp.column("element_key")),
        exp.Ordered(this=exp.column("project_id")),
    ]
    select = (
        exp.select(exp.Star())
        .from_(summed)
        .where(exp.and_(exists, having.condition) if having else exists)
        .order_by(*order)
    )
    return page.apply(select)


def dom_element(element: dict[str, Any]) -> str:
    """Sentry's selector text: tag, #id, .classes, then display-named attributes, raw."""
    out = element["tag"]
    if element["id"]:
        out += f"#{element['id']}"
    if element["class"]:
        out += "." + ".".join(element["class"])
    for name, key in DISPLAYED:
        if element[key]:
            out += f'[{name}="{element[key]}"]'
    return out


def _attributes(engine: Executor, project_id: int, key: str) -> dict[str, Any]:
    """The attributes of a key `element_of_key` cannot split (a value held a separator)."""
    columns = raw_element_columns()
    where = conjunction(
        [
            exp.column("project_id").eq(exp.Literal.number(project_id)),
            exp.EQ(this=element_key(raw_element_columns()), expression=exp.Literal.string(key)),
        ]
    )
    select = exp.select(*(exp.alias_(columns[c], c) for c in ELEMENT)).from_("clicks")
    rows = engine.execute(select.where(where).limit(1))
    return rows[0] if rows else dict.fromkeys(ELEMENT, "") | {"class": []}


def _item(engine: Executor, row: dict[str, Any]) -> dict[str, Any]:
    attributes = element_of_key(row["element_key"])
    if attributes is None:
        attributes = _attributes(engine, int(row["project_id"]), row["element_key"])
    element = {
        key: attributes[key] if key != "class" else list(attributes[key] or []) for key in ELEMENT
    }
    element["project_id"] = int(row["project_id"])
    return {
        "count_dead_clicks": int(row["dead"]),
        "count_rage_clicks": int(row["rage"]),
        "dom_element": dom_element(element),
        "element": dict(sorted(element.items())),
        "project_id": int(row["project_id"]),
    }


def list_selectors(
    engine: Executor,
    *,
    project_ids: Sequence[int],
    window: Window,
    page: Page = FULL_PAGE,
    query: str = "",
    sort: str = DEFAULT_SORT,
    environments: Sequence[str] = (),
) -> Paged:
    """One page of `{count_dead_clicks, count_rage_clicks, dom_element, element, project_id}`."""
    if not project_ids:  # before any validation, as Sentry
        return Paged([], False)
    select = ranking_query(
        project_ids=project_ids,
        window=window,
        page=page,
        query=query,
        sort=sort,
        environments=environments,
    )
    result = paged(engine.execute(select), page)
    return Paged([_item(engine, row) for row in result.items], result.has_more)
