"""Tag keys and tag values of the replays dataset, over the `replays` summary."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from replaystore.errors import QueryError
from replaystore.fields.registry import LIST_TAG_KEYS, SCALAR_TAG_KEYS
from replaystore.fields.shape import iso
from replaystore.query.common import (
    FULL_PAGE,
    Executor,
    Page,
    Paged,
    Window,
    conjunction,
    paged,
)
from replaystore.query.common import project_condition as _projects

_TAG_KEY = re.compile(r"^[a-zA-Z0-9_.:-]{1,200}$")
# Keys that Sentry answers with an empty list.
EMPTY_KEYS = frozenset(
    {"replay_id", "event_id", "timestamp", "time", "profile_id", "trace", "trace.span"}
    | {"trace.parent_span"}
)
VALUE_SORTS: dict[str, str] = {"-last_seen": "last_seen", "-count": "count"}


def tag_key_label(key: str) -> str:
    """Sentry's display name of a tag key: `plan.total_members` -> `Plan.Total Members`."""
    return key.replace("_", " ").title()


TAG_INDEX = "replay_tags"  # one row per replay, key and value (storage.tag_index)


def _base(
    project_ids: Sequence[int], window: Window, environments: Sequence[str] | None
) -> exp.Expression:
    """The request's projects, window and environments (columns of the summary and index)."""
    env = exp.column("environment").isin(*map(exp.convert, environments)) if environments else None
    return conjunction(
        [_projects(project_ids), window.condition("started_at"), window.month_condition(), env]
    )


def _not_archived() -> exp.Expression:
    """For summary rows; the tag index has no archived replays (they have no tags)."""
    return exp.Coalesce(this=exp.column("is_archived"), expressions=[exp.false()]).not_()


def tag_keys(
    engine: Executor,
    *,
    project_ids: Sequence[int],
    window: Window,
    page: Page = FULL_PAGE,
    environments: Sequence[str] | None = None,
) -> Paged:
    """Custom tag keys, most used first; `totalValues` = replays carrying the key."""
    # A replay carries a key once however many values it has.
    keys_of_replays = (
        exp.select("key", "project_id", "replay_id")
        .distinct()
        .from_(TAG_INDEX)
        .where(_base(project_ids, window, environments))
    )
    key = exp.column("key")
    select = (
        exp.select(key, exp.Count(this=exp.Star()).as_("total"))
        .from_(keys_of_replays.subquery("t"))
        .group_by(key)
        .order_by(exp.column("total").desc(), key)
    )
    result = paged(engine.execute(page.apply(select)), page)
    items = [
        {"key": row["key"], "name": tag_key_label(row["key"]), "totalValues": row["total"]}
        for row in result.items
    ]
    return Paged(items, result.has_more)


def parse_tag_key(key: str) -> str:
    """The tag key of a `key` path segment (`tags[k]` allowed), or 400 as Sentry words it."""
    inner = key[5:-1] if key.startswith("tags[") and key.endswith("]") else key
    if not _TAG_KEY.match(inner):
        raise QueryError(f'Invalid tag key format for "{key}"')
    return inner


def _values_source(key: str, base: exp.Expression) -> exp.Select:
    """Rows of (started_at, finished_at, value) for one key, one row per replay and value,
    so counting rows counts distinct replays without hashing ids. Custom keys read the tag
    index instead of every replay's tag list (medium, 90 days: ~150-200 -> ~30 ms)."""
    keep = ["started_at", "finished_at"]
    if key in SCALAR_TAG_KEYS:
        column = exp.column(SCALAR_TAG_KEYS[key])
        # Summary columns hold null for "no value"; "" is skipped too (Sentry returns it).
        present = [column.is_(exp.null()).not_(), column.neq(exp.convert(""))]
        where = exp.and_(base, _not_archived(), *present)
        return exp.select(*keep, column.as_("value")).from_("replays").where(where)
    if key in LIST_TAG_KEYS:
        # `urls` keeps a page visited twice twice; a replay counts once per value.
        values = exp.ArrayDistinct(this=exp.column(LIST_TAG_KEYS[key]))
        explode = exp.Explode(this=values).as_("value")
        return exp.select(*keep, explode).from_("replays").where(exp.and_(base, _not_archived()))
    # A custom key: that key's rows of the tag index (one per replay and value).
    where = exp.and_(base, exp.column("key").eq(exp.convert(key)), copy=False)
    return exp.select(*keep, "value").from_(TAG_INDEX).where(where)


def tag_values(
    engine: Executor,
    key: str,
    *,
    project_ids: Sequence[int],
    window: Window,
    page: Page = FULL_PAGE,
    environments: Sequence[str] | None = None,
    query: str = "",
    sort: str = "-last_seen",
) -> Paged:
    """Values of one tag key with distinct-replay `count`, `firstSeen` and `lastSeen`."""
    if sort not in VALUE_SORTS:
        raise QueryError("Invalid sort parameter. Please use one of: -last_seen or -count")
    key = parse_tag_key(key)
    if key in EMPTY_KEYS:
        return Paged([], False)
    source = _values_source(key, _base(project_ids, window, environments)).subquery("v")
    value = exp.column("value")
    select = (
        exp.select(
            value,
            exp.Count(this=exp.Star()).as_("count"),
            exp.Min(this=exp.column("started_at")).as_("first_seen"),
            exp.Max(this=exp.column("finished_at")).as_("last_seen"),
        )
        .from_(source)
        .group_by(value)
        .order_by(exp.column(VALUE_SORTS[sort]).desc(), value)
    )
    if query:
        needle = exp.Lower(this=exp.convert(query))
        select = select.where(exp.StrPosition(this=exp.Lower(this=value), substr=needle) > 0)
    result = paged(engine.execute(page.apply(select)), page)
    return Paged([_value_item(key, row) for row in result.items], result.has_more)


def _value_item(key: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "name": row["value"],
        "value": row["value"],
        "count": row["count"],
        "lastSeen": iso(row["last_seen"]),
        "firstSeen": iso(row["first_seen"]),
    }
