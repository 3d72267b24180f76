"""The strongest peer: ClickHouse (chdb) holding our own one-row-per-replay summary in a native
MergeTree, the design PostHog and OpenReplay use.

Not product code. The table is loaded once, untimed, from the store's compacted `replays`
summary files, then every listed query runs against it with the same filter and order as the
product's, selecting `replay_id, payload` (what the product shapes a response from).

The table layout is what a ClickHouse engineer would pick for this workload: every list query
is a time window over all of an organization's projects ordered by `started_at`, so the
primary key is `started_at` (read-in-order serves `ORDER BY started_at DESC LIMIT n` from the
newest granules), partitioned by month as our files are, with small granules (PostHog and
OpenReplay use `index_granularity = 512`) and a bloom-filter skip index on `replay_id` for the
point fetch (Sentry's own choice, snuba migration 0009). Parts are merged with
`OPTIMIZE ... FINAL` before timing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from benchmarks.baselines import CLICKHOUSE, Runner, q

TABLE = "summary_mt"
GRANULARITY = 512
ORDER_BY = "started_at"
SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class MtCase:
    """One listed query over the MergeTree summary."""

    where: str = ""  # extra predicate over summary columns (ClickHouse SQL)
    sort: str = "-started_at"
    days: int = 90
    fetch_id: str = ""  # a point fetch of one replay when set


def load(run: Runner, files: Sequence[str]) -> dict[str, float]:
    """Create and fill the MergeTree from the summary Parquet files; returns load facts."""
    import time

    paths = [f.removeprefix("file://") for f in files]
    run(f"DROP TABLE IF EXISTS {TABLE}")
    started = time.perf_counter()
    source = " UNION ALL ".join(f"SELECT * FROM file({q(p)}, Parquet)" for p in paths)
    run(
        f"CREATE TABLE {TABLE} ENGINE = MergeTree PARTITION BY toYYYYMM(started_at) "
        f"ORDER BY {ORDER_BY} SETTINGS index_granularity = {GRANULARITY} "
        "AS SELECT * EXCEPT (month) REPLACE (assumeNotNull(project_id) AS project_id, "
        "assumeNotNull(replay_id) AS replay_id, assumeNotNull(started_at) AS started_at) "
        f"FROM ({source})"
    )
    run(f"ALTER TABLE {TABLE} ADD INDEX replay_id_bloom replay_id TYPE bloom_filter GRANULARITY 1")
    run(f"ALTER TABLE {TABLE} MATERIALIZE INDEX replay_id_bloom SETTINGS mutations_sync = 2")
    run(f"OPTIMIZE TABLE {TABLE} FINAL")
    rows = run(f"SELECT count() FROM {TABLE}")
    return {"seconds": round(time.perf_counter() - started, 1), "rows": int(rows[0][0])}


def _ts(value: datetime) -> str:
    return CLICKHOUSE.ts(value)


def sql(case: MtCase, projects: Sequence[int], end: datetime, page: int = 10) -> str:
    start = end - timedelta(days=case.days)
    ids = ", ".join(str(int(p)) for p in projects)
    if case.fetch_id:
        return (
            f"SELECT replay_id, payload FROM {TABLE} WHERE project_id IN ({ids}) "
            f"AND replay_id = {q(case.fetch_id)} AND started_at >= {_ts(start - SLACK)} "
            f"AND started_at < {_ts(end + SLACK)}"
        )
    where = f"project_id IN ({ids}) AND started_at >= {_ts(start)} AND started_at < {_ts(end)}"
    if case.where:
        where += f" AND ({case.where})"
    field = case.sort.lstrip("-")
    direction = "DESC" if case.sort.startswith("-") else "ASC"
    return (
        f"SELECT replay_id, payload FROM {TABLE} WHERE {where} "
        f"ORDER BY {field} {direction}, replay_id LIMIT {page + 1}"
    )


def call(run: Runner, case: MtCase, projects: Sequence[int], end: datetime) -> Callable[[], int]:
    text = sql(case, projects, end)

    def go() -> int:
        return len(run(text))

    return go


def has(column: str, value: str) -> str:
    return f"has({column}, {q(value)})"


def wildcard(part: str) -> str:
    return f"arrayExists(u -> u ILIKE {q('%' + part + '/%')}, urls)"


def tag(key: str, value: str) -> str:
    return (
        f"arrayExists(t -> tupleElement(t, 'key') = {q(key)} "
        f"AND tupleElement(t, 'value') = {q(value)}, tags)"
    )


def click(condition: str) -> str:
    """Some click of the replay matches `condition`, written over `c.<field>`."""
    for name in ("tag", "id", "class", "is_dead"):
        condition = condition.replace(f"c.{name}", f"tupleElement(c, '{name}')")
    return f"arrayExists(c -> {condition}, clicks)"
