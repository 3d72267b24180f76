"""Recovery rolls back only what a failed write of this store left unpublished: a commit that
another program made to a table is never undone."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from replaystore.fields import schema
from replaystore.storage.store import Store
from tests.storage import batches
from tests.storage.test_atomicity import CrashBeforePublish

FOREIGN = "e" * 32


def _foreign_append(store: Store, table: str) -> int:
    """Another program appends a copy of one stored row, under another replay id."""
    uri = store.layout.table_uri(table)
    row = DeltaTable(uri).to_pyarrow_table().to_pylist()[0] | {"replay_id": FOREIGN}
    write_deltalake(uri, pa.Table.from_pylist([row], schema=schema.TABLES[table]), mode="append")
    return DeltaTable(uri).version()


def _replays_in(store: Store, view: str) -> set[str]:
    with store.connect() as con:
        return {r for (r,) in con.execute(f"SELECT DISTINCT replay_id FROM {view}").fetchall()}


def test_an_unpublished_commit_of_another_program_is_published_not_undone(
    tmp_path: Path,
) -> None:
    store = Store.open(str(tmp_path / "s"))
    store.write(batches.numbered(1))
    version = _foreign_append(store, "segments")
    store.write(batches.numbered(2))
    assert store.snapshot().versions["segments"] >= version
    assert FOREIGN in _replays_in(store, "segments")
    counts = batches.counts_by_batch(store)
    assert counts["segments"][1] == counts["segments"][2] > 0
    assert counts["replays"][1] == counts["replays"][2] > 0


def test_a_crashed_write_is_rolled_back_around_another_programs_commit(tmp_path: Path) -> None:
    root = str(tmp_path / "s")
    store = CrashBeforePublish.open(root)
    store.write(batches.numbered(1))
    store.crash = True
    with pytest.raises(RuntimeError, match="injected"):
        store.write(batches.numbered(2))
    # Batch 2 is committed to the tables but unpublished; then another program writes clicks.
    _foreign_append(store, "clicks")
    reopened = Store.open(root)
    reopened.write(batches.numbered(3))
    assert FOREIGN in _replays_in(reopened, "clicks")
    # Batch 2's segments and summaries were rolled back: nothing of it is half there.
    counts = batches.counts_by_batch(reopened)
    assert set(counts["segments"]) == set(counts["replays"]) == {1, 3}
