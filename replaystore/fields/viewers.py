"""`viewed_by_id` / `viewed_by_me` over the stored views (the `viewers` table).

The summary form is an uncorrelated `replay_id IN (SELECT replay_id FROM viewers WHERE ...)`
(DuckDB runs it as one semi-join over the small views table); the raw form correlates with the
outer replay row as every raw condition does.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from replaystore.fields import sql
from replaystore.fields.sources import correlated, exists

TABLE = "viewers"
_INT64 = range(-(2**63), 2**63)


def viewed_by(ids: Sequence[int], source: str) -> exp.Expression:
    """Some stored view of the replay is by one of `ids`. Id 0 matches every replay: Sentry
    stores viewer 0 on every row that is not a view (`viewed_by_id:0`)."""
    if 0 in ids:
        return exp.true()
    wanted = sorted({i for i in ids if i in _INT64})  # larger ids are nobody's
    if not wanted:
        return exp.false()
    literals = [exp.Literal.number(i) for i in wanted]
    if source == "summary":
        viewed = (
            exp.select(sql.col("replay_id"))
            .from_(TABLE)
            .where(exp.In(this=sql.col("viewer_id"), expressions=literals))
        )
        return sql.true_or_false(exp.In(this=sql.col("replay_id"), query=viewed.subquery()))
    query = correlated(TABLE, "w").select(exp.Literal.number(1))
    return exists(query.where(exp.In(this=sql.col("viewer_id", "w"), expressions=literals)))
