"""How many existing replays each issue, transaction or replay id has (`replay-count`).

Two steps, as Sentry: identifiers -> candidate replay ids (the ids themselves; the replays
linked to events of a transaction; the replays linked to the events an issue resolver names),
then candidates -> existing replays (segment 0 inside the window, not archived). Counts are
capped at 51; identifiers without an existing replay are absent from the answer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from replaystore.errors import SearchError
from replaystore.query.common import Executor, Window, conjunction, project_condition
from replaystore.search import parse
from replaystore.search.nodes import And, Filter, ListValue, Node, Or

MAX_REPLAY_COUNT = 51  # the UI shows "50+" above 50
CANDIDATES = 100  # replays looked at per issue or transaction (Sentry's events step)
MAX_EVENTS = 10_000  # event ids taken from the issue resolver per issue
KEYS = ("issue.id", "transaction", "replay_id")
MAX_VALUES = {"issue.id": 25, "transaction": 25, "replay_id": 100}
DATA_SOURCES = ("discover", "search_issues", "events", "transactions", "spans")
_URN = re.compile(r"^urn:uuid:", re.IGNORECASE)
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")

# What the embedding application hands in to answer `issue.id`: issue id -> event ids.
IssueResolver = Callable[[str], Iterable[str]]


class ReplayCountError(SearchError):
    """A `query` replay-count cannot answer (always a 400)."""


@dataclass(frozen=True)
class Selection:
    key: str  # one of KEYS
    values: tuple[str, ...]  # as given, in order, duplicates removed


def _selecting(node: Node) -> list[Filter]:
    if isinstance(node, And | Or):
        return [f for child in node.children for f in _selecting(child)]
    if isinstance(node, Filter) and node.key.kind != "tag" and node.key.name in KEYS:
        return [node]
    return []


def selection(query: str) -> Selection:
    """The one selecting term of `query`, with Sentry's messages for everything else."""
    tree = parse(query)
    found = _selecting(tree) if tree is not None else []
    if not found:
        raise ReplayCountError("Must provide at least one issue.id, transaction, or replay_id")
    if len(found) > 1:
        raise ReplayCountError("Must provide only one of: issue.id, transaction, replay_id")
    term = found[0]
    if not isinstance(term.value, ListValue):
        raise ReplayCountError("Condition value must be a list of strings")
    values = tuple(dict.fromkeys(item.text for item in term.value.items))
    if len(term.value.items) > MAX_VALUES[term.key.name]:
        raise ReplayCountError("Too many values provided")
    if term.key.name == "replay_id":
        values = tuple(dict.fromkeys(normal_replay_id(v) for v in values))
    return Selection(term.key.name, values)


def normal_replay_id(value: str) -> str:
    """32 lower-case hex digits from any spelling Python's UUID parser takes (dashes, braces,
    `urn:uuid:`); no version bits are forced."""
    text = _URN.sub("", value.strip()).strip("{}").replace("-", "")
    if not _HEX32.match(text):
        raise ReplayCountError("badly formed hexadecimal UUID string")
    return text.lower()


def _strings(values: Iterable[str]) -> list[exp.Expression]:
    return [exp.Literal.string(v) for v in sorted(set(values))]


def _linked(
    engine: Executor,
    column: str,
    values: Sequence[str],
    project_ids: Sequence[int],
    window: Window,
) -> dict[str, set[tuple[int, str]]]:
    """Per value of `links.column` (transaction or event_id), the replays linked to it."""
    if not values:
        return {}
    where = conjunction(
        [
            project_condition(project_ids),
            exp.column(column).isin(*_strings(values)),
            window.condition("timestamp"),
            window.month_condition(),
        ]
    )
    # As Sentry's events step: at most CANDIDATES replays per identifier, the latest first.
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column(column)],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=exp.Max(this=exp.column("timestamp")), desc=True),
                exp.Ordered(this=exp.column("replay_id")),
            ]
        ),
    )
    select = (
        exp.select(column, "project_id", "replay_id")
        .from_("links")
        .where(where)
        .group_by(column, "project_id", "replay_id")
        .qualify(exp.LTE(this=rank, expression=exp.Literal.number(CANDIDATES)))
    )
    found: dict[str, set[tuple[int, str]]] = {}
    for row in engine.execute(select):
        found.setdefault(row[column], set()).add((int(row["project_id"]), row["replay_id"]))
    return found


