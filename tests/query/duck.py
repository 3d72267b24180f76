"""A tiny executor over in-memory Arrow tables, for testing query functions without a store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from replaystore.fields import schema
from replaystore.storage.summary import payload
from replaystore.storage.views import tag_rows

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


class DuckExecutor:
    def __init__(self, **tables: list[dict[str, Any]]) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        for name, table_schema in schema.TABLES.items():
            rows = [_complete(r, table_schema) for r in tables.get(name, [])]
            self.con.register(name, pa.Table.from_pylist(rows, schema=table_schema))
        # The summary's payload as the store computes it from the row's other columns.
        with_payload = exp.select(
            exp.Star(replace=[exp.alias_(payload(), "payload", quoted=True)])
        ).from_("replays")
        stored = self.con.sql(with_payload.sql(dialect="duckdb")).to_arrow_table()
        self.con.unregister("replays")
        self.con.register("replays", stored)
        # The tag index as compaction derives it from the summary.
        self.con.execute(
            f"CREATE VIEW replay_tags AS {tag_rows(exp.to_table('replays')).sql('duckdb')}"
        )

    def execute(self, expression: exp.Expression, params: dict | None = None) -> list[dict]:
        cursor = self.con.execute(expression.sql(dialect="duckdb"))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _complete(row: dict[str, Any], table_schema: pa.Schema) -> dict[str, Any]:
    # As the store writes it: the partition is the month of started_at for the summary and
    # of the row's own timestamp for the other tables.
    moment = row.get("started_at" if table_schema is schema.REPLAYS else "timestamp")
    if "month" not in row and moment is not None:
        row = row | {"month": moment.astimezone(UTC).strftime("%Y-%m")}
    full: dict[str, Any] = {}
    for f in table_schema:
        if f.name in row:
            full[f.name] = row[f.name]
        elif pa.types.is_string(f.type):
            full[f.name] = ""
        elif pa.types.is_list(f.type):
            full[f.name] = []
        elif pa.types.is_boolean(f.type):
            full[f.name] = False
        elif pa.types.is_integer(f.type):
            full[f.name] = 0
        else:
            full[f.name] = None
    return full
