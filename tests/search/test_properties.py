"""Property tests: nothing but SearchError escapes, and valid queries run on DuckDB."""

from __future__ import annotations

import duckdb
from hypothesis import given
from hypothesis import strategies as st
from sqlglot import exp

from replaystore.errors import SearchError
from replaystore.search import (
    compile_click_search,
    compile_replay_search,
    parse,
    raw_replays_query,
)
from tests.search.strategies import click_queries, leaves, queries

# Characters the grammar cares about, plus some that it does not.
ALPHABET = st.sampled_from([*' ():"[]!,*\\\t\n<>=-.kmsh_', "a", "b", "1", "é", "\uf00d"])
FRAGMENTS = st.sampled_from(
    [
        "a:",
        "b",
        " ",
        "(",
        ")",
        '"',
        "!",
        "[",
        "]",
        ",",
        "OR",
        "AND",
        "or",
        "has:",
        "is:",
        "tags[x]",
        "count_errors:",
        "duration:",
        "id:",
        "user.ip:",
        "click.selector:",
        "is_archived:",
        ">",
        "<=",
        "*",
        "\\*",
        "1",
        "5k",
        "1.5m",
        "ms",
        "\n",
        "\t",
        '""',
        "url:",
        "dead.selector:",
        "click.class:",
        "browser:",
        "'",
    ]
)
GARBAGE = st.one_of(
    st.text(ALPHABET, max_size=40),
    st.lists(FRAGMENTS, max_size=15).map("".join),
    st.text(max_size=30),
)


def _compiles_or_search_error(text: str) -> None:
    for compile_ in (
        lambda: compile_replay_search(text),
        lambda: compile_replay_search(text, source="raw"),
        lambda: compile_click_search(text),
    ):
        try:
            assert isinstance(compile_(), exp.Expression)
        except SearchError as error:
            assert error.status == 400 and error.detail


@given(GARBAGE)
def test_any_text_compiles_or_raises_search_error(text: str) -> None:
    _compiles_or_search_error(text)


@given(st.integers(0, 300), st.sampled_from(["(", "((a ", "a:(", "foo(", "( OR "]))
def test_deep_nesting_never_escapes_as_recursion_error(depth: int, unit: str) -> None:
    _compiles_or_search_error(unit * depth + ")" * depth)


def test_longest_query_compiles() -> None:
    text = " OR ".join(["browser:Chrome"] * 666)[:10_000].rsplit(" OR ", 1)[0]
    condition = compile_replay_search(text)
    assert len(condition.sql("duckdb")) > 10_000


@given(queries())
def test_valid_queries_round_trip_through_canonical_text(text: str) -> None:
    tree = parse(text)
    assert tree is not None
    assert parse(str(tree)) == tree


@given(st.lists(queries(), min_size=5, max_size=5))
def test_valid_queries_execute_on_both_sources(
    empty_db: duckdb.DuckDBPyConnection, texts: list[str]
) -> None:
    for text in texts:
        summary = exp.select("replay_id").from_("replays").where(compile_replay_search(text))
        empty_db.execute(summary.sql("duckdb")).fetchall()
        raw = raw_replays_query(compile_replay_search(text, source="raw"))
        empty_db.execute(raw.sql("duckdb")).fetchall()


@given(st.lists(click_queries(), min_size=5, max_size=5))
def test_valid_click_queries_execute(empty_db: duckdb.DuckDBPyConnection, texts: list[str]) -> None:
    for text in texts:
        select = exp.select("node_id").from_("clicks").where(compile_click_search(text))
        empty_db.execute(select.sql("duckdb")).fetchall()


@given(leaves())
def test_every_leaf_kind_compiles(text: str) -> None:
    assert compile_replay_search(text) is not None


def test_deepest_allowed_query_generates_and_runs(empty_db: duckdb.DuckDBPyConnection) -> None:
    text = "".join(f"(a{i}:x OR b{i}:y " for i in range(64)) + "z" + ")" * 64
    summary = exp.select("replay_id").from_("replays").where(compile_replay_search(text))
    assert empty_db.execute(summary.sql("duckdb")).fetchall() == []
    raw = raw_replays_query(compile_replay_search(text, source="raw"))
    assert empty_db.execute(raw.sql("duckdb")).fetchall() == []
