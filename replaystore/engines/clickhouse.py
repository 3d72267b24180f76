"""ClickHouse as the query engine: the same sqlglot trees, run by chdb in process or by a
ClickHouse server (or cluster) over HTTP with clickhouse-connect.

A query tree gets one CTE per view it reads (engines.views over this engine's scans of the
snapshot the manifest pins) and is printed with the ClickHouse dialect fixes
(engines.dialects). Nothing is created on the ClickHouse side, so any number of threads and
snapshots run at once, and a read-only ClickHouse user is enough.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from replaystore.engines.clickhouse_views import ClickHouseSource
from replaystore.engines.dialects import ReplaysClickHouse
from replaystore.engines.duck import MAX_CONCURRENT_QUERIES, QUERY_LIMITS, QUERY_TIMEOUT
from replaystore.engines.views import ctes, needed, view_queries, with_views
from replaystore.errors import EngineError, QueryLimitError
from replaystore.storage.layout import ALL_TABLES
from replaystore.storage.store import Store

MEMORY_LIMIT = 1024**3  # bytes per query (max_memory_usage), as DuckDB's memory_limit
# ClickHouse error codes that mean "the request asked for too much", not a fault (a 503).
LIMIT_CODES = frozenset({159, 241, 394})  # TIMEOUT_EXCEEDED, MEMORY_LIMIT_EXCEEDED, CANCELLED
_CODE = re.compile(r"Code: (\d+)\.")

Backend = Callable[[str, dict[str, Any]], pa.Table]


def chdb_backend(threads: int = 2) -> tuple[Backend, Callable[[], None]]:
    """A chdb session (ClickHouse in this process) and its close function."""
    try:
        from chdb import session
    except ImportError:  # pragma: no cover - chdb is a dependency; a clear error if missing
        raise EngineError("the clickhouse engine needs chdb (pip install chdb)") from None
    current = [session.Session()]
    lock = threading.Lock()

    def run(sql: str, settings: dict[str, Any]) -> pa.Table:
        tail = ", ".join(f"{k} = {int(v)}" for k, v in settings.items())
        text = f"{sql} SETTINGS {tail}" if tail else sql
        sess = current[0]
        try:
            return sess.query(text, "ArrowTable")
        except Exception:
            # After a failed query chdb 4.4's session hands the next Arrow result back empty
            # ("Unexpected empty message in IPC file format"): start a fresh one. The old one
            # closes when the last query still running on it lets go of it.
            with lock:
                if current[0] is sess:
                    current[0] = session.Session()
            raise

    def close() -> None:
        with lock:
            current[0].close()

    return run, close


def server_backend(url: str) -> tuple[Backend, Callable[[], None]]:
    """A ClickHouse server (`http://user:password@host:8123/database`) via clickhouse-connect."""
    try:
        import clickhouse_connect
    except ImportError:  # pragma: no cover
        raise EngineError("a ClickHouse server needs clickhouse-connect") from None
    driver_log = logging.getLogger("clickhouse_connect")
    level = driver_log.level
    driver_log.setLevel(logging.CRITICAL)  # the error below says it once, in one line
    try:
        client = clickhouse_connect.get_client(dsn=url)
    except Exception as error:  # connection refused, bad credentials: an operator error
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
        raise EngineError(f"cannot reach ClickHouse at {_redacted(url)}: {reason}") from None
    finally:
        driver_log.setLevel(level)

    def run(sql: str, settings: dict[str, Any]) -> pa.Table:
        return client.query_arrow(sql, settings=settings)

    return run, client.close


def _redacted(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//", url)


class ClickHouseEngine:
    """Runs the product's query trees on ClickHouse over a store's current snapshot."""

    name = "clickhouse"
    dialect = ReplaysClickHouse

    def __init__(
        self,
        store: Store,
        *,
        source: ClickHouseSource | None = None,
        server_url: str | None = None,
        threads: int = 2,
        query_timeout: float = QUERY_TIMEOUT,
        memory_limit: int = MEMORY_LIMIT,
        max_concurrent: int = MAX_CONCURRENT_QUERIES,
    ) -> None:
        self.store = store
        uris = tuple((t, store.layout.table_uri(t)) for t in ALL_TABLES)
        self.source = replace(source or ClickHouseSource(), table_uris=uris)
        self.settings = {
            "max_execution_time": max(1, round(query_timeout)),  # whole seconds
            "max_memory_usage": memory_limit,
            "max_threads": threads,
        }
        if server_url:
            self._run, self._close = server_backend(server_url)
        else:
            if self.source.cluster:
                raise EngineError("a ClickHouse cluster is reached through a server URL")
            self._run, self._close = chdb_backend(threads)
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._views: tuple[int, dict[str, exp.Expression]] | None = None
        self._prefixes: dict[tuple[int, tuple[str, ...]], str] = {}
        self._views_lock = threading.Lock()

    def views(self) -> dict[str, exp.Expression]:
        """Every view's query at the current snapshot (rebuilt when the manifest moves)."""
        return self._snapshot_views()[1]

    def _snapshot_views(self) -> tuple[int, dict[str, exp.Expression]]:
        snapshot = self.store.snapshot()
        with self._views_lock:
            if self._views is None or self._views[0] != snapshot.seq:
                self._views = (snapshot.seq, dict(view_queries(snapshot, self.source.scan)))
                self._prefixes.clear()
            return self._views

    def to_sql(self, query: exp.Expression | str) -> str:
        """The ClickHouse SQL run for a tree (or a ClickHouse SQL text over the views)."""
        tree = _parsed(query) if isinstance(query, str) else query
        seq, views = self._snapshot_views()
        wanted = tuple(needed(tree))
        if not wanted or tree.args.get("with_") is not None:
            return with_views(tree, views).sql(dialect=self.dialect)
        # The views' WITH clause is the same for every query of a snapshot: generated once
        # (it is most of the text: ~12 ms a query otherwise, small), then put before the query.
        key = (seq, wanted)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = exp.With(expressions=ctes(views, list(wanted))).sql(dialect=self.dialect)
            self._prefixes[key] = prefix
        return f"{prefix} {tree.sql(dialect=self.dialect, copy=False)}"

    def execute_arrow(self, query: exp.Expression | str, params: Any = None) -> pa.Table:
        """Run a query and fetch the whole result as an Arrow table (capped in time/memory)."""
        if params:
            raise EngineError("the clickhouse engine takes no query parameters")
        sql = self.to_sql(query)
        with self._slots:
            try:
                return self._run(sql, self.settings)
            except Exception as error:
                if _limit_code(error):
                    raise QueryLimitError(QUERY_LIMITS) from None
                raise

    def execute(self, query: exp.Expression | str, params: Any = None) -> list[dict[str, Any]]:
        """Run a query and fetch every row as a dict."""
        return self.execute_arrow(query, params).to_pylist()

    def close(self) -> None:
        self._close()


def _parsed(text: str) -> exp.Expression:
    """A ClickHouse SQL text as a tree (so the views can be put in front of it)."""
    try:
        return sqlglot.parse_one(text, dialect=ReplaysClickHouse)
    except sqlglot.errors.ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        what = first.get("description") or str(error).splitlines()[0]
        raise EngineError(f"cannot parse the ClickHouse SQL{where}: {what}") from None


def _limit_code(error: Exception) -> bool:
    found = _CODE.search(str(error))
    return found is not None and int(found.group(1)) in LIMIT_CODES
