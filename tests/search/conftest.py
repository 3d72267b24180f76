"""Fixtures of the search tests: a DuckDB connection with empty tables of every schema."""

from __future__ import annotations

import os
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, settings

from replaystore.fields import schema

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile(
    "big", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("REPLAYSTORE_HYPOTHESIS_PROFILE", "default"))


def empty_connection() -> duckdb.DuckDBPyConnection:
    """Tables `segments`, `clicks`, `links`, `archives`, `replays`, empty, of the schemas."""
    con = duckdb.connect()
    for name, table_schema in schema.TABLES.items():
        empty: pa.Table = table_schema.empty_table()
        con.register(f"{name}_arrow", empty)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
    return con


@pytest.fixture(scope="session")
def empty_db() -> Iterator[duckdb.DuckDBPyConnection]:
    con = empty_connection()
    yield con
    con.close()
