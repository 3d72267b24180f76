"""The `selectors` table: signed click counts per (project, UTC day, environment, element).

The replay-selectors ranking groups every click of a window by its element. Reading
every click row of 90 days per request is what Sentry does; here the store keeps the counts
precomputed instead, one row per group of clicks, maintained with the raw rows:

* a write appends `+1` rows for the clicks it stores, and for a plain click replaced by its
  dead/rage version a `-1` row of the stored one beside the `+1` of the new one;
* `DELETE` and retention append `-1` rows for the clicks they purge, in the same publish;
* compaction sums each month's rows into one per group and drops groups that sum to nothing.

So at every published snapshot, the sum of the rows of a (day, group) equals what a GROUP BY
over that day's stored click rows gives. The query reads whole days from here and the partial
days at the window's edges from the click rows (query/selectors.py). Rows of plain clicks and
rows of dead or rage clicks are kept apart (`flagged`), and compaction writes flagged rows
first: the ranking the UI asks for (`!count_dead_clicks:0`) then reads only those row groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields.clicks import ELEMENT, FLAGS
from replaystore.fields.schema import REPLAY_KEY
from replaystore.fields.sql import DIALECT
from replaystore.storage.properties import WRITER_PROPERTIES
from replaystore.storage.tables import COMMIT, append, retry_on_conflict
from replaystore.storage.views import register_views

if TYPE_CHECKING:
    from replaystore.storage.store import Store

TABLE = "selectors"
GROUP = ("project_id", "day", "environment", *ELEMENT, "element_key", "flagged", "month")
# `element_key` joins the attributes with these separators (the class list with the second):
# the ranking groups by (project_id, element_key), one short text instead of nine columns
# and a list (medium: ~100 -> ~30 ms), and reads the attributes back from it.
FIELD_SEPARATOR, CLASS_SEPARATOR = "\x1f", "\x1e"
# The click columns the counts are computed from.
READ = ("project_id", "timestamp", "environment", *ELEMENT, *FLAGS, "month")
_SOURCE = "selector_clicks"


def element_class(column: exp.Expression) -> exp.Expression:
    """The class list without its empty strings (order and duplicates kept)."""
    item = exp.to_identifier("c")
    keep = exp.NEQ(this=exp.column(item), expression=exp.Literal.string(""))
    return exp.ArrayFilter(this=column, expression=exp.Lambda(this=keep, expressions=[item]))


def element_key(columns: dict[str, exp.Expression]) -> exp.Expression:
    """The element's attributes (class already filtered) as one text, in ELEMENT order."""
    parts = [
        exp.ArrayToString(this=columns[c], expression=exp.Literal.string(CLASS_SEPARATOR))
        if c == "class"
        else columns[c]
        for c in ELEMENT
    ]
    # `a || sep || b ...`: the attributes are never null (schema.py), and CONCAT_WS's null
    # guards would make each ranking query longer to plan.
    key = parts[0]
    for part in parts[1:]:
        key = exp.DPipe(
            this=exp.DPipe(this=key, expression=exp.Literal.string(FIELD_SEPARATOR)),
            expression=part,
        )
    return key


def element_of_key(key: str) -> dict[str, object] | None:
    """The attributes an `element_key` was made of; None if a value held a separator."""
    parts = key.split(FIELD_SEPARATOR)
    if len(parts) != len(ELEMENT):
        return None
    element: dict[str, object] = dict(zip(ELEMENT, parts, strict=True))
    classes = parts[ELEMENT.index("class")]
    element["class"] = classes.split(CLASS_SEPARATOR) if classes else []
    return element


def raw_element_columns() -> dict[str, exp.Expression]:
    """The element attributes of click rows, the class list without its empty strings."""
    return {
        c: element_class(exp.column(c, quoted=True)) if c == "class" else exp.column(c, quoted=True)
        for c in ELEMENT
    }


def flag(column: str, sign: exp.Expression) -> exp.Expression:
    return exp.If(this=exp.column(column), true=sign, false=exp.Literal.number(0))


def is_flagged() -> exp.Expression:
    return exp.or_(exp.column("is_dead"), exp.column("is_rage"))


