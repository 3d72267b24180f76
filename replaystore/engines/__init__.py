"""engines stage (see docs/architecture.md): the query stage's sqlglot trees, run by one engine.

* `duckdb` (default): embedded DuckDB over the snapshot's files (engines.duck);
* `clickhouse`: chdb in process, or a ClickHouse server / cluster over HTTP
  (engines.clickhouse), over the same snapshot.

Every engine answers `execute(tree) -> list[dict]`, `execute_arrow(tree) -> pyarrow.Table`,
`to_sql(tree) -> str` and `close()`. Per-dialect fixes live in engines.dialects, the views
per engine in storage/views.py (DuckDB) and engines.views (the others).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
from sqlglot import exp

from replaystore.engines.clickhouse_views import ClickHouseSource, S3Settings, SourceMode
from replaystore.engines.dialects import DIALECTS, dialect_named
from replaystore.errors import EngineError
from replaystore.storage.store import Store

ENGINES = ("duckdb", "clickhouse")
DEFAULT_ENGINE = "duckdb"


class QueryEngine(Protocol):
    """What the query stage and the API need from an engine."""

    name: str

    def execute(
        self, query: exp.Expression, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def execute_arrow(self, query: exp.Expression, params: Any = None) -> pa.Table: ...

    def to_sql(self, query: exp.Expression) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class EngineConfig:
    """Which engine, and for ClickHouse where it runs and how it reads the tables."""

    name: str = DEFAULT_ENGINE
    clickhouse_url: str | None = None  # a server (clickhouse-connect); None: chdb in process
    cluster: str | None = None  # read with deltaLakeCluster / s3Cluster on this cluster
    source: SourceMode = "files"  # the snapshot's file lists, or the Delta tables (`delta`)

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise EngineError(f"unknown engine {self.name!r} (choose one of: {', '.join(ENGINES)})")
        if self.source not in ("files", "delta"):
            raise EngineError(f"unknown ClickHouse source {self.source!r} (files or delta)")


def open_engine(store: Store, config: EngineConfig | str | None = None) -> QueryEngine:
    """The engine `config` names (a name or an EngineConfig) over `store`."""
    if config is None or isinstance(config, str):
        config = EngineConfig(config or DEFAULT_ENGINE)
    if config.name == "clickhouse":
        from replaystore.engines.clickhouse import ClickHouseEngine

        source = ClickHouseSource(
            mode=config.source, cluster=config.cluster, s3=S3Settings.from_env()
        )
        return ClickHouseEngine(store, source=source, server_url=config.clickhouse_url)
    from replaystore.engines.duck import DuckDBEngine

    return DuckDBEngine(store)


def compile_search(query: str, dialect: str = "duckdb", *, where_only: bool = False) -> str:
    """The search `query` as SQL of one dialect: a SELECT of the matching replays'
    `project_id, replay_id` over a `replays` table of the summary's columns, or (where_only)
    just its condition, for a batch job that filters replays with the product's language.

    >>> compile_search("browser.name:Firefox", "spark", where_only=True)
    "COALESCE(`browser_name` <> '' AND `browser_name` = 'Firefox', FALSE)"
    """
    from replaystore.search import compile_replay_search

    condition = compile_replay_search(query) if query.strip() else exp.true()
    tree: exp.Expression = condition
    if not where_only:
        tree = exp.select(exp.column("project_id"), exp.column("replay_id")).from_("replays")
        tree = tree.where(condition)
    return tree.sql(dialect=dialect_named(dialect))


__all__ = [
    "DEFAULT_ENGINE",
    "DIALECTS",
    "ENGINES",
    "EngineConfig",
    "QueryEngine",
    "compile_search",
    "open_engine",
]
