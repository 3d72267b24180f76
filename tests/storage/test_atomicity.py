"""A batch is visible whole or not at all; failures leave the previous snapshot intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.local import LocalFileSystem

from replaystore.storage.manifest import Manifest
from replaystore.storage.store import Store
from tests.storage import batches
from tests.storage.contents import everything

ROOT = Path(__file__).resolve().parents[2]


class BrokenBlobs(LocalFileSystem):
    """A real local filesystem whose writes start failing when `broken` is set."""

    broken = False

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        if self.broken:
            raise OSError("disk full (injected)")
        super().pipe_file(path, value, *args, **kwargs)


class CrashBeforePublish(Store):
    """A store whose next publish fails, as if the writer died after its Delta commits."""

    crash = False

    def publish(self, previous: Manifest | None = None) -> Manifest:
        if self.crash:
            raise RuntimeError("crashed before publish (injected)")
        return super().publish(previous)


def without_updated_at(state: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return {
        view: sorted(repr({k: v for k, v in r.items() if k != "updated_at"}) for r in found)
        for view, found in state.items()
    }


def test_failing_blob_store_leaves_snapshot_unchanged(tmp_path: Path) -> None:
    fs = BrokenBlobs()
    store = Store.open(str(tmp_path / "s"), filesystem=fs)
    store.write(batches.numbered(1))
    before = everything(store)
    seq = store.snapshot().seq
    fs.broken = True
    with pytest.raises(OSError, match="injected"):
        store.write(batches.numbered(2))
    assert store.snapshot().seq == seq
    assert everything(store) == before
    fs.broken = False
    store.write(batches.numbered(2))
    assert batches.assert_whole_batches(batches.counts_by_batch(store)) == {1, 2}


def test_crash_after_delta_commits_is_rolled_back_and_retry_is_idempotent(tmp_path: Path) -> None:
    root = str(tmp_path / "s")
    store = CrashBeforePublish.open(root)
    store.write(batches.numbered(1))
    before = everything(store)
    store.crash = True
    with pytest.raises(RuntimeError, match="injected"):
        store.write(batches.numbered(2))
    # the Delta tables hold batch 2, unpublished: readers must not see it
    assert everything(store) == before
    reopened = Store.open(root)
    assert everything(reopened) == before
    reopened.write(batches.numbered(2))
    reference = Store.open(str(tmp_path / "reference"))
    reference.write(batches.numbered(1))
    reference.write(batches.numbered(2))
    assert without_updated_at(everything(reopened)) == without_updated_at(everything(reference))


def test_reader_sees_whole_batches_during_concurrent_writes(tmp_path: Path) -> None:
    root = str(tmp_path / "s")
    writer = Store.open(root)
    reader = Store.open(root)
    done = threading.Event()
    errors: list[BaseException] = []

    def write_all() -> None:
        try:
            for b in range(1, 9):
                writer.write(batches.numbered(b))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=write_all)
    thread.start()
    previous: dict[str, int] = {}
    observations = 0
    while not done.is_set() or observations < 2:
        found = batches.counts_by_batch(reader)
        batches.assert_whole_batches(found)
        totals = {view: sum(c.values()) for view, c in found.items()}
        assert all(totals[v] >= previous.get(v, 0) for v in totals), "counts went backwards"
        previous = totals
        observations += 1
    thread.join()
    assert not errors
    assert batches.assert_whole_batches(batches.counts_by_batch(reader)) == set(range(1, 9))


WRITER = """
import sys
from replaystore.storage.store import Store
from tests.storage import batches
store = Store.open(sys.argv[1])
for b in range(1, 1000):
    store.write(batches.numbered(b))
    print(b, flush=True)
"""


def test_killed_writer_process_leaves_a_clean_store(tmp_path: Path) -> None:
    root = str(tmp_path / "s")
    Store.open(root)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, root],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    for _ in range(3):  # let a few batches commit, then kill it mid-write
        proc.stdout.readline()
    time.sleep(0.15)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store.open(root)
    seen = batches.assert_whole_batches(batches.counts_by_batch(store))
    assert len(seen) >= 3
    assert seen == set(range(1, len(seen) + 1))
    nxt = max(seen) + 1
    store.write(batches.numbered(nxt))
    assert batches.assert_whole_batches(batches.counts_by_batch(store)) == seen | {nxt}