def clicked() -> exp.Expression:
    """Click rows of the ranking: taps (mobile, tag "") never appear."""
    return exp.NEQ(this=exp.column("tag"), expression=exp.Literal.string(""))


def _grouped(source: str) -> exp.Select:
    sign = exp.column("sign")
    columns: list[exp.Expression] = [
        exp.column(c) for c in ("project_id", "day", "environment", *ELEMENT[:2])
    ]
    columns.append(exp.alias_(element_class(exp.column("class", quoted=True)), "class"))
    columns += [exp.column(c) for c in ELEMENT[3:]]
    columns += [
        exp.alias_(element_key(raw_element_columns()), "element_key"),
        exp.alias_(is_flagged(), "flagged"),
        exp.column("month"),  # the GROUP columns first, in order
        exp.alias_(exp.Sum(this=sign.copy()), "clicks"),
        exp.alias_(exp.Sum(this=flag("is_dead", sign.copy())), "dead"),
        exp.alias_(exp.Sum(this=flag("is_rage", sign.copy())), "rage"),
        exp.alias_(exp.false(), "folded"),  # a delta: compaction folds it
    ]
    return (
        exp.select(*columns)
        .from_(source)
        .where(clicked())
        .group_by(*(exp.Literal.number(i + 1) for i in range(len(GROUP))))
    )


def _with_day_and_sign(clicks: pa.Table, sign: int) -> pa.Table:
    day = pc.floor_temporal(clicks.column("timestamp"), unit="day")
    rows = clicks.append_column("day", day)
    return rows.append_column("sign", pa.array([sign] * rows.num_rows, pa.int64()))


def counts(con: duckdb.DuckDBPyConnection, clicks: Iterable[tuple[pa.Table, int]]) -> pa.Table:
    """The `selectors` rows of click rows (at least the READ columns), each with its sign."""
    parts = [_with_day_and_sign(t.select(READ), s) for t, s in clicks if t.num_rows]
    if not parts:
        return schema.SELECTOR_COUNTS.empty_table()
    con.register(_SOURCE, pa.concat_tables(parts, promote_options="permissive"))
    try:
        table = con.sql(_grouped(_SOURCE).sql(dialect=DIALECT)).to_arrow_table()
    finally:
        con.unregister(_SOURCE)
    return table.select(schema.SELECTOR_COUNTS.names).cast(schema.SELECTOR_COUNTS)


def stored_clicks(con: duckdb.DuckDBPyConnection, keys: Iterable[tuple[int, str]]) -> pa.Table:
    """Every stored click row of these replays (the `clicks` view of `con`)."""
    pairs = sorted(set(keys))
    if not pairs:
        return schema.CLICKS.empty_table()
    wanted = exp.In(
        this=exp.Tuple(expressions=[exp.column(k) for k in REPLAY_KEY]),
        expressions=[
            exp.Tuple(expressions=[exp.convert(p), exp.Literal.string(r)]) for p, r in pairs
        ],
    )
    replay_ids = exp.In(
        this=exp.column("replay_id"),
        expressions=[exp.Literal.string(r) for r in sorted({r for _, r in pairs})],
    )
    query = exp.select(*schema.CLICKS.names).from_("clicks").where(exp.and_(replay_ids, wanted))
    rows = con.sql(query.sql(dialect=DIALECT)).to_arrow_table()
    return rows.select(schema.CLICKS.names).cast(schema.CLICKS)


def replaced_clicks(con: duckdb.DuckDBPyConnection, replaced: pa.Table) -> pa.Table:
    """The stored versions of the clicks `replaced` is about to overwrite (same key)."""
    if replaced.num_rows == 0:
        return schema.CLICKS.empty_table()
    keys = zip(
        replaced.column("project_id").to_pylist(),
        replaced.column("replay_id").to_pylist(),
        strict=True,
    )
    stored = stored_clicks(con, keys)
    hashes = pc.is_in(stored.column("event_hash"), value_set=replaced.column("event_hash"))
    return stored.filter(hashes)


def record(store: Store, rows: pa.Table) -> bool:
    """Append count rows to the writer's table (call with the lock held, then publish)."""
    return append(store.tables[TABLE], rows)


# -- compaction and rebuilding ------------------------------------------------------------

