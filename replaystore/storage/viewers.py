"""Recording that a user viewed a replay: the `viewers` table.

A view is stored once per (project, replay, viewer): recording it again is a no-op (Sentry
writes a row per POST and deduplicates when reading; the answers are the same either way). Its row
sits in the replay's month with the replay's `started_at` as `timestamp`, so retention
expires it with the replay, and `delete_replay` purges it (storage/delete.py `PURGED`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from replaystore.fields import schema
from replaystore.fields.sql import DIALECT
from replaystore.storage.properties import partition_month
from replaystore.storage.tables import append

if TYPE_CHECKING:
    from replaystore.storage.store import Store

TABLE = "viewers"


def record_view(
    store: Store, project_id: int, replay_id: str, viewer_id: int, started_at: datetime
) -> bool:
    """Store that `viewer_id` viewed the replay; False when that view was already stored."""
    month = partition_month(started_at)
    with store.writing():
        con = store.scan_connection({TABLE: store.latest_files(TABLE, {month})})
        if _stored(con, project_id, replay_id, viewer_id):
            return False
        row = {
            "project_id": project_id,
            "replay_id": replay_id,
            "viewer_id": viewer_id,
            "timestamp": started_at,
            "viewed_at": store.now(),
            "month": month,
        }
        append(store.tables[TABLE], pa.Table.from_pylist([row], schema=schema.VIEWERS))
        store.publish()
    return True


def _stored(con: object, project_id: int, replay_id: str, viewer_id: int) -> bool:
    wanted = {"project_id": project_id, "replay_id": replay_id, "viewer_id": viewer_id}
    query = (
        exp.select(exp.Literal.number(1))
        .from_(TABLE)
        .where(
            exp.and_(
                *(
                    exp.EQ(this=exp.column(name), expression=exp.convert(value))
                    for name, value in wanted.items()
                )
            )
        )
        .limit(1)
    )
    return bool(con.sql(query.sql(dialect=DIALECT)).fetchall())  # type: ignore[attr-defined]
