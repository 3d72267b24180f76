"""ClickHouse's time and memory caps become QueryLimitError (a 503), as DuckDB's do."""

from __future__ import annotations

import pytest

from replaystore.engines.clickhouse import QUERY_LIMITS, ClickHouseEngine
from replaystore.errors import QueryLimitError
from tests.conftest import FixtureStore


def test_past_the_memory_cap(fixture_store: FixtureStore) -> None:
    from replaystore.storage.store import Store

    engine = ClickHouseEngine(Store.open(str(fixture_store.path)), memory_limit=20 * 1024**2)
    with pytest.raises(QueryLimitError, match=QUERY_LIMITS):
        engine.execute("SELECT groupArray(toString(number)) FROM numbers(50000000)")
    # The engine keeps answering after a refused query.
    assert engine.execute("SELECT count() AS n FROM replays") == [{"n": 14}]
    engine.close()


def test_past_the_time_cap(fixture_store: FixtureStore) -> None:
    from replaystore.storage.store import Store

    engine = ClickHouseEngine(Store.open(str(fixture_store.path)), query_timeout=1)
    with pytest.raises(QueryLimitError):
        engine.execute("SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 0")
    engine.close()
