"""Numbered batches for atomicity tests: batch b holds REPLAYS replays of SEGMENTS segments,
one click each, and every replay id starts with b's 8 hex digits."""

from __future__ import annotations

from collections import Counter

from sqlglot import exp

from replaystore.storage.batch import Blob, WriteBatch
from replaystore.storage.store import Store
from tests.storage import rows as R

REPLAYS = 4
SEGMENTS = 3
EXPECTED = {"segments": REPLAYS * SEGMENTS, "clicks": REPLAYS, "replays": REPLAYS}


def replay_id(batch: int, i: int) -> str:
    return f"{batch:08x}{i:024x}"


def numbered(batch: int, project_id: int = 1) -> WriteBatch:
    segments, clicks, blobs = [], [], []
    for i in range(REPLAYS):
        r = replay_id(batch, i)
        segments += [R.segment(project_id, r, s, urls=[f"/{batch}"]) for s in range(SEGMENTS)]
        clicks.append(R.click(project_id, r, f"{batch:016x}{i:016x}"))
        blobs.append(Blob(project_id, r, 0, f"batch {batch}".encode()))
    return R.batch(segments, clicks, blobs=blobs)


def counts_by_batch(store: Store) -> dict[str, Counter[int]]:
    """Per view, rows per batch number, all read from one snapshot."""
    con = store.connect()
    found: dict[str, Counter[int]] = {}
    try:
        for view in EXPECTED:
            prefix = exp.Substring(
                this=exp.column("replay_id"),
                start=exp.Literal.number(1),
                length=exp.Literal.number(8),
            )
            query = (
                exp.select(exp.alias_(prefix, "b"), exp.alias_(exp.Count(this=exp.Star()), "n"))
                .from_(view)
                .group_by(prefix)
            )
            rows = con.execute(query.sql(dialect="duckdb")).fetchall()
            found[view] = Counter({int(b, 16): n for b, n in rows})
    finally:
        con.close()
    return found


def assert_whole_batches(found: dict[str, Counter[int]]) -> set[int]:
    """Every batch is seen whole in every table or not at all; returns the batches seen."""
    seen = set().union(*(set(c) for c in found.values()))
    for batch in seen:
        got = {view: found[view][batch] for view in EXPECTED}
        assert got == EXPECTED, f"batch {batch} seen partially: {got}"
    return seen
