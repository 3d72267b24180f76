"""The `viewers` table: one row per (replay, user), in the replay's month,
expired by retention and purged by DELETE with the replay (file scans)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from replaystore.storage.maintenance import Maintenance
from replaystore.storage.retention import expire
from replaystore.storage.store import Store
from replaystore.storage.viewers import record_view
from tests.robustness.scan import find
from tests.storage import rows as R
from tests.storage.contents import rows
from tests.storage.test_retention_packs import NOW, SETTINGS, file_bytes, replay


def test_a_view_is_stored_once_per_user_in_the_replays_month(store: Store) -> None:
    start = NOW - timedelta(days=40)
    replay(store, 1, start, b"a@example.org", b"REC")
    assert record_view(store, 1, R.rid(1), 7, start) is True
    assert record_view(store, 1, R.rid(1), 7, start) is False
    assert record_view(store, 1, R.rid(1), 8, start) is True
    stored = rows(store, "viewers")
    assert sorted(r["viewer_id"] for r in stored) == [7, 8]
    assert {(r["timestamp"], r["month"]) for r in stored} == {(start, start.strftime("%Y-%m"))}
    # a view moves nothing of the replay's summary
    (summary,) = rows(store, "replays")
    assert summary["finished_at"] == start + timedelta(seconds=5)


def test_retention_expires_the_views_of_old_replays(store: Store) -> None:
    old, kept = NOW - timedelta(days=120), NOW - timedelta(days=3)
    replay(store, 1, old, b"old@example.org", b"OLD")
    replay(store, 2, kept, b"new@example.org", b"NEW")
    record_view(store, 1, R.rid(1), 4242424242, old)
    record_view(store, 1, R.rid(2), 4242424242, kept)
    assert expire(store, NOW - timedelta(days=90)) == 1
    Maintenance(store, SETTINGS).run_once(force_vacuum=True)
    assert [r["replay_id"] for r in rows(store, "viewers")] == [R.rid(2)]
    assert R.rid(1).encode() not in file_bytes(store.layout.root)
    assert find(Path(store.layout.root), [R.rid(1).encode()]) == []


def test_delete_purges_the_views(store: Store) -> None:
    start = NOW - timedelta(days=2)
    for n in (1, 2):
        replay(store, n, start, b"x@example.org", b"REC")
        record_view(store, 1, R.rid(n), 5, start)
    assert store.delete_replay(1, R.rid(1)) is True
    assert [r["replay_id"] for r in rows(store, "viewers")] == [R.rid(2)]
    store.compact(retention=timedelta(0))
    viewers = Path(store.layout.root, "tables", "viewers")
    assert find(viewers, [R.rid(1).encode()]) == []
    assert find(viewers, [R.rid(2).encode()])  # the scan does see a stored view
