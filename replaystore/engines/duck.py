"""Embedded DuckDB, the default engine: one configured connection, a cursor per thread, the
snapshot views of storage/views.py (DuckDB's view builder)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.engines.result_cache import ResultCache, enabled_by_default, params_key
from replaystore.errors import QueryLimitError
from replaystore.fields.sql import DIALECT
from replaystore.storage.snapshot import Snapshot
from replaystore.storage.store import Store
from replaystore.storage.views import (
    ALL_VIEWS,
    register_views,
    snapshot_files,
    views_used,
)
from replaystore.watchdog import Watchdog

# Late materialization only fires when LIMIT + OFFSET fit under this (default 50), and a
# page of 100 is fetched as 101 rows; it must be set in the
# connection config, as a plain SET does not reach cursors.
LATE_MATERIALIZATION_MAX_ROWS = 1_000

Params = Sequence[Any] | dict[str, Any] | None
QUERY_TIMEOUT = 10.0  # seconds a query may run before it is interrupted
# Queries that run at once; the rest wait their turn. DuckDB runs each query on its calling
# thread plus its worker threads, so 8 server threads on 2 cores thrash: HTTP browse at 8
# clients fell from 30 to 18 queries/s (queries beyond ~cores only queue).
MAX_CONCURRENT_QUERIES = 2
_WATCHDOG = Watchdog()
# Sentry's text for a storage timeout or overload.
QUERY_LIMITS = "Query limits exceeded. Try narrowing your request."


class DuckDBEngine:
    """Runs SQL over a store's current snapshot, safely from many threads."""

    name = "duckdb"
    dialect = DIALECT

    def __init__(
        self,
        store: Store,
        *,
        threads: int = 2,
        memory_limit: str = "1GB",
        query_timeout: float = QUERY_TIMEOUT,
        max_concurrent: int = MAX_CONCURRENT_QUERIES,
        result_cache: bool | None = None,
    ) -> None:
        self.store = store
        use_cache = enabled_by_default() if result_cache is None else result_cache
        self.results: ResultCache | None = ResultCache() if use_cache else None
        self._token: tuple[object, int] | None = None
        self.query_timeout = query_timeout
        self._con = duckdb.connect(
            config={
                "threads": threads,
                "memory_limit": memory_limit,
                "late_materialization_max_rows": LATE_MATERIALIZATION_MAX_ROWS,
            }
        )
        # Parse each Parquet footer once, not on every query: Delta data files are immutable
        # (new name per write), and the footers of the wide summary (~110 leaf columns per
        # row group) cost more to parse than the default list's page fetch (benchmarks,
        # medium: browse_7d 105 -> 45 ms). Only settable once the parquet extension is loaded.
        self._con.execute(_set_global("parquet_metadata_cache", exp.true()).sql(dialect=DIALECT))
        self._local = threading.local()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._cursor_lock = threading.Lock()

    def cursor(self, views: Collection[str] | None = None) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, its views (`views`, default all) pointing at the current
        snapshot. Only views whose files changed are created again (storage/views.py)."""
        return self._cursor_at(self.store.snapshot(), views)

    def _cursor_at(
        self, snapshot: Snapshot, views: Collection[str] | None = None
    ) -> duckdb.DuckDBPyConnection:
        local = self._local
        cursor: duckdb.DuckDBPyConnection | None = getattr(local, "cursor", None)
        if cursor is None:
            with self._cursor_lock:
                cursor = self._con.cursor()
            local.cursor = cursor
            local.seq = None
            local.created = {}
        wanted = set(ALL_VIEWS if views is None else views)
        if local.seq != snapshot.seq:
            local.seq = snapshot.seq
            local.current = set()
        if not wanted <= local.current:
            register_views(cursor, snapshot_files(snapshot), only=wanted, created=local.created)
            local.current |= wanted
        return cursor

    def to_sql(self, query: exp.Expression) -> str:
        """The SQL this engine runs for a tree (the views are registered on the cursor)."""
        return query.sql(dialect=DIALECT)

    def execute(self, query: exp.Expression | str, params: Params = None) -> list[dict[str, Any]]:
        """Run a query and fetch every row as a dict; QueryLimitError past the time/memory cap."""
        views = _views(query)  # before the SQL: generating without a copy may alter the tree
        sql = _sql(query)
        snapshot = self.store.snapshot()
        # Only trees the product built are cached (SELECTs over the snapshot's views); SQL
        # text may be anything (SET, a table function over other files).
        key = None
        if self.results is not None and isinstance(query, exp.Query):
            key = (self._snapshot_token(snapshot), sql, params_key(params))
            cached = self.results.get(key)
            if cached is not None:
                return cached
        cursor = self._cursor_at(snapshot, views)
        with self._slots, _limited(cursor, self.query_timeout):
            result = cursor.execute(sql, params)
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
        found = [dict(zip(columns, row, strict=True)) for row in rows]
        if key is not None and self.results is not None:
            self.results.put(key, found)
        return found

    def _snapshot_token(self, snapshot: Snapshot) -> int:
        """A number that changes with every published snapshot: its seq, made unique across a
        store recreated at the same place (seq restarting) by the data files it names."""
        held = self._token
        if held is not None and held[0] is snapshot:
            return held[1]
        token = snapshot.seq << 32 | (hash(tuple(snapshot.files.items())) & 0xFFFFFFFF)
        self._token = (snapshot, token)
        return token

    def execute_arrow(self, query: exp.Expression | str, params: Params = None) -> pa.Table:
        """Run a query and fetch the whole result as an Arrow table (capped as `execute`)."""
        cursor = self.cursor(_views(query))
        sql = _sql(query)
        with self._slots, _limited(cursor, self.query_timeout):
            return cursor.sql(sql, params=params).to_arrow_table()

    def close(self) -> None:
        self._con.close()


@contextlib.contextmanager
def _limited(cursor: duckdb.DuckDBPyConnection, timeout: float) -> Iterator[None]:
    """Interrupt the cursor from the watchdog thread after `timeout` seconds; map the interrupt and
    DuckDB's out-of-memory error to QueryLimitError (a 503, never a crash)."""
    lock = threading.Lock()
    running = True

    def interrupt() -> None:
        with lock:
            # Only while this query runs: a late interrupt must not hit the cursor's next one.
            if running:
                cursor.interrupt()

    token = _WATCHDOG.schedule(timeout, interrupt)
    try:
        yield
    except (duckdb.InterruptException, duckdb.OutOfMemoryException):
        raise QueryLimitError(QUERY_LIMITS) from None
    finally:
        with lock:
            running = False
        _WATCHDOG.cancel(token)


def _set_global(name: str, value: exp.Expression) -> exp.Set:
    item = exp.SetItem(this=exp.EQ(this=exp.column(name), expression=value), kind="GLOBAL")
    return exp.Set(expressions=[item])


def _views(query: exp.Expression | str) -> set[str] | None:
    """The views a tree reads; None (all) for SQL text, which is not parsed here."""
    return views_used(query) if isinstance(query, exp.Expression) else None


def _sql(query: exp.Expression | str) -> str:
    # copy=False: the generator's defensive deep copy of the tree cost ~1.3 ms of a ~15 ms
    # list request; every tree handed to the engine is built for that one query.
    return query.sql(dialect=DIALECT, copy=False) if isinstance(query, exp.Expression) else query
