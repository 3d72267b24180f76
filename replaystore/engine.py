"""The default engine under its historical name (see replaystore.engines)."""

from __future__ import annotations

from replaystore.engines.duck import (
    LATE_MATERIALIZATION_MAX_ROWS,
    MAX_CONCURRENT_QUERIES,
    QUERY_LIMITS,
    QUERY_TIMEOUT,
    DuckDBEngine,
)

Engine = DuckDBEngine

__all__ = [
    "LATE_MATERIALIZATION_MAX_ROWS",
    "MAX_CONCURRENT_QUERIES",
    "QUERY_LIMITS",
    "QUERY_TIMEOUT",
    "DuckDBEngine",
    "Engine",
]
