"""Sentry's query shape as fixed SQL text, for DuckDB and for ClickHouse (chdb).

Not product code: these are the baselines the benchmark compares against. They read the raw
`segments`, `clicks` and `links` Parquet files of the store's snapshot and aggregate per
replay at query time, two-phase as Sentry does:

1. preflight: `GROUP BY replay_id HAVING min(segment_id) = 0 [AND aggregate predicates]
   ORDER BY <aggregate> LIMIT page+1` over the window's segment rows (click predicates as
   `replay_id IN (SELECT ... FROM clicks ...)`, Snuba's SubqueryFilterOptimizer form);
2. data query: the full per-replay aggregation of those ids only (window widened by 1 h).

Sentry keeps clicks in the replays table; here click aggregates come from a grouped join on
the `clicks` files restricted to the same window, which reads the same rows.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from replaystore.fields.summary import PICKED

SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class Dialect:
    name: str
    has: str  # {l} contains {x}
    length: str  # {l}
    wildcard: str  # some element of {l} ILIKE {p}
    tag_pairs: str  # list of 'k=v' strings from tags_key/tags_value
    seconds: str  # whole seconds from {a} to {b}
    pick: str  # any value of {c}
    flat: str  # concatenation of the lists {c} of a group
    flat_distinct: str
    distinct: str  # distinct values of scalar {c} as a list
    ts: Callable[[datetime], str]


def _duck_ts(value: datetime) -> str:
    return f"TIMESTAMPTZ '{value.isoformat()}'"


def _ch_ts(value: datetime) -> str:
    utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"toDateTime64('{utc}', 6, 'UTC')"


DUCKDB = Dialect(
    name="duckdb",
    has="list_contains({l}, {x})",
    length="len({l})",
    wildcard="len(list_filter({l}, lambda u: u ILIKE {p})) > 0",
    tag_pairs="list_transform(list_zip(tags_key, tags_value), lambda kv: kv[1] || '=' || kv[2])",
    seconds="(epoch({b}) - epoch({a}))::BIGINT",
    pick="any_value({c})",
    flat="flatten(list({c}))",
    flat_distinct="list_distinct(flatten(list({c})))",
    distinct="list_distinct(list({c}))",
    ts=_duck_ts,
)

CLICKHOUSE = Dialect(
    name="clickhouse",
    has="has({l}, {x})",
    length="length({l})",
    wildcard="arrayExists(u -> u ILIKE {p}, {l})",
    tag_pairs="arrayMap((k, v) -> concat(k, '=', v), tags_key, tags_value)",
    seconds="dateDiff('second', {a}, {b})",
    pick="any({c})",
    flat="groupArrayArray({c})",
    flat_distinct="groupUniqArrayArray({c})",
    distinct="groupUniqArray({c})",
    ts=_ch_ts,
)


def q(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


Predicate = str | Callable[[Dialect], str]


def render(predicate: Predicate, d: Dialect) -> str:
    return predicate if isinstance(predicate, str) else predicate(d)


@dataclass(frozen=True)
class Case:
    """One listed query in Sentry's shape (a None preflight means a single query)."""

    having: Predicate = ""  # extra HAVING predicate over segment rows
    where: Predicate = ""  # extra WHERE predicate over segment rows
    click_filter: Predicate = ""  # WHERE over click rows: replay must have such a click
    sort: str = "-started_at"
    days: int = 7
    kind: str = "list"  # list | fetch | clicks | segments | tag_keys | tag_values
    replay_id: str = ""
    project_id: int = 0
    tag_key: str = ""


SORTS = {
    "started_at": "min(s.replay_start_timestamp)",
    "duration": "{seconds_agg}",
    "count_errors": "sum({length_err})",
    "count_urls": "sum({length_urls})",
    "count_segments": "count(*)",
    "activity": "least(10, greatest(1, (25 * sum({length_err}) + 5 * sum({length_urls})) / 10))",
    "count_dead_clicks": "max(c.dead)",
    "count_rage_clicks": "max(c.rage)",
}


