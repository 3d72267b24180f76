"""search stage (docs/architecture.md): query text -> tree -> sqlglot condition, from one registry.

Public API: `parse`, `compile_replay_search`, `raw_replays_query`, `compile_click_search`,
`sort_order`. Every error is a `replaystore.errors.SearchError`.

Summary vs raw: both answer "some non-empty value of the replay satisfies the term". The
summary's scalar columns (browser, user, os, ...) hold one value per replay (the lowest
segment's non-empty value), the raw rows every segment's; the two differ only for a replay
whose segments carry different non-empty values for the same field (the SDK sends one),
where the raw source matches any of them and the summary only the one it kept.
"""

from replaystore.fields.sources import raw_replays_query
from replaystore.search.compiler import compile_click_search, compile_replay_search
from replaystore.search.nodes import Node
from replaystore.search.parser import parse
from replaystore.search.sorting import sort_order

__all__ = [
    "Node",
    "compile_click_search",
    "compile_replay_search",
    "parse",
    "raw_replays_query",
    "sort_order",
]