TOTALS_MONTH = "all"  # the partition of the all-time totals (after every "YYYY-MM")
_SUMS = ("clicks", "dead", "rage")


def _nonzero() -> exp.Expression:
    return exp.or_(
        *(exp.NEQ(this=exp.Sum(this=exp.column(c)), expression=exp.Literal.number(0))
          for c in _SUMS)
    )  # fmt: skip


def _summed(source: exp.Expression, *, keep_folded: bool = False) -> exp.Select:
    """One folded row per group of `source` (count rows), zero groups dropped, flagged rows
    first (compaction's sort: the ranking prunes row groups of plain clicks). With
    `keep_folded`, folded rows and deltas are summed apart and stay what they were."""
    names = [*GROUP, "folded"] if keep_folded else list(GROUP)
    keys = [exp.column(c, quoted=True) for c in names]
    sums = [exp.alias_(exp.Sum(this=exp.column(c)), c) for c in _SUMS]
    folded = [] if keep_folded else [exp.alias_(exp.true(), "folded")]
    order = [
        exp.Ordered(this=exp.column("flagged"), desc=True),
        exp.Ordered(this=exp.column("project_id")),
        exp.Ordered(this=exp.column("day")),
    ]
    return (
        exp.select(*keys, *sums, *folded)
        .from_(source)
        .group_by(*(exp.Literal.number(i + 1) for i in range(len(names))))
        .having(_nonzero())
        .order_by(*order)
    )


def _totals(view: str) -> exp.Select:
    """The all-time totals of the day rows of `view`: per environment, and over every
    environment (`environment` null); flagged rows first, most dead clicks first."""

    def part(environment: exp.Expression) -> exp.Select:
        carried = [c for c in GROUP if c not in ("day", "environment", "month")]
        return (
            exp.select(
                "project_id",
                exp.alias_(exp.cast(exp.null(), exp.DataType.build("TIMESTAMPTZ")), "day"),
                exp.alias_(environment, "environment"),
                *(exp.column(c, quoted=True) for c in carried if c != "project_id"),
                exp.alias_(exp.Literal.string(TOTALS_MONTH), "month"),
                *(exp.alias_(exp.Sum(this=exp.column(c)), c) for c in _SUMS),
                exp.alias_(exp.true(), "folded"),
            )
            .from_(view)
            .where(exp.NEQ(this=exp.column("month"), expression=exp.Literal.string(TOTALS_MONTH)))
            .group_by(*(exp.Literal.number(i + 1) for i in range(len(GROUP))))
            .having(_nonzero())
        )

    every = exp.cast(exp.null(), exp.DataType.build("VARCHAR"))
    both = exp.union(part(exp.column("environment")), part(every), distinct=False)
    return (
        exp.select(exp.Star())
        .from_(exp.Subquery(this=both, alias=exp.TableAlias(this=exp.to_identifier("t"))))
        .order_by(
            exp.Ordered(this=exp.column("flagged"), desc=True),
            exp.Ordered(this=exp.column("environment"), nulls_first=True),
            exp.Ordered(this=exp.column("dead"), desc=True),
        )
    )


def _write_month(dt: DeltaTable, rows: pa.Table, month: str) -> None:
    predicate = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month)).sql()

    def run() -> None:
        if rows.num_rows:
            write_deltalake(
                dt,
                rows,
                mode="overwrite",
                predicate=predicate,
                writer_properties=WRITER_PROPERTIES,
                commit_properties=COMMIT,
            )
        else:
            dt.delete(predicate, writer_properties=WRITER_PROPERTIES, commit_properties=COMMIT)

    retry_on_conflict(run)


