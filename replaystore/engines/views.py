"""The snapshot views for engines other than DuckDB, as portable sqlglot trees.

DuckDB's views (storage/views.py) lean on DuckDB: `CREATE TEMPORARY VIEW`, `UNION ALL BY
NAME`, `ANTI JOIN ... SELECT *`. ClickHouse and Spark have none of those, so the same views
are built here with explicit column lists (both sides of a UNION in schema order), a tuple
`NOT IN` for "not superseded by the recent tier" and a `ROW_NUMBER()` in a subquery for "the
newest row per replay". How a table's files are read is the one thing an engine supplies
(`scan`); everything else is shared.

The views (as in DuckDB): `segments`, `clicks`, `links`, `archives`, `replays_base`,
`replays_recent`, `tags_base`, `replays` (newest summary per replay) and `replay_tags`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa
from sqlglot import exp

from replaystore.fields.schema import REPLAY_KEY
from replaystore.storage.layout import RAW_TABLES, table_schema
from replaystore.storage.snapshot import Snapshot
from replaystore.storage.views import TAG_CARRIED

# view name -> stored table it reads
SCANNED: dict[str, str] = {t: t for t in RAW_TABLES} | {
    "replays_base": "replays",
    "replays_recent": "replays_recent",
    "tags_base": "tags",
    "selectors": "selectors",  # the selector ranking's counts (storage/selector_counts.py)
}
MERGED = ("replays", "replay_tags")
VIEWS = (*SCANNED, *MERGED)
# A merged view and the views it reads (in the order they must be defined).
DEPENDS: dict[str, tuple[str, ...]] = {
    "replays": ("replays_base", "replays_recent"),
    "replay_tags": ("tags_base", "replays_recent"),
}
_RANK = "_newest"

Scan = Callable[[str, str, Snapshot], exp.Select]


def columns(table: str) -> list[str]:
    """The stored columns of a table, Hive `month` included, in schema order."""
    schema: pa.Schema = table_schema(table)
    return list(schema.names)


def _cols(names: Iterable[str], table: str | None = None) -> list[exp.Column]:
    return [exp.column(n, table=table, quoted=True) for n in names]


def not_superseded(base: str, names: list[str], recent: str = "replays_recent") -> exp.Select:
    """Rows of `base` whose replay the recent tier does not hold."""
    key = exp.Tuple(expressions=_cols(REPLAY_KEY))
    held = exp.select(*_cols(REPLAY_KEY)).from_(recent)
    kept = exp.In(this=key, query=held.subquery()).not_()
    return exp.select(*_cols(names)).from_(base).where(kept)


def newest_recent(names: list[str], recent: str = "replays_recent") -> exp.Select:
    """The recent tier's newest summary row per replay (the newest `updated_at` wins)."""
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=_cols(REPLAY_KEY),
        order=exp.Order(expressions=[exp.Ordered(this=exp.column("updated_at"), desc=True)]),
    )
    ranked = exp.select(*_cols(names), exp.alias_(rank, _RANK)).from_(recent)
    return (
        exp.select(*_cols(names))
        .from_(ranked.subquery("n"))
        .where(exp.EQ(this=exp.column(_RANK), expression=exp.Literal.number(1)))
    )


def merged_replays() -> exp.Union:
    names = columns("replays")
    return exp.union(not_superseded("replays_base", names), newest_recent(names), distinct=False)


def tag_rows(source: exp.Expression) -> exp.Select:
    """Tag index rows (schema.TAGS order) of the summary rows `source` (a subquery)."""
    pair = exp.column("pair", table="p")
    not_archived = exp.Coalesce(this=exp.column("is_archived"), expressions=[exp.false()]).not_()
    unnested = (
        exp.select(*_cols(TAG_CARRIED), exp.alias_(exp.Explode(this=exp.column("tags")), "pair"))
        .from_(source)
        .where(not_archived)
    )
    fields = {
        name: exp.Dot(this=pair.copy(), expression=exp.to_identifier(name))
        for name in ("key", "value")
    }
    carried = {name: exp.column(name, table="p", quoted=True) for name in TAG_CARRIED}
    ordered = [exp.alias_((fields | carried)[n], n, quoted=True) for n in columns("tags")]
    return exp.select(*ordered).from_(unnested.subquery("p"))


def live_tags() -> exp.Union:
    newest = tag_rows(newest_recent(columns("replays")).subquery("n"))
    return exp.union(not_superseded("tags_base", columns("tags")), newest, distinct=False)


def view_queries(snapshot: Snapshot, scan: Scan) -> dict[str, exp.Select | exp.Union]:
    """Every view's query over the snapshot; `scan(view, table, snapshot)` reads one table."""
    views: dict[str, exp.Select | exp.Union] = {
        view: scan(view, table, snapshot) for view, table in SCANNED.items()
    }
    if snapshot.files.get("replays_recent"):
        views["replays"] = merged_replays()
        views["replay_tags"] = live_tags()
    else:
        # Right after compaction the summary is the base itself (as DuckDB's views).
        views["replays"] = views["replays_base"].copy()
        views["replay_tags"] = views["tags_base"].copy()
    return views


def referenced(tree: exp.Expression) -> set[str]:
    """The view names a query reads (unqualified table references)."""
    return {t.name for t in tree.find_all(exp.Table) if not t.db and t.name in VIEWS}


def needed(tree: exp.Expression) -> list[str]:
    """The views a query reads and the views those read, each after what it reads."""
    wanted: list[str] = []
    for name in sorted(referenced(tree)):
        for view in (*DEPENDS.get(name, ()), name):
            if view not in wanted:
                wanted.append(view)
    return wanted


def ctes(views: dict[str, exp.Expression], names: list[str]) -> list[exp.CTE]:
    return [
        exp.CTE(this=views[name].copy(), alias=exp.TableAlias(this=exp.to_identifier(name)))
        for name in names
    ]


def with_views(tree: exp.Expression, views: dict[str, exp.Expression]) -> exp.Expression:
    """`tree` with a CTE for every view it reads, defined before use. A copy: the caller's
    tree is left as it was."""
    wanted = needed(tree)
    if not wanted:
        return tree
    wrapped = tree.copy()
    defined = ctes(views, wanted)
    existing = wrapped.args.get("with_")
    if existing is not None:
        defined.extend(existing.expressions)
    wrapped.set("with_", exp.With(expressions=defined))
    return wrapped
