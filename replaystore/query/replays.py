"""Browse, search, fetch and delete replays: SELECTs over the `replays` summary view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlglot import exp

from replaystore.fields.schema import FETCHED_COLUMNS
from replaystore.fields.shape import replay_object, unpacked
from replaystore.query.common import (
    SEED_PAGE,
    Executor,
    Page,
    Paged,
    Window,
    conjunction,
    paged,
    project_condition,
)
from replaystore.query.viewed_by import mark_viewed
from replaystore.search import compile_replay_search, sort_order

DEFAULT_SORT = "-started_at"
NEVER = datetime.max.replace(tzinfo=UTC)


class Deleter(Protocol):
    def delete_replay(self, project_id: int, replay_id: str) -> bool: ...


def _environment_condition(environments: Sequence[str] | None) -> exp.Expression | None:
    if not environments:
        return None
    return exp.column("environment").isin(*(exp.convert(e) for e in environments))


def _search_condition(query: str, viewer: int | None = None) -> exp.Expression | None:
    return compile_replay_search(query, viewer=viewer) if query.strip() else None


def _order(sort: str) -> list[exp.Ordered]:
    # sort_order ends with the replay id, so ties never let pages overlap.
    return sort_order(sort or DEFAULT_SORT)


def _fetched() -> list[exp.Column]:
    return [exp.column(name) for name in FETCHED_COLUMNS]


def list_replays(
    engine: Executor,
    *,
    project_ids: Sequence[int],
    window: Window,
    page: Page = SEED_PAGE,
    query: str = "",
    sort: str = DEFAULT_SORT,
    environments: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    viewer: int | None = None,
) -> Paged:
    """One page of replays started inside `window` that match `query`, in `sort` order;
    `viewer` is the requesting user (`has_viewed`, `viewed_by_me`)."""
    where = conjunction(
        [
            project_condition(project_ids),
            window.condition("started_at"),
            window.month_condition(),
            _environment_condition(environments),
            _search_condition(query, viewer),
        ]
    )
    select = (
        exp.select(*_fetched(), copy=False)
        .from_(exp.to_table("replays"), copy=False)
        .where(where, copy=False)
        .order_by(*_order(sort), copy=False)
    )
    rows = engine.execute(page.apply(select))
    result = paged(rows, page)
    found = [unpacked(row) for row in result.items]
    if not fields or "has_viewed" in fields:
        mark_viewed(engine, viewer, found)
    return Paged([replay_object(row, fields) for row in found], result.has_more)


def get_replay(
    engine: Executor,
    replay_id: str,
    *,
    project_ids: Sequence[int],
    window: Window,
    fields: Sequence[str] | None = None,
    viewer: int | None = None,
) -> dict[str, Any] | None:
    """The replay `replay_id` (32 hex) of one of `project_ids`, or None if it is not there."""
    where = conjunction(
        [
            project_condition(project_ids),
            exp.column("replay_id").eq(exp.convert(replay_id)),
            window.widened().condition("started_at"),
            window.widened().month_condition(),
        ]
    )
    # No ORDER BY + LIMIT: a top-N would scan twice (late materialization) for what is
    # nearly always one row; the same id in two projects is settled here, earliest first.
    rows = engine.execute(exp.select(*_fetched()).from_("replays").where(where))
    first = min(rows, key=lambda row: (row["started_at"] or NEVER, row["project_id"]), default=None)
    if first is None:
        return None
    row = unpacked(first)
    mark_viewed(engine, viewer, [row])
    return replay_object(row, fields)


def delete_replay(store: Deleter, project_id: int, replay_id: str) -> bool:
    """Purge a replay's data and leave an archive marker; False if it was already archived."""
    return store.delete_replay(project_id, replay_id)
