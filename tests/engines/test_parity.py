"""The parity test (issue 13): every search of the search corpus selects the same replays on
DuckDB and on ClickHouse (chdb) over the same store, in each state of the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from replaystore.engines import EngineConfig, QueryEngine, open_engine
from replaystore.engines.clickhouse_views import S3Settings
from replaystore.search import compile_click_search, compile_replay_search
from tests.engines.conftest import write_state
from tests.search.test_semantics import CASES, CLICK_CASES


def _ids(engine: QueryEngine, condition: exp.Expression) -> list[str]:
    select = exp.select("replay_id").from_("replays").where(condition)
    return sorted(row["replay_id"] for row in engine.execute(select))


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_search_corpus_same_ids(engines: dict[str, QueryEngine], query: str, expected: str) -> None:
    duck = _ids(engines["duckdb"], compile_replay_search(query))
    clickhouse = _ids(engines["clickhouse"], compile_replay_search(query))
    assert clickhouse == duck


def test_the_corpus_store_holds_what_the_cases_expect(engines: dict[str, QueryEngine]) -> None:
    # The parity above is only worth something if the store answers the corpus: in every
    # state the three original replays are there (and the rewritten state has a fourth).
    for engine in engines.values():
        ids = _ids(engine, exp.true())
        assert {i[0] for i in ids} >= {"1", "2", "3"}
        assert len(ids) == len(set(ids)), "a replay listed twice: the merge view is wrong"


@pytest.mark.parametrize(("query", "expected"), CLICK_CASES, ids=[c[0] for c in CLICK_CASES])
def test_click_corpus_same_rows(engines: dict[str, QueryEngine], query: str, expected: str) -> None:
    select = exp.select("event_hash").from_("clicks").where(compile_click_search(query))
    found = {
        name: " ".join(sorted(r["event_hash"] for r in engine.execute(select.copy())))
        for name, engine in engines.items()
    }
    assert found["clickhouse"] == found["duckdb"] == expected


def test_recent_tier_supersedes_the_base_on_both(store_url) -> None:
    store = write_state(store_url("supersede"), "rewritten")
    for name in ("duckdb", "clickhouse"):
        engine = open_engine(store, name)
        # R3 got a Safari segment after compaction: its newest summary says Safari, once.
        assert [r["replay_id"][0] for r in engine.execute(_where("browser.name:Safari"))] == ["3"]
        assert len(engine.execute(_where(f"id:{'3' * 32}"))) == 1
        engine.close()


def _where(query: str) -> exp.Select:
    return exp.select("replay_id").from_("replays").where(compile_replay_search(query))


SOME = ["browser.name:Chrome", "url:*example*", "k:v1", "click.selector:button", "count_errors:2"]


@pytest.mark.parametrize("query", SOME)
def test_delta_source_same_ids(store_url, monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    root = store_url(f"delta-{SOME.index(query)}")
    store = write_state(root, "rewritten")
    if root.startswith("s3://"):
        reader = "deltaLake('" + S3Settings.from_env().http_url(root)
    else:
        # chdb reads local Delta tables only under its user_files_path, the working directory.
        monkeypatch.chdir(Path(root).parent)
        reader = f"deltaLakeLocal('{root}"
    delta = open_engine(store, EngineConfig("clickhouse", source="delta"))
    duck = open_engine(store, "duckdb")
    sql = delta.to_sql(_where(query))
    # Each table at the version the manifest publishes, not the table's latest.
    for table, version in store.snapshot().versions.items():
        if table in ("replays", "replays_recent"):  # what `replays` reads
            assert f"{reader}/tables/{table}'" in sql
            assert f"delta_lake_snapshot_version = {version}" in sql
    assert _ids(delta, compile_replay_search(query)) == _ids(duck, compile_replay_search(query))
    delta.close()


def test_stored_views_answer_the_same(engines: dict[str, QueryEngine]) -> None:
    """The corpus's views are stored (issue 14): the viewer searches select them on both."""
    for query in ("viewed_by_id:7", "!seen_by_id:[7, 8]", "viewed_by_id:8"):
        found = {
            name: _ids(engine, compile_replay_search(query)) for name, engine in engines.items()
        }
        assert found["duckdb"] == found["clickhouse"] != []
