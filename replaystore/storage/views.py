"""DuckDB views over lists of Parquet files, built as sqlglot trees."""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.fields.schema import REPLAY_KEY
from replaystore.fields.sql import DIALECT
from replaystore.storage.layout import RAW_TABLES, table_schema
from replaystore.storage.objectstore import attach_files
from replaystore.storage.snapshot import Snapshot


def duckdb_type(t: pa.DataType) -> exp.DataType:
    """The DuckDB type of an Arrow type used by the stored schemas."""
    return _parsed_type(_type_text(t)).copy()


@lru_cache(maxsize=64)
def _parsed_type(text: str) -> exp.DataType:
    return exp.DataType.build(text, dialect=DIALECT)


def _type_text(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return f"{_type_text(t.value_type)}[]"
    if pa.types.is_struct(t):
        fields = ", ".join(f'"{f.name}" {_type_text(f.type)}' for f in t)
        return f"STRUCT({fields})"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    simple = {
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.string(): "VARCHAR",
        pa.bool_(): "BOOLEAN",
        pa.float64(): "DOUBLE",
    }
    return simple[t]


def _columns(table_schema_: pa.Schema) -> list[exp.Expression]:
    return [exp.column(name, quoted=True) for name in table_schema_.names]


def scan(files: list[str], table_schema_: pa.Schema) -> exp.Select:
    """SELECT every stored column from the files (Hive `month` included), or an empty typed
    relation when there are no files (read_parquet refuses an empty list)."""
    if not files:
        typed = [
            exp.alias_(exp.cast(exp.null(), duckdb_type(f.type)), f.name, quoted=True)
            for f in table_schema_
        ]
        return exp.select(*typed).where(exp.false())
    options = [
        exp.EQ(this=exp.column("hive_partitioning"), expression=exp.true()),
        exp.EQ(
            this=exp.column("hive_types"),
            expression=exp.Struct(
                expressions=[
                    exp.PropertyEQ(
                        this=exp.to_identifier("month"),
                        expression=exp.Literal.string("VARCHAR"),
                    )
                ]
            ),
        ),
    ]
    # No union_by_name: every file of a table has the table's schema (stores of an older layout
    # are refused at open), and unifying schemas cost each list query ~2.5 ms (medium).
    source = exp.ReadParquet(
        expressions=[exp.Array(expressions=[exp.Literal.string(f) for f in files]), *options]
    )
    return exp.select(*_columns(table_schema_)).from_(exp.Table(this=source))


def newest_per_replay(source: exp.Expression) -> exp.Select:
    """Rows of source with only the newest `updated_at` per (project_id, replay_id)."""
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column(k) for k in REPLAY_KEY],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column("updated_at"), desc=True)]),
    )
    return (
        exp.select(exp.Star())
        .from_(exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("t"))))
        .qualify(exp.EQ(this=rank, expression=exp.Literal.number(1)))
    )


def not_superseded(base: str, recent: str = "replays_recent") -> exp.Select:
    """Rows of `base` (aliased `b`) whose replay the recent tier does not hold."""
    return (
        exp.select(exp.Star())
        .from_(exp.to_table(base).as_("b"))
        .join(exp.to_table(recent).as_("r"), using=list(REPLAY_KEY), join_type="anti")
    )


def newest_recent(recent: str = "replays_recent") -> exp.Select:
    """The recent tier's newest summary row per replay."""
    return newest_per_replay(exp.select(exp.Star()).from_(recent))


def merged_replays(base: str = "replays_base", recent: str = "replays_recent") -> exp.Union:
    """Base rows not superseded by the recent tier, plus the recent tier's newest rows."""
    return exp.union(
        not_superseded(base, recent), newest_recent(recent), distinct=False, by_name=True
    )


TAG_CARRIED = ("project_id", "replay_id", "started_at", "finished_at", "environment", "month")


def tag_rows(source: exp.Expression) -> exp.Select:
    """Tag index rows (schema.TAGS columns) of the summary rows `source` (a table expression):
    one per tag pair of a replay that is not archived."""
    pair = exp.column("pair", table="p")
    not_archived = exp.Coalesce(this=exp.column("is_archived"), expressions=[exp.false()]).not_()
    unnested = (
        exp.select(
            *(exp.column(c) for c in TAG_CARRIED),
            exp.alias_(exp.Explode(this=exp.column("tags")), "pair"),
        )
        .from_(source)
        .where(not_archived)
    )
    return exp.select(
        exp.alias_(exp.Dot(this=pair.copy(), expression=exp.to_identifier("key")), "key"),
        exp.alias_(exp.Dot(this=pair.copy(), expression=exp.to_identifier("value")), "value"),
        *(exp.column(c, table="p") for c in TAG_CARRIED),
    ).from_(unnested.subquery("p"))