class Sources:
    """The FROM text of each raw table for one engine, from the snapshot's file lists."""

    def __init__(self, dialect: Dialect, files: dict[str, Sequence[str]]) -> None:
        self.dialect = dialect
        self.files = files

    def table(self, name: str) -> str:
        files = [f.removeprefix("file://") for f in self.files[name]]
        if self.dialect.name == "duckdb":
            listed = ", ".join(q(f) for f in files)
            return f"read_parquet([{listed}])"
        by_dir: dict[str, list[str]] = collections.defaultdict(list)
        for f in files:
            by_dir[os.path.dirname(f)].append(os.path.basename(f))
        parts = [
            f"SELECT * FROM file({q(d + '/{' + ','.join(names) + '}')}, Parquet)"
            for d, names in sorted(by_dir.items())
        ]
        return "(" + " UNION ALL ".join(parts) + ")"


def _window(d: Dialect, start: datetime, end: datetime, column: str = "timestamp") -> str:
    return f"{column} >= {d.ts(start)} AND {column} < {d.ts(end)}"


def _projects(ids: Sequence[int], alias: str = "") -> str:
    return f"{alias}project_id IN (" + ", ".join(str(int(p)) for p in ids) + ")"


def _click_counts(src: Sources, where: str) -> str:
    return (
        "(SELECT replay_id, sum(CASE WHEN is_dead THEN 1 ELSE 0 END) AS dead, "
        "sum(CASE WHEN is_rage THEN 1 ELSE 0 END) AS rage "
        f"FROM {src.table('clicks')} WHERE {where} GROUP BY replay_id)"
    )


def preflight(src: Sources, case: Case, projects: Sequence[int], end: datetime, page: int) -> str:
    d = src.dialect
    start = end - timedelta(days=case.days)
    where = f"{_projects(projects)} AND {_window(d, start, end)}"
    if case.where:
        where += f" AND ({render(case.where, d)})"
    if case.click_filter:
        where += (
            f" AND s.replay_id IN (SELECT replay_id FROM {src.table('clicks')} "
            f"WHERE {_projects(projects)} AND {_window(d, start, end)} "
            f"AND ({render(case.click_filter, d)}))"
        )
    field = case.sort.lstrip("-")
    order = SORTS[field].format(
        seconds_agg=d.seconds.format(a="min(s.replay_start_timestamp)", b="max(s.timestamp)"),
        length_err=d.length.format(l="s.error_ids"),
        length_urls=d.length.format(l="s.urls"),
    )
    join = ""
    if field.startswith("count_") and field.endswith("_clicks"):
        clicks_where = f"{_projects(projects)} AND {_window(d, start, end)}"
        join = f" LEFT JOIN {_click_counts(src, clicks_where)} c ON c.replay_id = s.replay_id"
    having = "min(s.segment_id) = 0"
    if case.having:
        having += f" AND ({render(case.having, d)})"
    direction = "DESC" if case.sort.startswith("-") else "ASC"
    return (
        f"SELECT s.replay_id FROM {src.table('segments')} s{join} WHERE {where} "
        f"GROUP BY s.replay_id HAVING {having} "
        f"ORDER BY {order} {direction}, s.replay_id LIMIT {page + 1}"
    )


def details(
    src: Sources, ids: Sequence[str], projects: Sequence[int], start: datetime, end: datetime
) -> str:
    """Sentry's data query: every response aggregate of the given replays."""
    d = src.dialect
    id_list = ", ".join(q(i) for i in ids) if ids else "''"
    window = _window(d, start - SLACK, end + SLACK)
    where = f"{_projects(projects)} AND {window} AND replay_id IN ({id_list})"
    where_s = f"{_projects(projects, 's.')} AND {window} AND s.replay_id IN ({id_list})"
    # The same "any non-empty value" columns the product's summary picks.
    picks = ", ".join(f"{d.pick.format(c=c)} AS {c}" for c in PICKED)
    clicks = _click_counts(src, where)
    return (
        "SELECT s.project_id, s.replay_id, min(s.replay_start_timestamp) AS started_at, "
        "max(s.timestamp) AS finished_at, "
        f"{d.seconds.format(a='min(s.replay_start_timestamp)', b='max(s.timestamp)')} AS duration, "
        "count(*) AS count_segments, "
        f"{d.flat.format(c='s.urls')} AS urls, "
        f"{d.flat_distinct.format(c='s.error_ids')} AS error_ids, "
        f"{d.flat_distinct.format(c='s.trace_ids')} AS trace_ids, "
        f"{d.distinct.format(c='s.release')} AS releases, "
        f"{d.flat_distinct.format(c=d.tag_pairs)} AS tags, "
        "max(c.dead) AS count_dead_clicks, max(c.rage) AS count_rage_clicks, "
        f"{picks} "
        f"FROM {src.table('segments')} s LEFT JOIN {clicks} c ON c.replay_id = s.replay_id "
        f"WHERE {where_s} "
        "GROUP BY s.project_id, s.replay_id HAVING min(s.segment_id) = 0"
    )


