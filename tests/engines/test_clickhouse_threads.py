"""One ClickHouse engine answers many threads at once (a server's worker threads) exactly as
it answers them one by one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from replaystore.engines import open_engine
from replaystore.params import parse_window
from replaystore.query import replays
from replaystore.query.common import Page
from replaystore.storage.store import Store
from tests.conftest import FixtureStore

QUERIES = ["", "browser.name:Firefox", "plan:team", "!release:1.0", "count_errors:>1", "u1"]


def test_concurrent_queries_answer_as_serial_ones(fixture_store: FixtureStore) -> None:
    engine = open_engine(Store.open(str(fixture_store.path), read_only=True), "clickhouse")
    window = parse_window("14d", None, None, default_days=7)

    def ids(query: str) -> list[str]:
        page = replays.list_replays(
            engine, project_ids=[1, 2], window=window, page=Page(0, 100), query=query
        )
        return [r["id"] for r in page.items]

    serial = {q: ids(q) for q in QUERIES}
    assert serial[""] and serial["plan:team"] and serial["count_errors:>1"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ids, QUERIES * 8))
    assert answers == [serial[q] for q in QUERIES * 8]
    engine.close()
