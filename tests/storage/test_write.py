"""Store.write: idempotent upserts, click replacement, blobs, visibility rules."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from replaystore.errors import ReplayStoreError
from replaystore.fields import schema
from replaystore.storage.batch import Blob
from replaystore.storage.store import Store
from tests.storage import rows as R
from tests.storage.contents import everything, rows

P = 3


def full_batch(n: int = 3, first: int = 0) -> R.WriteBatch:
    segments, clicks, links, blobs = [], [], [], []
    for i in range(first, first + n):
        r = R.rid(i)
        segments += [
            R.segment(P, r, 0, urls=[f"/{i}"], user_email=f"u{i}@example.com"),
            R.segment(P, r, 1, urls=["/next"], error_ids=[f"{i:031x}e"]),
        ]
        clicks += [R.click(P, r, f"{i:031x}c"), R.click(P, r, f"{i:031x}d", is_rage=True)]
        links += [R.link(P, r, f"{i:031x}w", "warning")]
        blobs += [Blob(P, r, 0, f"rec-{i}-0".encode()), Blob(P, r, 1, f"rec-{i}-1".encode())]
    return R.batch(segments, clicks, links, blobs)


def test_writing_the_same_batch_twice_changes_nothing(store: Store) -> None:
    first = store.write(full_batch())
    after_once = everything(store)
    second = store.write(full_batch())
    assert everything(store) == after_once
    assert first.written == {"segments": 6, "clicks": 6, "links": 3, "replays": 3}
    assert second.written == {"segments": 0, "clicks": 0, "links": 0, "replays": 0}
    assert second.skipped == {"segments": 6, "clicks": 6, "links": 3}
    assert second.touched == ()
    assert len(after_once["replays"]) == 3


def test_overlapping_batch_writes_only_new_rows_and_recomputes_touched(store: Store) -> None:
    store.write(full_batch(n=2))
    result = store.write(full_batch(n=2, first=1))  # replay 1 again, replay 2 new
    assert result.written["segments"] == 2
    assert result.skipped["segments"] == 2
    assert result.touched == ((P, R.rid(2)),)
    assert len(rows(store, "segments")) == 6
    assert len(rows(store, "replays")) == 3


def test_a_later_segment_updates_the_summary(store: Store) -> None:
    r = R.rid(1)
    store.write(R.batch([R.segment(P, r, 0, urls=["/a"])]))
    late = R.segment(P, r, 1, urls=["/b"], timestamp=R.T0 + timedelta(minutes=30))
    result = store.write(R.batch([late]))
    assert result.touched == ((P, r),)
    (summary,) = rows(store, "replays")
    assert summary["urls"] == ["/a", "/b"]
    assert summary["finished_at"] == R.T0 + timedelta(minutes=30)
    assert summary["duration"] == 1800
    assert len(rows(store, "replays_recent")) == 2  # the tier keeps both, the view the newest


def test_replay_appears_only_once_segment_zero_arrives(store: Store) -> None:
    r = R.rid(1)
    store.write(R.batch([R.segment(P, r, 1)]))
    assert rows(store, "replays") == []
    store.write(R.batch([R.segment(P, r, 0)]))
    (summary,) = rows(store, "replays")
    assert summary["count_segments"] == 2


def test_dead_click_replaces_plain_click_never_the_reverse(store: Store) -> None:
    r = R.rid(1)
    store.write(R.batch([R.segment(P, r, 0)], clicks=[R.click(P, r, "h" * 32, text="plain")]))
    result = store.write(R.batch(clicks=[R.click(P, r, "h" * 32, is_dead=True, text="dead")]))
    assert result.written["clicks"] == 1
    (stored,) = rows(store, "clicks")
    assert (stored["is_dead"], stored["text"]) == (True, "dead")
    assert rows(store, "replays")[0]["count_dead_clicks"] == 1
    result = store.write(R.batch(clicks=[R.click(P, r, "h" * 32, text="plain again")]))
    assert result.skipped["clicks"] == 1
    assert [c["text"] for c in rows(store, "clicks")] == ["dead"]


def test_blobs_first_one_wins(store: Store) -> None:
    r = R.rid(1)
    store.write(R.batch([R.segment(P, r, 0)], blobs=[Blob(P, r, 0, b"first")]))
    result = store.write(R.batch(blobs=[Blob(P, r, 0, b"second"), Blob(P, r, 1, b"other")]))
    assert result.blobs_written == 1
    assert store.read_blob(P, r, 0) == b"first"
    assert store.read_blob(P, r, 1) == b"other"
    assert store.read_blob(P, r, 2) is None


def test_reopen_sees_everything(store: Store) -> None:
    store.write(full_batch())
    before = everything(store)
    assert everything(Store.open(store.layout.root)) == before


def test_replay_straddling_a_month_boundary(store: Store) -> None:
    r = R.rid(1)
    start = R.T0.replace(day=31, hour=23, minute=50)
    store.write(R.batch([R.segment(P, r, 0, timestamp=start, replay_start_timestamp=start)]))
    store.write(R.batch([R.segment(P, r, 1, timestamp=start + timedelta(minutes=20))]))
    (summary,) = rows(store, "replays")
    assert summary["count_segments"] == 2
    assert summary["month"] == "2026-03"
    assert {s["month"] for s in rows(store, "segments")} == {"2026-03", "2026-04"}


def test_empty_batch_is_a_no_op(store: Store) -> None:
    version = store.snapshot().seq
    assert store.write(R.batch()).written == {}
    assert store.snapshot().seq == version


def test_a_store_of_an_older_layout_is_refused_clearly(tmp_path: Path) -> None:
    root = tmp_path / "old"
    Store.open(str(root))
    old_schema = pa.schema([f for f in schema.REPLAYS if f.name != "payload"])
    DeltaTable.create(str(root / "tables" / "replays"), old_schema, mode="overwrite")
    with pytest.raises(ReplayStoreError, match=r"older replaystore.*'payload'"):
        Store.open(str(root))


def test_a_store_without_the_tag_index_is_refused_clearly(tmp_path: Path) -> None:
    root = tmp_path / "old"
    Store.open(str(root))
    shutil.rmtree(root / "tables" / "tags")
    with pytest.raises(ReplayStoreError, match="older replaystore: it has no tag index"):
        Store.open(str(root))
