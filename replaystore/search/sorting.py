"""The `sort` parameter -> ORDER BY terms over the `replays` summary."""

from __future__ import annotations

from sqlglot import exp

from replaystore.errors import SearchError
from replaystore.fields.registry import SORTABLE

DEFAULT_SORT = "-started_at"


def sort_order(sort: str) -> list[exp.Ordered]:
    """`[-]key` -> the key's column, nulls last either way, then `replay_id` the same way."""
    text = sort.strip() or DEFAULT_SORT
    descending = text.startswith("-")
    name = text[1:] if descending else text
    field = SORTABLE.get(name)
    if field is None or field.sort is None:
        raise SearchError(f"The field `{name}` is not a sortable field.")
    return [
        exp.Ordered(this=exp.column(field.sort), desc=descending, nulls_first=False),
        exp.Ordered(this=exp.column("replay_id"), desc=descending, nulls_first=False),
    ]
