"""Clicks of one replay, filtered by the click search language, oldest first."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from replaystore.query.common import (
    FULL_PAGE,
    Executor,
    Page,
    Paged,
    Window,
    conjunction,
    paged,
)
from replaystore.search import compile_click_search


def _click(row: dict[str, Any]) -> dict[str, Any]:
    # The seed documents a Unix timestamp number, Sentry sends an ISO string.
    return {"node_id": row["node_id"], "timestamp": int(row["timestamp"].timestamp())}


def list_clicks(
    engine: Executor,
    project_id: int,
    replay_id: str,
    *,
    window: Window,
    page: Page = FULL_PAGE,
    query: str = "",
) -> Paged:
    """`{"node_id", "timestamp"}` of the replay's clicks matching `query`, paged."""
    where = conjunction(
        [
            exp.column("project_id").eq(exp.convert(project_id)),
            exp.column("replay_id").eq(exp.convert(replay_id)),
            window.widened().condition("timestamp"),
            window.widened().month_condition(),  # a click's month is its timestamp's
            compile_click_search(query) if query.strip() else None,
        ]
    )
    select = (
        exp.select("node_id", "timestamp")
        .from_("clicks")
        .where(where)
        .order_by("timestamp", "node_id", "event_hash")
    )
    result = paged(engine.execute(page.apply(select)), page)
    return Paged([_click(row) for row in result.items], result.has_more)