def live_tags(base: str = "tags_base", recent: str = "replays_recent") -> exp.Union:
    """Index rows of replays the recent tier does not hold, plus its newest rows' tags."""
    newest = tag_rows(newest_recent(recent).subquery("n"))
    return exp.union(not_superseded(base, recent), newest, distinct=False, by_name=True)


def create_view(name: str, query: exp.Expression) -> exp.Create:
    return exp.Create(
        this=exp.to_table(name),
        kind="VIEW",
        expression=query,
        replace=True,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def snapshot_files(snapshot: Snapshot) -> dict[str, list[str]]:
    return {name: list(files) for name, files in snapshot.files.items()}


# What a view reads: a query naming `replays` or `replay_tags` needs the views under it too.
VIEW_SOURCES = {t: t for t in RAW_TABLES} | {
    "replays_base": "replays",
    "replays_recent": "replays_recent",
    "tags_base": "tags",
    "selectors": "selectors",  # the ranking's precomputed counts
}
VIEW_DEPENDS = {
    "replays": ("replays_base", "replays_recent"),
    "replay_tags": ("tags_base", "replays_recent"),
}
ALL_VIEWS = (*VIEW_SOURCES, *VIEW_DEPENDS)


def views_used(query: exp.Expression) -> set[str]:
    """The store views a query reads, with the views they are built on."""
    named = {t.name for t in query.find_all(exp.Table)}
    used = {v for v in ALL_VIEWS if v in named}
    for view in list(used):
        used.update(VIEW_DEPENDS.get(view, ()))
    return used


def views_reading(tables: Collection[str]) -> set[str]:
    """The views that read only these tables (a derived view when all it is built on does)."""
    direct = {view for view, table in VIEW_SOURCES.items() if table in tables}
    derived = {view for view, under in VIEW_DEPENDS.items() if set(under) <= direct}
    return direct | derived


def register_views(
    con: duckdb.DuckDBPyConnection,
    files: dict[str, list[str]],
    *,
    only: Collection[str] | None = None,
    created: dict[str, str] | None = None,
) -> None:
    """(Re)create the temp views `segments`, `clicks`, `links`, `archives`, `viewers`,
    `replays_base`, `replays_recent`, `replays` (newest summary per replay), `tags_base`,
    `selectors` and `replay_tags` (the tag index rows of `replays`) on one connection; a table
    missing from `files` has none.

    `only` limits the work to those views (a query's `views_used`). `created` is the
    connection's record of the statement each view was last created with: a view whose
    statement is unchanged is not created again. Binding a view opens its files' metadata
    (2-15 ms a view), and under continuous ingest every commit moves the snapshot, so
    re-creating all eleven per query per thread was most of a browse's time.
    """
    listed = {table: tuple(files.get(table, ())) for table in set(VIEW_SOURCES.values())}
    wanted = set(ALL_VIEWS if only is None else only)
    for view in list(wanted):
        wanted.update(VIEW_DEPENDS.get(view, ()))
    statements: list[tuple[str, str]] = [
        (view, _view_sql(view, table, listed[table]))
        for view, table in VIEW_SOURCES.items()
        if view in wanted
    ]
    if listed["replays_recent"]:
        statements += [("replays", _merged_view_sql()), ("replay_tags", _live_tags_sql())]
    else:
        # Right after compaction `replays` is the base itself: a UNION under the list's top-N
        # stops DuckDB's late materialization (every column of every row in the window would
        # be read), and scanning the files directly skips a view level (~1 ms a list query).
        statements += [
            ("replays", _view_sql("replays", "replays", listed["replays"])),
            ("replay_tags", _view_sql("replay_tags", "tags", listed["tags"])),
        ]
    pending = [
        (view, sql)
        for view, sql in statements
        if view in wanted and (created is None or created.get(view) != sql)
    ]
    if not pending:
        return
    # Files on object storage are read through that store's fsspec filesystem (no httpfs).
    attach_files(con, (f for names in listed.values() for f in names[:1]))
    for view, sql in pending:
        if created is not None:
            created.pop(view, None)  # a failed create leaves the view unknown, not stale
        con.execute(sql)
        if created is not None:
            created[view] = sql


@lru_cache(maxsize=256)
def _view_sql(view: str, table: str, files: tuple[str, ...]) -> str:
    return create_view(view, scan(list(files), table_schema(table))).sql(dialect=DIALECT)


@lru_cache(maxsize=1)
def _live_tags_sql() -> str:
    return create_view("replay_tags", live_tags()).sql(dialect=DIALECT)


@lru_cache(maxsize=1)
def _merged_view_sql() -> str:
    return create_view("replays", merged_replays()).sql(dialect=DIALECT)
