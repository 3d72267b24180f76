"""Full contents of every stored table, for comparing store states in tests."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from replaystore.storage.store import Store

VIEWS = ("segments", "clicks", "links", "archives", "replays_base", "replays_recent", "replays")


def rows(store: Store, view: str) -> list[dict[str, Any]]:
    con = store.connect()
    try:
        result = con.execute(exp.select(exp.Star()).from_(view).sql(dialect="duckdb"))
        columns = [d[0] for d in result.description]
        found = [dict(zip(columns, r, strict=True)) for r in result.fetchall()]
    finally:
        con.close()
    return sorted(found, key=repr)


def everything(store: Store) -> dict[str, list[dict[str, Any]]]:
    return {view: rows(store, view) for view in VIEWS}
