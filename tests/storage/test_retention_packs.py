"""Retention removes old replays physically; recordings are packed, read by range, merged,
and a deleted replay's bytes are purged from its packs (file scans, not the API)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from replaystore.storage.batch import Blob
from replaystore.storage.maintenance import Maintenance, MaintenanceSettings
from replaystore.storage.retention import expire
from replaystore.storage.store import Store
from tests.storage import rows as R
from tests.storage.contents import rows

OLD_EMAIL = b"old-user-5d1f@example.org"
OLD_RECORDING = b"OLD-RRWEB-BYTES-4b7e"
NEW_RECORDING = b"NEW-RRWEB-BYTES-91aa"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

SETTINGS = MaintenanceSettings(
    check_every=3600,
    max_small_files=3,
    small_file_age=3600,
    fold_rows=1,
    retention_days=None,
    file_retention=timedelta(0),
)


def replay(store: Store, n: int, start: datetime, email: bytes, recording: bytes) -> None:
    r = R.rid(n)
    store.write(
        R.batch(
            [
                R.segment(1, r, 0, timestamp=start, replay_start_timestamp=start,
                          user_email=email.decode()),
                R.segment(1, r, 1, timestamp=start + timedelta(seconds=5)),
            ],
            clicks=[R.click(1, r, f"{n:032x}", timestamp=start, text=email.decode())],
            links=[R.link(1, r, f"{n:031x}e", "error", timestamp=start)],
            blobs=[Blob(1, r, 0, recording + b"-0"), Blob(1, r, 1, recording + b"-1")],
        )
    )  # fmt: skip


def file_bytes(root: str) -> bytes:
    chunks = []
    for directory, _, names in os.walk(root):
        for name in names:
            chunks.append(Path(directory, name).read_bytes())
    return b"".join(chunks)


def test_retention_removes_old_replays_from_every_file(store: Store) -> None:
    old_start = NOW - timedelta(days=120)  # a month of its own: dropped as a partition
    edge_start = NOW - timedelta(days=91)  # shares its month with a kept replay
    replay(store, 1, old_start, OLD_EMAIL, OLD_RECORDING)
    replay(store, 2, edge_start, OLD_EMAIL, OLD_RECORDING)
    replay(store, 3, edge_start + timedelta(days=2), b"kept@example.org", NEW_RECORDING)
    replay(store, 4, NOW - timedelta(days=1), b"new@example.org", NEW_RECORDING)
    maintenance = Maintenance(store, SETTINGS)
    maintenance.run_once()  # the tier folded into the base and the tag index
    assert expire(store, NOW - timedelta(days=90)) == 2
    maintenance.run_once(force_vacuum=True)
    assert sorted(r["replay_id"] for r in rows(store, "replays")) == [R.rid(3), R.rid(4)]
    for view in ("segments", "clicks", "links"):
        assert {r["replay_id"] for r in rows(store, view)} == {R.rid(3), R.rid(4)}
    assert store.read_blob(1, R.rid(1), 0) is None
    assert store.read_blob(1, R.rid(3), 1) == NEW_RECORDING + b"-1"
    on_disk = file_bytes(store.layout.root)
    for needle in (OLD_EMAIL, OLD_RECORDING, R.rid(1).encode(), R.rid(2).encode()):
        assert needle not in on_disk, needle
    assert NEW_RECORDING in on_disk
    assert expire(store, NOW - timedelta(days=90)) == 0


def test_the_maintenance_task_expires_by_retention_days(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s"))
    replay(store, 1, datetime.now(UTC) - timedelta(days=40), OLD_EMAIL, OLD_RECORDING)
    replay(store, 2, datetime.now(UTC) - timedelta(days=3), b"new@example.org", NEW_RECORDING)
    settings = MaintenanceSettings(**{**SETTINGS.__dict__, "retention_days": 30})
    report = Maintenance(store, settings).run_once()
    assert report.expired == 1
    assert [r["replay_id"] for r in rows(store, "replays")] == [R.rid(2)]


def pack_files(store: Store) -> list[Path]:
    return sorted(Path(store.layout.root, "blobs", "packs").rglob("*.pack"))


def test_recordings_are_packed_and_read_by_range(store: Store) -> None:
    for n in range(40):
        replay(store, 100 + n, NOW - timedelta(hours=n), f"u{n}@example.org".encode(),
               f"REC{n:03d}".encode())  # fmt: skip
    assert len(pack_files(store)) == 40  # one pack per write
    Maintenance(store, SETTINGS).run_once()
    packs = pack_files(store)
    assert len(packs) == 41  # one merged pack; the merged ones wait for the vacuum
    Maintenance(store, SETTINGS).run_once(force_vacuum=True)
    (merged,) = pack_files(store)
    data = merged.read_bytes()
    assert len(data) == sum(len(f"REC{n:03d}-0") * 2 for n in range(40))
    assert not list(Path(store.layout.root, "blobs").glob("1"))  # no file per segment
    # every body by itself, read with a range: reading one never returns a neighbour's
    for n in (0, 17, 39):
        for seg in (0, 1):
            assert store.read_blob(1, R.rid(100 + n), seg) == f"REC{n:03d}-{seg}".encode()
    assert store.read_blob(1, R.rid(100), 2) is None


def test_deleting_a_replay_rewrites_its_pack_without_its_bytes(store: Store) -> None:
    victim = b"VICTIM-RECORDING-77c2"
    replay(store, 1, NOW, b"a@example.org", b"NEIGHBOUR-A")
    replay(store, 2, NOW, b"victim@example.org", victim)
    replay(store, 3, NOW, b"b@example.org", b"NEIGHBOUR-B")
    Maintenance(store, SETTINGS).run_once(force_vacuum=True)  # all three in one pack
    (pack,) = pack_files(store)
    assert victim in pack.read_bytes()
    assert store.delete_replay(1, R.rid(2)) is True
    on_disk = file_bytes(store.layout.root)
    assert victim not in on_disk
    assert store.read_blob(1, R.rid(1), 1) == b"NEIGHBOUR-A-1"
    assert store.read_blob(1, R.rid(3), 0) == b"NEIGHBOUR-B-0"
    assert store.read_blob(1, R.rid(2), 0) is None
    # an envelope resent after the deletion does not bring the bytes back
    replay(store, 2, NOW, b"victim@example.org", victim)
    assert victim not in file_bytes(store.layout.root)
