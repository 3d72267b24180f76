"""The Delta log of the version the manifest names outlives every commit: a checkpoint
written by a commit does not clean the log (only the vacuum does, after it has published)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from replaystore.fields.schema import LINKS
from replaystore.storage.compact import set_file_retention
from replaystore.storage.layout import Layout
from replaystore.storage.store import Store
from replaystore.storage.tables import append, open_or_create


def test_a_checkpointing_commit_keeps_an_old_version_loadable(tmp_path: Path) -> None:
    layout = Layout.for_root(str(tmp_path))
    dt = open_or_create(layout, "links", None)
    set_file_retention(dt, timedelta(0))  # logs older than 0 s may go, if anything cleans
    pinned = dt.version()
    # the default checkpoint interval is 100 commits: pass it
    for i in range(105):
        row = {"project_id": 1, "replay_id": f"{i:032x}", "event_id": f"{i:032x}"}
        row.update(level="error", timestamp=datetime(2026, 1, 1, tzinfo=UTC), month="2026-01")
        append(dt, pa.Table.from_pylist([row], schema=LINKS))
    log = sorted(p.name for p in (tmp_path / "tables" / "links" / "_delta_log").iterdir())
    assert any(name.endswith(".checkpoint.parquet") for name in log)
    old = DeltaTable(layout.table_uri("links"))
    old.load_as_version(pinned)  # raises when the log of `pinned` was cleaned
    assert old.version() == pinned


def test_every_table_is_created_without_automatic_log_cleanup(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    for name, dt in store.tables.items():
        assert dt.metadata().configuration.get("delta.enableExpiredLogCleanup") == "false", name
