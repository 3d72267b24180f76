"""A merge (DELETE's purge, a click replacement) that loses the commit race to the writer's
background merge of small files reruns on the newest version (found by tests/test_docs.py:
the README's DELETE answered 500 while maintenance merged the demo store's files)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

import replaystore
from replaystore.storage.compact import compact_raw
from replaystore.storage.tables import delete_rows

ROOT = Path(__file__).resolve().parent.parent.parent
CAPTURE = sorted((ROOT / "data" / "fixtures" / "sdk-capture").glob("*.envelope"))
REPLAY = "dd6eede9d2ae4e18aa22002dfdfbb9e3"


def test_a_merge_behind_a_background_optimize_still_commits(tmp_path):
    with replaystore.open(tmp_path) as store:
        store.ingest_files(CAPTURE[:3], project_id=42)
        store.ingest_files(CAPTURE[3:], project_id=42)  # two small files per table
        uri = store.storage.layout.table_uri("segments")
        behind, maintenance = DeltaTable(uri), DeltaTable(uri)
        assert compact_raw(maintenance, target=1 << 30, month="2026-11") == 2
        rows = pa.table(
            {
                "project_id": pa.array([42], pa.int64()),
                "replay_id": [REPLAY],
                "month": ["2026-11"],
            }
        )
        delete_rows(behind, rows, ("project_id", "replay_id"))
        assert behind.version() == maintenance.version() + 1
        left = DeltaTable(uri).to_pyarrow_table(columns=["replay_id"]).column(0).to_pylist()
        assert REPLAY not in left
