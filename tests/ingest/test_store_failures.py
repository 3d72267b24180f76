"""Real store failures under the ingest service: a Delta commit conflict with a second writer,
and a folder that turns read-only for a moment. Both are retried whole; nothing acknowledged
is lost or set aside, and the other writer's commit is never undone."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from fsspec.implementations.local import LocalFileSystem

from replaystore.fields import schema
from replaystore.ingest.envelopes import EnvelopeInput
from replaystore.ingest.service import COMMIT_FAILURES, REJECTED_DIR, IngestService
from replaystore.storage.store import Store
from tests.ingest.builders import (
    REPLAY_ID,
    T0,
    breadcrumb,
    node,
    replay_envelope,
    replay_event,
    slow_click,
)

OTHER_REPLAY = "f" * 32


class SecondWriterInBetween(LocalFileSystem):
    """The store's real local blob filesystem; when `between` is set, the next blob write
    first runs it. A store write puts its blobs after reading the tables and before its Delta
    commits, so what `between` commits lands between the store's read and its commit."""

    between: Callable[[], None] | None = None

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        run, self.between = self.between, None
        if run is not None:
            run()
        super().pipe_file(path, value, *args, **kwargs)


def _envelope(segment_id: int, click: dict) -> EnvelopeInput:
    event = replay_event(segment_id=segment_id, timestamp=T0 + 1 + segment_id)
    body = replay_envelope(event, [click])
    return EnvelopeInput(body=body, project_id=42, name=f"segment {segment_id}")


def _rows(store: Store, sql: str) -> list[tuple]:
    with store.connect() as con:
        return con.execute(sql).fetchall()


def _failures() -> float:
    return COMMIT_FAILURES._value.get()


def test_a_commit_conflict_with_a_second_writer_is_retried_whole(tmp_path: Path) -> None:
    fs = SecondWriterInBetween()
    store = Store.open(str(tmp_path / "store"), filesystem=fs)
    button = node(4)
    clicks_uri = store.layout.table_uri("clicks")
    committed: list[int] = []

    def second_writer() -> None:
        # Another program appends a click of another replay to the same month partition.
        (row,) = DeltaTable(clicks_uri).to_pyarrow_table().to_pylist()
        row |= {"replay_id": OTHER_REPLAY, "event_hash": "0" * 32}
        foreign = pa.Table.from_pylist([row], schema=schema.CLICKS)
        write_deltalake(clicks_uri, foreign, mode="append")
        committed.append(DeltaTable(clicks_uri).version())

    with IngestService(store, tmp_path / "journal", retry_delay=0.01) as service:
        service.submit(_envelope(0, breadcrumb("ui.click", T0 + 0.5, button)))
        assert service.flush(timeout=60)
        before = _failures()
        # Segment 1 upgrades the stored click to a dead one: a merge into the clicks table,
        # which conflicts with the second writer's append to the partition it read.
        fs.between = second_writer
        service.submit(_envelope(1, slow_click(T0 + 0.5, button)))
        assert service.flush(timeout=60)
    assert committed, "the second writer never ran"
    assert _failures() > before, "the write did not conflict: nothing was retried"
    assert not (tmp_path / "journal" / REJECTED_DIR).exists()
    reopened = Store.open(store.layout.root)
    assert _rows(reopened, "SELECT segment_id FROM segments ORDER BY 1") == [(0,), (1,)]
    clicks = "SELECT replay_id, is_dead FROM clicks ORDER BY replay_id"
    assert _rows(reopened, clicks) == [(REPLAY_ID, True), (OTHER_REPLAY, False)]


@contextlib.contextmanager
def read_only_folder(folder: Path, *, tree: bool = False) -> Iterator[None]:
    """Make `folder` (with `tree`, everything under it too) refuse writes for real: chmod, or
    for root (whom modes do not stop) the immutable attribute."""
    if os.geteuid() == 0:
        recursive = ["-R"] if tree else []
        subprocess.run(["chattr", *recursive, "+i", str(folder)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", *recursive, "-i", str(folder)], check=True)
    else:
        paths = [folder, *(folder.rglob("*") if tree else [])]
        modes = {p: p.stat().st_mode for p in paths}
        for path in paths:
            path.chmod(modes[path] & ~0o222)
        try:
            yield
        finally:
            for path in reversed(paths):
                path.chmod(modes[path])


def test_a_folder_read_only_for_a_moment_is_retried_without_loss(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "store"))
    blobs = Path(store.layout.root) / "blobs"
    blobs.mkdir(exist_ok=True)
    before = _failures()
    with IngestService(
        store, tmp_path / "journal", retry_delay=0.01, max_retry_delay=0.05
    ) as service:
        with read_only_folder(blobs):
            service.submit(_envelope(0, breadcrumb("ui.click", T0 + 0.5, node(4))))
            assert not service.flush(timeout=1)
            assert _failures() > before
        assert service.flush(timeout=60)
    assert not (tmp_path / "journal" / REJECTED_DIR).exists()
    assert _rows(Store.open(store.layout.root), "SELECT segment_id FROM segments") == [(0,)]


@pytest.fixture(autouse=True)
def _no_leftover_immutable(tmp_path: Path) -> Iterator[None]:
    yield
    if os.geteuid() == 0:  # so pytest can remove tmp_path even after a failed test
        subprocess.run(["chattr", "-R", "-i", str(tmp_path)], check=False, capture_output=True)
