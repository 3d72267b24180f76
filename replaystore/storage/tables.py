"""Creating, opening and appending to the store's Delta tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from sqlglot import exp

from replaystore.errors import ReplayStoreError
from replaystore.fields.schema import ADDED_COLUMNS
from replaystore.storage.layout import ALL_TABLES, Layout, table_schema
from replaystore.storage.properties import PARTITION_BY, WRITER_PROPERTIES, table_configuration

T = TypeVar("T")

# Every commit replaystore makes carries this in its commitInfo: recovery rolls back only
# unpublished commits that bear it (Store.recover), never another program's.
WRITER_TAG = {"replaystore.writer": "replaystore"}
# Blind appends from several processes need more than deltalake's default 15 retries.
COMMIT = CommitProperties(max_commit_retries=100, custom_metadata=dict(WRITER_TAG))


def made_by_replaystore(commit_info: dict) -> bool:
    """True for a commit (a `DeltaTable.history()` entry) that a replaystore writer made."""
    return all(commit_info.get(k) == v for k, v in WRITER_TAG.items())


def open_or_create(layout: Layout, table: str, storage_options: dict | None) -> DeltaTable:
    """The table, created with its schema on first use; refused if written by an older layout."""
    uri = layout.table_uri(table)
    try:
        dt = DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError:
        return DeltaTable.create(
            uri,
            table_schema(table),
            mode="ignore",
            partition_by=PARTITION_BY,
            configuration=table_configuration(table),
            storage_options=storage_options,
        )
    stored = {f.name for f in dt.schema().fields}
    missing = [name for name in table_schema(table).names if name not in stored]
    if missing and set(missing) <= set(ADDED_COLUMNS.get(table, {})):
        dt, missing = _add_columns(dt, table, missing), []
    if missing:
        raise ReplayStoreError(
            f"the store at {layout.root} was written by an older replaystore: table {table!r} "
            f"has no column {', '.join(map(repr, missing))}; re-create the store and ingest again"
        )
    return dt


def _add_columns(dt: DeltaTable, table: str, names: list[str]) -> DeltaTable:
    """Rewrite a table written before `names` were added, old rows getting ADDED_COLUMNS'
    values. The commit carries no writer tag: recovery publishes it like another program's
    commit, never rolls it back (Store.recover)."""
    data = dt.to_pyarrow_table()
    for name in names:
        default = ADDED_COLUMNS[table][name]
        field = table_schema(table).field(name)
        data = data.append_column(field, pa.array([default] * data.num_rows, field.type))
    target = table_schema(table)
    write_deltalake(
        dt,
        data.select(target.names).cast(target),
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=PARTITION_BY,
        writer_properties=WRITER_PROPERTIES,
        commit_properties=CommitProperties(max_commit_retries=100),
    )
    dt.update_incremental()
    return dt


def open_all(layout: Layout, storage_options: dict | None) -> dict[str, DeltaTable]:
    # An index created empty next to a filled summary would answer wrongly, not fail.
    if _exists(layout, "replays", storage_options) and not _exists(layout, "tags", storage_options):
        raise ReplayStoreError(
            f"the store at {layout.root} was written by an older replaystore: it has no tag "
            "index; re-create the store and ingest again"
        )
    return {name: open_or_create(layout, name, storage_options) for name in ALL_TABLES}


def lacks_selector_counts(layout: Layout, storage_options: dict | None) -> bool:
    """True for a store written before the ranking's counts existed (they are rebuilt from
    its click rows)."""
    return _exists(layout, "clicks", storage_options) and not _exists(
        layout, "selectors", storage_options
    )


def _exists(layout: Layout, table: str, storage_options: dict | None) -> bool:
    return DeltaTable.is_deltatable(layout.table_uri(table), storage_options)


def append(
    dt: DeltaTable, rows: pa.Table, writer_properties: WriterProperties = WRITER_PROPERTIES
) -> bool:
    """Append rows in one commit; False (and no commit) when there are none."""
    if rows.num_rows == 0:
        return False
    write_deltalake(
        dt,
        rows,
        mode="append",
        writer_properties=writer_properties,
        commit_properties=COMMIT,
    )
    return True


def retry_on_conflict(operation: Callable[[], T], attempts: int = 5) -> T:
    """Re-run a whole operation that lost a commit race: deltalake retries a blind append
    itself, never a merge, delete or overwrite, whose reads the winning commit made stale."""
    for attempt in range(attempts):
        try:
            return operation()
        except CommitFailedError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def merge_predicate(months: list[str], keys: tuple[str, ...]) -> str:
    """`t.month IN (<literal months>) AND t.k = s.k ...`: literal partitions keep the merge's
    scan to those months and no id value ever enters the Delta log (the predicate is stored in
    its commitInfo)."""
    in_months = exp.In(
        this=exp.column("month", table="t"),
        expressions=[exp.Literal.string(m) for m in sorted(months)],
    )
    equal = [
        exp.EQ(this=exp.column(k, table="t"), expression=exp.column(k, table="s")) for k in keys
    ]
    return exp.and_(in_months, *equal).sql()


def merge_rows(dt: DeltaTable, rows: pa.Table, keys: tuple[str, ...]) -> None:
    """Replace the stored rows matching rows on keys. One that loses the commit race keeps
    failing (it would replace rows it never read), so the caller retries its whole batch."""
    months = _months(rows)
    if rows.num_rows == 0 or not months:
        return
    retry_on_conflict(lambda: _merger(dt, rows, months, keys).when_matched_update_all().execute())


def delete_rows(dt: DeltaTable, rows: pa.Table, keys: tuple[str, ...]) -> None:
    """Remove the stored rows matching rows on keys. One that loses the commit race reruns on
    the newest version: removing by key is right on any version."""
    months = _months(rows)
    if rows.num_rows == 0 or not months:
        return
    attempts = 0

    def run() -> None:
        nonlocal attempts
        if attempts:
            # Lost the race to a concurrent commit (the writer's background merge commits
            # outside the lock): rerun on the newest version, or every retry loses again.
            dt.update_incremental()
        attempts += 1
        _merger(dt, rows, months, keys).when_matched_delete().execute()

    retry_on_conflict(run)


def _months(rows: pa.Table) -> list[str]:
    return sorted({m for m in rows.column("month").to_pylist() if m is not None})


def _merger(dt: DeltaTable, rows: pa.Table, months: list[str], keys: tuple[str, ...]):
    return dt.merge(
        rows,
        merge_predicate(months, keys),
        source_alias="s",
        target_alias="t",
        writer_properties=WRITER_PROPERTIES,
        commit_properties=COMMIT,
    )