def single_replay(src: Sources, case: Case, end: datetime) -> str:
    d = src.dialect
    start = end - timedelta(days=case.days)
    rid = q(case.replay_id)
    window = _window(d, start - SLACK, end + SLACK)
    if case.kind == "clicks":
        return (
            f"SELECT node_id, timestamp FROM {src.table('clicks')} "
            f"WHERE project_id = {case.project_id} AND replay_id = {rid} AND {window} "
            "ORDER BY timestamp, node_id, event_hash LIMIT 101"
        )
    return (
        f"SELECT segment_id, timestamp, received FROM {src.table('segments')} "
        f"WHERE project_id = {case.project_id} AND replay_id = {rid} AND {window} "
        "ORDER BY segment_id LIMIT 101"
    )


def tag_query(src: Sources, case: Case, projects: Sequence[int], end: datetime) -> str:
    d = src.dialect
    start = end - timedelta(days=case.days)
    where = f"{_projects(projects)} AND {_window(d, start, end)}"
    pairs = d.tag_pairs
    if d.name == "duckdb":
        exploded = (
            f"SELECT replay_id, timestamp, unnest({pairs}) AS kv FROM {src.table('segments')}"
        )
        key = "split_part(kv, '=', 1)"
        value = "split_part(kv, '=', 2)"
    else:
        exploded = (
            f"SELECT replay_id, timestamp, arrayJoin({pairs}) AS kv FROM {src.table('segments')}"
        )
        key = "splitByChar('=', kv)[1]"
        value = "splitByChar('=', kv)[2]"
    source = f"({exploded} WHERE {where}) t"
    distinct = "count(DISTINCT replay_id)"
    if case.kind == "tag_keys":
        return (
            f"SELECT {key} AS k, {distinct} AS n FROM {source} GROUP BY k "
            "ORDER BY n DESC, k LIMIT 1001"
        )
    return (
        f"SELECT {value} AS v, {distinct} AS n, min(timestamp) AS first_seen, "
        f"max(timestamp) AS last_seen FROM {source} WHERE {key} = {q(case.tag_key)} "
        "GROUP BY v ORDER BY last_seen DESC, v LIMIT 101"
    )


Runner = Callable[[str], list[tuple[Any, ...]]]


def duckdb_runner(threads: int = 2, memory_limit: str = "1GB") -> Runner:
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})

    def run(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    return run


_CHDB_SESSION: list[Any] = []


def chdb_runner() -> Runner:
    """A runner on the process's one chdb session (chdb allows one per process)."""
    from chdb import session  # imported here: an optional benchmark dependency

    if not _CHDB_SESSION:
        _CHDB_SESSION.append(session.Session())
    sess = _CHDB_SESSION[0]

    def run(sql: str) -> list[tuple[Any, ...]]:
        result = sess.query(sql, "JSONCompact")
        import orjson

        text = result.bytes()
        return [tuple(r) for r in orjson.loads(text)["data"]] if text else []

    return run


def run_case(
    run: Runner,
    src: Sources,
    case: Case,
    projects: Sequence[int],
    end: datetime,
    page: int = 10,
) -> int:
    """Run one case the Sentry way; returns the number of rows of the final result."""
    if case.kind in ("clicks", "segments"):
        return len(run(single_replay(src, case, end)))
    if case.kind in ("tag_keys", "tag_values"):
        return len(run(tag_query(src, case, projects, end)))
    start = end - timedelta(days=case.days)
    if case.kind == "fetch":
        return len(run(details(src, [case.replay_id], projects, start, end)))
    ids = [str(row[0]) for row in run(preflight(src, case, projects, end, page))]
    if not ids:
        return 0
    return len(run(details(src, ids[:page], projects, start, end)))
