"""Embedded DuckDB: one configured connection, a cursor per thread, snapshot views."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.storage.store import Store
from replaystore.storage.views import DIALECT, register_views, snapshot_files

# Late materialization only fires when LIMIT + OFFSET fit under this (default 50), and a
# page of 100 is fetched as 101 rows (performance notes §2.4); it must be set in the
# connection config, as a plain SET does not reach cursors.
LATE_MATERIALIZATION_MAX_ROWS = 1_000

Params = Sequence[Any] | dict[str, Any] | None


class Engine:
    """Runs SQL over a store's current snapshot, safely from many threads."""

    def __init__(self, store: Store, *, threads: int = 2, memory_limit: str = "1GB") -> None:
        self.store = store
        self._con = duckdb.connect(
            config={
                "threads": threads,
                "memory_limit": memory_limit,
                "late_materialization_max_rows": LATE_MATERIALIZATION_MAX_ROWS,
            }
        )
        self._local = threading.local()
        self._cursor_lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, its views pointing at the current snapshot."""
        snapshot = self.store.snapshot()
        local = self._local
        cursor: duckdb.DuckDBPyConnection | None = getattr(local, "cursor", None)
        if cursor is None:
            with self._cursor_lock:
                cursor = self._con.cursor()
            local.cursor = cursor
            local.seq = None
        if local.seq != snapshot.seq:
            register_views(cursor, snapshot_files(snapshot))
            local.seq = snapshot.seq
        return cursor

    def execute(self, query: exp.Expression | str, params: Params = None) -> list[dict[str, Any]]:
        """Run a query and fetch every row as a dict."""
        result = self.cursor().execute(_sql(query), params)
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    def execute_arrow(self, query: exp.Expression | str, params: Params = None) -> pa.Table:
        """Run a query and fetch the whole result as an Arrow table."""
        return self.cursor().sql(_sql(query), params=params).to_arrow_table()

    def close(self) -> None:
        self._con.close()


def _sql(query: exp.Expression | str) -> str:
    return query.sql(dialect=DIALECT) if isinstance(query, exp.Expression) else query
