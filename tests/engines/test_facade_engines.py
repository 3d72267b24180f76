"""The Python face with another engine: `replaystore.open(..., engine="clickhouse")`."""

from __future__ import annotations

import pytest

import replaystore
from replaystore.errors import EngineError
from tests.conftest import FixtureStore


def test_open_with_the_clickhouse_engine_answers_as_duckdb(fixture_store: FixtureStore) -> None:
    duck = replaystore.open(fixture_store.path)
    clickhouse = replaystore.open(fixture_store.path, engine="clickhouse")
    assert clickhouse.engine.name == "clickhouse" and duck.engine.name == "duckdb"
    for query in ("", "browser.name:Firefox", "plan:team", "!release:1.0"):
        listed = clickhouse.list_replays(query, limit=100)
        assert listed == duck.list_replays(query, limit=100)
        assert listed or query == "browser.name:Firefox"
    replay = f"{1:032x}"
    assert clickhouse.get_replay(replay) == duck.get_replay(replay) is not None
    assert clickhouse.clicks(1, replay) == duck.clicks(1, replay) != []
    assert clickhouse.tag_values("plan") == duck.tag_values("plan") != []
    clickhouse.engine.close()


def test_compile_search_per_dialect(fixture_store: FixtureStore) -> None:
    store = replaystore.open(fixture_store.path)
    where = store.compile_search("url:[a, b]", dialect="clickhouse", where_only=True)
    assert where == "COALESCE(hasAny(\"urls\", ['a', 'b']), FALSE)"
    with pytest.raises(EngineError):
        store.compile_search("url:a", dialect="oracle")
