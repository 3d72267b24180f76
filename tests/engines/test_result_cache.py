"""The engine's result cache: answers kept per published snapshot, never stale after a commit."""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from replaystore.engine import Engine
from replaystore.engines.result_cache import ResultCache
from replaystore.storage.store import Store
from tests.storage import rows as R


def ids() -> exp.Select:
    return exp.select("replay_id").from_("replays").order_by("replay_id")


def test_repeat_is_served_from_the_cache_and_copies(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "store"))
    store.write(R.batch([R.segment(1, R.rid(i), 0) for i in range(3)]))
    engine = Engine(store, result_cache=True)
    first = engine.execute(ids())
    first[0]["replay_id"] = "changed by the caller"
    assert engine.execute(ids()) == [{"replay_id": R.rid(i)} for i in range(3)]
    assert engine.results is not None and engine.results.hits == 1


def test_a_commit_or_a_delete_is_seen_at_once(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "store"))
    store.write(R.batch([R.segment(1, R.rid(i), 0) for i in range(3)]))
    engine = Engine(store, result_cache=True)
    assert len(engine.execute(ids())) == 3
    store.write(R.batch([R.segment(1, R.rid(7), 0)]))
    assert [r["replay_id"] for r in engine.execute(ids())][-1] == R.rid(7)
    assert store.delete_replay(1, R.rid(0))
    assert R.rid(0) not in {
        r["replay_id"]
        for r in engine.execute(
            exp.select("replay_id").from_("replays").where("NOT coalesce(is_archived, false)")
        )
    }


def test_a_read_only_reader_follows_new_commits(tmp_path: Path) -> None:
    writer = Store.open(str(tmp_path / "store"))
    writer.write(R.batch([R.segment(1, R.rid(1), 0)]))
    reader = Engine(Store.open(str(tmp_path / "store")), result_cache=True)
    assert len(reader.execute(ids())) == 1
    writer.write(R.batch([R.segment(1, R.rid(2), 0)]))
    reader.store.refresh()
    assert len(reader.execute(ids())) == 2


def test_bounded_by_entries_and_bytes() -> None:
    cache = ResultCache(max_entries=2, max_bytes=10_000)
    for i in range(5):
        cache.put((1, f"q{i}", None), [{"v": "x" * 100}])
    assert cache.get((1, "q0", None)) is None and cache.get((1, "q4", None)) is not None
    cache.put((1, "big", None), [{"v": "x" * 20_000}])
    assert cache.get((1, "big", None)) is None
    cache.put((2, "q", None), [{"v": 1}])  # a newer snapshot drops the older answers
    assert cache.get((1, "q4", None)) is None and cache.used < 10_000
