"""Error, warning and info events linked to replays, for a replay's timeline (events-meta)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from replaystore.fields.shape import iso
from replaystore.query.common import Executor, Page, Paged, Window, conjunction, paged


def _event(row: dict[str, Any], slugs: Mapping[int, str]) -> dict[str, Any]:
    # replaystore keeps an event's id, level and time, not its body: no title or issue.
    return {
        "error.type": [],
        "id": row["event_id"],
        "issue.id": None,
        "issue": None,
        "level": row["level"],
        "project.name": slugs.get(row["project_id"]),
        "timestamp": iso(row["timestamp"]),
        "title": None,
    }


def events_meta(
    engine: Executor,
    event_ids: Sequence[str],
    *,
    project_slugs: Mapping[int, str],
    window: Window,
    page: Page,
) -> Paged:
    """The linked events with these ids in the projects of `project_slugs`, oldest first."""
    if not event_ids or not project_slugs:
        return Paged([], False)
    where = conjunction(
        [
            exp.column("project_id").isin(*map(exp.convert, sorted(project_slugs))),
            exp.column("event_id").isin(*map(exp.convert, event_ids)),
            window.condition("timestamp"),
            window.month_condition(),
        ]
    )
    select = (
        exp.select("project_id", "event_id", "level", "timestamp")
        .from_("links")
        .where(where)
        .order_by("timestamp", "event_id")
    )
    result = paged(engine.execute(page.apply(select)), page)
    return Paged([_event(row, project_slugs) for row in result.items], result.has_more)
