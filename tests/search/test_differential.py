"""Differential: over generated replays and queries, the summary and the raw rows agree.

The summary rows come from the storage engineer's code: `Store.write` + `Store.connect`
(the real path, few examples: a Delta commit per example) and `compute_summaries` directly
(the same summary query without Delta, many examples).
"""

from __future__ import annotations

import tempfile
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from replaystore.fields import schema
from replaystore.search import compile_replay_search, raw_replays_query
from replaystore.storage.batch import WriteBatch
from replaystore.storage.store import Store
from tests.search.rows import raw_connection
from tests.search.strategies import datasets, queries

SOME = settings(max_examples=max(10, settings.default.max_examples // 3))
FEW = settings(max_examples=max(3, settings.default.max_examples // 20))


def _selected(con: duckdb.DuckDBPyConnection, text: str) -> tuple[set[str], set[str]]:
    summary = exp.select("replay_id").from_("replays").where(compile_replay_search(text))
    raw = raw_replays_query(compile_replay_search(text, source="raw"))
    from_summary = {r[0] for r in con.execute(summary.sql("duckdb")).fetchall()}
    from_raw = {r[1] for r in con.execute(raw.sql("duckdb")).fetchall()}
    return from_summary, from_raw


def _assert_agree(con: duckdb.DuckDBPyConnection, texts: list[str]) -> None:
    for text in ["", *texts]:
        from_summary, from_raw = _selected(con, text)
        assert from_summary == from_raw, text


@SOME
@given(datasets(), st.lists(queries(), min_size=10, max_size=10))
def test_summary_and_raw_agree(data: dict[str, list[dict[str, Any]]], texts: list[str]) -> None:
    con = raw_connection(data["segments"], data["clicks"], data["links"])
    try:
        _assert_agree(con, texts)
    finally:
        con.close()


def _batch(data: dict[str, list[dict[str, Any]]]) -> WriteBatch:
    return WriteBatch(
        segments=pa.Table.from_pylist(data["segments"], schema=schema.SEGMENTS),
        clicks=pa.Table.from_pylist(data["clicks"], schema=schema.CLICKS),
        links=pa.Table.from_pylist(data["links"], schema=schema.LINKS),
    )


@FEW
@given(datasets(), st.lists(queries(), min_size=30, max_size=30))
def test_summary_and_raw_agree_through_the_store(
    data: dict[str, list[dict[str, Any]]], texts: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = Store.open(root)
        store.write(_batch(data))
        con = store.connect()
        try:
            _assert_agree(con, texts)
        finally:
            con.close()