def _existing(
    engine: Executor, replay_ids: set[str], project_ids: Sequence[int], window: Window
) -> set[tuple[int, str]]:
    """The candidates whose segment 0 lies in `[start, end)` (not widened) and that are not
    archived."""
    if not replay_ids:
        return set()
    ids = _strings(replay_ids)
    first = conjunction(
        [
            project_condition(project_ids),
            exp.column("replay_id").isin(*ids),
            exp.column("segment_id").eq(exp.Literal.number(0)),
            window.condition("timestamp"),
            window.month_condition(),
        ]
    )
    archived = (
        exp.select("project_id", "replay_id")
        .from_("archives")
        .where(exp.column("replay_id").isin(*(i.copy() for i in ids)))
    )
    select = (
        exp.select("project_id", "replay_id")
        .distinct()
        .from_("segments")
        .where(first)
        .join(
            exp.Subquery(this=archived, alias=exp.TableAlias(this=exp.to_identifier("a"))),
            using=["project_id", "replay_id"],
            join_type="anti",
        )
    )
    return {(int(r["project_id"]), r["replay_id"]) for r in engine.execute(select)}


def _candidates(
    engine: Executor,
    chosen: Selection,
    project_ids: Sequence[int],
    window: Window,
    resolver: IssueResolver | None,
) -> dict[str, set[str]]:
    """identifier -> candidate replay ids."""
    if chosen.key == "replay_id":
        return {v: {v} for v in chosen.values}
    if chosen.key == "transaction":
        linked = _linked(engine, "transaction", chosen.values, project_ids, window)
        return {v: {r for _, r in linked.get(v, ())} for v in chosen.values}
    if resolver is None:
        raise ReplayCountError("issue.id lookups need an issue resolver")
    events: dict[str, set[str]] = {}
    for issue in chosen.values:
        ids = (_event_id(e) for e in itertools.islice(resolver(issue), MAX_EVENTS))
        events[issue] = {e for e in ids if e is not None}
    wanted = sorted({e for ids in events.values() for e in ids})
    linked = _linked(engine, "event_id", wanted, project_ids, window)
    found = {}
    for issue, ids in events.items():
        replays = sorted({r for e in ids for _, r in linked.get(e, ())})
        found[issue] = set(replays[:CANDIDATES])
    return found


def _event_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normal_replay_id(value)
    except ReplayCountError:
        return None  # a resolver's malformed event id names no stored event


def replay_counts(
    engine: Executor,
    query: str,
    *,
    project_ids: Sequence[int],
    window: Window,
    return_ids: bool = False,
    resolver: IssueResolver | None = None,
) -> Mapping[str, int | list[str]]:
    """`{identifier: count}` (or `{identifier: [replay ids]}` with `return_ids`), each at most
    MAX_REPLAY_COUNT; identifiers without an existing replay are left out."""
    chosen = selection(query)
    candidates = _candidates(engine, chosen, project_ids, window, resolver)
    existing = _existing(
        engine, {r for ids in candidates.values() for r in ids}, project_ids, window
    )
    alive = {r for _, r in existing}
    answer: dict[str, int | list[str]] = {}
    for identifier, ids in candidates.items():
        found = sorted(ids & alive)[:MAX_REPLAY_COUNT]
        if found:
            answer[identifier] = found if return_ids else len(found)
    return answer


def has_replays(engine: Executor, project_ids: Sequence[int]) -> bool:
    """Whether any of these projects ever stored a replay (Sentry's per-project flag)."""
    if not project_ids:
        return False
    select = (
        exp.select(exp.Literal.number(1)).from_("segments").where(project_condition(project_ids))
    )
    return bool(engine.execute(select.limit(1)))
