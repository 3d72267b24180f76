"""Engine: configured connection, per-thread cursors, views following the snapshot."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from sqlglot import exp

from replaystore.engine import LATE_MATERIALIZATION_MAX_ROWS, Engine
from replaystore.storage.store import Store
from tests.storage import rows as R


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(str(tmp_path / "store"))
    store.write(R.batch([R.segment(1, R.rid(i), 0, urls=[f"/{i}"]) for i in range(5)]))
    return store


def count_replays() -> exp.Select:
    return exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_("replays")


def test_execute_returns_dicts_and_accepts_params(store: Store) -> None:
    engine = Engine(store)
    assert engine.execute(count_replays()) == [{"n": 5}]
    query = (
        exp.select("replay_id", "urls")
        .from_("replays")
        .where(exp.EQ(this=exp.column("replay_id"), expression=exp.Placeholder()))
    )
    assert engine.execute(query, [R.rid(3)]) == [{"replay_id": R.rid(3), "urls": ["/3"]}]


def test_execute_arrow(store: Store) -> None:
    table = Engine(store).execute_arrow(
        exp.select("replay_id").from_("replays").order_by("replay_id")
    )
    assert isinstance(table, pa.Table)
    assert table.column("replay_id").to_pylist() == [R.rid(i) for i in range(5)]


def test_settings_reach_every_cursor(store: Store) -> None:
    engine = Engine(store, threads=1, memory_limit="512MB")
    setting = exp.select(
        exp.func("current_setting", exp.Literal.string("late_materialization_max_rows")),
        exp.func("current_setting", exp.Literal.string("threads")),
    )
    found: list[tuple] = []

    def probe() -> None:
        found.append(engine.cursor().execute(setting.sql(dialect="duckdb")).fetchall()[0])

    workers = [threading.Thread(target=probe) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert found == [(LATE_MATERIALIZATION_MAX_ROWS, 1)] * 3
    assert LATE_MATERIALIZATION_MAX_ROWS >= 101  # a page of 100 plus one


def test_one_cursor_per_thread(store: Store) -> None:
    engine = Engine(store)
    assert engine.cursor() is engine.cursor()
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(engine.cursor()))
    thread.start()
    thread.join()
    assert other[0] is not engine.cursor()


def test_views_follow_new_commits(store: Store) -> None:
    engine = Engine(store)
    assert engine.execute(count_replays()) == [{"n": 5}]
    store.write(R.batch([R.segment(1, R.rid(9), 0)]))
    assert engine.execute(count_replays()) == [{"n": 6}]


def test_views_survive_compaction_with_vacuum(store: Store) -> None:
    engine = Engine(store)
    before = engine.execute(exp.select("*").from_("replays").order_by("replay_id"))
    store.compact(retention=timedelta(0))  # old files gone: views must be re-pointed
    assert engine.execute(exp.select("*").from_("replays").order_by("replay_id")) == before


def test_many_threads_query_concurrently(store: Store) -> None:
    engine = Engine(store)
    results: list[list[dict]] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(5):
            found = engine.execute(count_replays())
            with lock:
                results.append(found)

    workers = [threading.Thread(target=run) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results == [[{"n": 5}]] * 20
