"""The list's `X-Data-Source` header: which of Sentry's two strategies would answer.

replaystore always answers from the `replays` summary (the results of both strategies are the
same by design), but a client written against Sentry may read the header, so it is computed
with Sentry's rule: the row-level "scalar" strategy when every filter is on a static field
(the same on every segment) with at most one positive, non-wildcard filter on a varying field
(custom tags count as varying), and the sort is on a static column; the grouped strategy
otherwise, or whenever the request prefers it (`X-Preferred-Data-Source: aggregated`).
"""

from __future__ import annotations

from replaystore.fields.registry import (
    SCALAR_SORTS,
    SORTABLE,
    STATIC_FIELDS,
    VARYING_FIELDS,
    lookup,
)
from replaystore.search import parse
from replaystore.search import values as search_values
from replaystore.search.nodes import And, Filter, FreeText, Has, ListValue, Node, Or
from replaystore.search.sorting import DEFAULT_SORT

SCALAR = "scalar-subquery"
AGGREGATED = "aggregated-subquery"
HEADER = "X-Data-Source"
PREFERENCE_HEADER = "x-preferred-data-source"  # request headers are looked up lower-case


class _Scan:
    """Walks the leaves in query order, as Sentry's check does, remembering varying filters."""

    def __init__(self) -> None:
        self.seen_varying = False

    def leaf(self, name: str | None, negated: bool, wildcard: bool) -> bool:
        field = lookup(name) if name is not None else None
        if field is None:  # a tag (free text is Sentry's tag `message`)
            self.seen_varying = True
            return True
        if field.name in STATIC_FIELDS:
            return True
        if field.name not in VARYING_FIELDS or self.seen_varying or negated or wildcard:
            return False
        self.seen_varying = True
        return True

    def node(self, node: Node) -> bool:
        if isinstance(node, And | Or):
            return all(self.node(child) for child in node.children)
        if isinstance(node, FreeText):
            return self.leaf(None, False, False)
        if isinstance(node, Has):  # `has:k` is Sentry's `k:!=""`
            return self.leaf(node.key.name, not node.negated, False)
        return self.leaf(node.key.name, _negative(node), _wildcard(node))


def _negative(node: Filter) -> bool:
    return node.negated != (node.op == "!=")


def _wildcard(node: Filter) -> bool:
    items = node.value.items if isinstance(node.value, ListValue) else (node.value,)
    return any(search_values.is_wildcard(item.text) for item in items)


def _sort_name(sort: str) -> str | None:
    text = (sort or DEFAULT_SORT).strip() or DEFAULT_SORT
    field = SORTABLE.get(text.removeprefix("-"))
    return field.name if field is not None else None


def data_source(query: str, sort: str, preferred: str | None = None) -> str:
    """The `X-Data-Source` value of a list request (call once the request is known valid)."""
    if (preferred or "").strip().lower() == "aggregated":
        return AGGREGATED
    if _sort_name(sort) not in SCALAR_SORTS:
        return AGGREGATED
    tree = parse(query) if query.strip() else None
    return SCALAR if tree is None or _Scan().node(tree) else AGGREGATED