def _months(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    query = exp.select("month").distinct().from_(view).order_by("month")
    return [m for (m,) in con.sql(query.sql(dialect=DIALECT)).fetchall() if m is not None]


def _day_files(dt: DeltaTable) -> list[str]:
    return [f for f in dt.file_uris() if f"/month={TOTALS_MONTH}/" not in f]


def _write_totals(con: duckdb.DuckDBPyConnection, dt: DeltaTable) -> None:
    """Rewrite the all-time totals; `con`'s TABLE view must read `_day_files(dt)`."""
    totals = con.sql(_totals(TABLE).sql(dialect=DIALECT)).to_arrow_table()
    _write_month(dt, _typed(totals), TOTALS_MONTH)


def consolidate(store: Store) -> int:
    """Sum each month's count rows into one folded row per group and rewrite the all-time
    totals (call with the lock held, then publish); returns how many months were rewritten."""
    dt = store.tables[TABLE]
    files = _day_files(dt)
    if not files:
        return 0
    con = store.scan_connection({TABLE: files})
    months = _months(con, TABLE)
    for month in months:
        in_month = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month))
        source = exp.select(exp.Star()).from_(TABLE).where(in_month).subquery("s")
        rows = con.sql(_summed(source).sql(dialect=DIALECT)).to_arrow_table()
        _write_month(dt, _typed(rows), month)
    _write_totals(store.scan_connection({TABLE: _day_files(dt)}), dt)
    return len(months)


def unfolded_rows(store: Store) -> int:
    """Rows written since the last compaction (deltas of writes, deletions, retention)."""
    con = store.scan_connection({TABLE: _day_files(store.tables[TABLE])})
    deltas = exp.not_(exp.column("folded"))
    query = exp.select(exp.Count(this=exp.Star())).from_(TABLE).where(deltas)
    return int(con.sql(query.sql(dialect=DIALECT)).fetchall()[0][0])


def fold_deltas(store: Store) -> int:
    """Sum the months holding deltas into one row per group and kind (folded rows and deltas
    apart, so the totals stay valid without being rewritten); call with the lock held, then
    publish. Returns how many months were rewritten. Compaction folds them for good."""
    dt = store.tables[TABLE]
    con = store.scan_connection({TABLE: _day_files(dt)})
    months = exp.select("month").distinct().from_(TABLE).where(exp.not_(exp.column("folded")))
    touched = sorted(m for (m,) in con.sql(months.sql(dialect=DIALECT)).fetchall())
    for month in touched:
        in_month = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month))
        source = exp.select(exp.Star()).from_(TABLE).where(in_month).subquery("s")
        query = _summed(source, keep_folded=True)
        rows = con.sql(query.sql(dialect=DIALECT)).to_arrow_table()
        _write_month(dt, _typed(rows), month)
    return len(touched)


def rebuild(store: Store) -> int:
    """Recompute the whole table from the stored click rows (a store written by a bulk
    loader); call with the lock held, then publish. Returns how many day rows it holds."""
    return rebuild_table(store.tables["clicks"], store.tables[TABLE])


def rebuild_table(clicks_table: DeltaTable, dt: DeltaTable) -> int:
    """Recompute the counts table `dt` from the latest files of `clicks_table`."""
    clicks = clicks_table.file_uris()
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    try:
        register_views(con, {"clicks": clicks})
        total = _rebuild(con, dt, _months(con, "clicks") if clicks else [])
        register_views(con, {TABLE: _day_files(dt)})
        _write_totals(con, dt)
        return total
    finally:
        con.close()


def _rebuild(con: duckdb.DuckDBPyConnection, dt: DeltaTable, months: list[str]) -> int:
    total = 0
    for month in months:
        in_month = exp.EQ(this=exp.column("month"), expression=exp.Literal.string(month))
        query = exp.select(*(exp.column(c, quoted=True) for c in READ))
        rows = con.sql(query.from_("clicks").where(in_month).sql(dialect=DIALECT)).to_arrow_table()
        grouped = counts(con, [(rows, 1)])
        con.register("selector_month", grouped)
        try:
            summed = con.sql(_summed(exp.to_table("selector_month")).sql(dialect=DIALECT))
            table = _typed(summed.to_arrow_table())
        finally:
            con.unregister("selector_month")
        _write_month(dt, table, month)
        total += table.num_rows
    stale = {p["month"] for p in dt.partitions()} - {*months, TOTALS_MONTH}
    for month in sorted(stale):
        _write_month(dt, schema.SELECTOR_COUNTS.empty_table(), month)
    return total


def _typed(rows: pa.Table) -> pa.Table:
    return rows.select(schema.SELECTOR_COUNTS.names).cast(schema.SELECTOR_COUNTS)
