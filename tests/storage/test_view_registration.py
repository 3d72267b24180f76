"""Views are created again only when their files change, and only the ones a query reads."""

from __future__ import annotations

from pathlib import Path

import duckdb
from sqlglot import exp

from replaystore.engine import Engine
from replaystore.storage.store import Store
from replaystore.storage.views import (
    ALL_VIEWS,
    register_views,
    snapshot_files,
    views_reading,
    views_used,
)
from tests.storage import rows as R


class Recording:
    """A DuckDB connection that notes every statement it runs."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.statements: list[str] = []

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        self.statements.append(sql)
        return self.con.execute(sql, *args)


def store_with(tmp_path: Path, count: int) -> Store:
    store = Store.open(str(tmp_path / "store"))
    store.write(R.batch([R.segment(1, R.rid(i), 0) for i in range(count)]))
    return store


def test_unchanged_views_are_not_created_again(tmp_path: Path) -> None:
    store = store_with(tmp_path, 3)
    files = snapshot_files(store.snapshot())
    con, created = Recording(), {}
    register_views(con, files, created=created)  # type: ignore[arg-type]
    assert set(created) == set(ALL_VIEWS)
    first = len(con.statements)
    register_views(con, files, created=created)  # type: ignore[arg-type]
    assert len(con.statements) == first
    store.write(R.batch([R.segment(1, R.rid(9), 0)]))
    register_views(con, snapshot_files(store.snapshot()), created=created)  # type: ignore[arg-type]
    again = con.statements[first:]
    # The write added files to the raw tables and the recent tier, not to the base.
    assert any("VIEW segments" in s for s in again)
    assert not any("VIEW replays_base" in s for s in again)
    assert con.con.execute("SELECT count(*) FROM replays").fetchone() == (4,)


def test_a_query_registers_only_what_it_reads() -> None:
    browse = exp.select("replay_id").from_("replays")
    assert views_used(browse) == {"replays", "replays_base", "replays_recent"}
    joined = exp.select("*").from_("segments").join("archives", using=["replay_id"])
    assert views_used(joined) == {"segments", "archives"}
    assert views_reading({"replays", "replays_recent"}) == {
        "replays",
        "replays_base",
        "replays_recent",
    }
    assert views_reading({"segments"}) == {"segments"}


def test_engine_follows_commits_with_only_the_views_it_needs(tmp_path: Path) -> None:
    store = store_with(tmp_path, 2)
    engine = Engine(store)
    count = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_("replays")
    assert engine.execute(count) == [{"n": 2}]
    cursor = engine.cursor(views_used(count))
    # The browse made no view of the raw tables on this thread's cursor.
    assert not cursor.execute(
        "SELECT view_name FROM duckdb_views() WHERE view_name = 'clicks'"
    ).fetchall()
    store.write(R.batch([R.segment(1, R.rid(5), 0)]))
    assert engine.execute(count) == [{"n": 3}]
    segments = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_("segments")
    assert engine.execute(segments) == [{"n": 3}]
    assert engine.execute("SELECT count(*) AS n FROM clicks") == [{"n": 0}]
