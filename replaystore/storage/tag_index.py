"""The `tags` index: one row per (replay, tag key, value) of the summary base, so tag values
and tag keys read one key's narrow rows instead of decoding every replay's tag list.

Compaction writes a base month's index rows beside the month itself (`index_rows`). Readers
query the view `replay_tags`: the index rows of replays the recent tier does not hold, plus
the recent tier's newest rows unnested on the fly (`views.tag_rows`, the one derivation).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields.sql import DIALECT
from replaystore.storage.views import tag_rows

SORT = ("key", "value", "started_at")


def index_rows(summaries: pa.Table) -> pa.Table:
    """The index rows of some summary rows, sorted by key, value and started_at."""
    con = duckdb.connect()
    try:
        con.register("summaries", summaries)
        query = tag_rows(exp.to_table("summaries")).order_by(*(exp.column(c) for c in SORT))
        rows = con.sql(query.sql(dialect=DIALECT)).to_arrow_table()
    finally:
        con.close()
    return rows.select(schema.TAGS.names).cast(schema.TAGS)
