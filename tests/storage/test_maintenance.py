"""Background maintenance: bounded files over many small commits, the same answers after
merges and folds, the recent tier folded by range, vacuum with a retention setting."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from replaystore.storage.batch import Blob
from replaystore.storage.maintenance import Maintenance, MaintenanceSettings
from replaystore.storage.store import Store
from tests.storage import rows as R
from tests.storage.contents import rows

# Small thresholds so a few dozen commits exercise every level.
SETTINGS = MaintenanceSettings(
    check_every=3600,
    max_small_files=4,
    small_file_age=3600,
    max_level1_files=3,
    fold_rows=6,
    quiet_seconds=3600,
    retention_days=None,
    file_retention=timedelta(0),
)


def commit(store: Store, i: int) -> None:
    """Replay 100 + i // 3 gets segment i % 3: new and continuing replays, one per commit."""
    r = R.rid(100 + i // 3)
    seg = i % 3
    start = R.T0 + timedelta(minutes=i // 3)
    store.write(
        R.batch(
            [
                R.segment(
                    1 + i % 2 if seg == 0 else 1 + (i - seg) % 2,
                    r,
                    seg,
                    timestamp=start + timedelta(seconds=5 * seg),
                    replay_start_timestamp=start,
                    urls=[f"/{i}"],
                )
            ],
            clicks=[R.click(1 + (i - seg) % 2, r, f"{i:032x}", timestamp=start)],
            blobs=[Blob(1 + (i - seg) % 2, r, seg, f"rec {i}".encode())],
        )
    )


def answers(store: Store) -> dict[str, list[dict[str, Any]]]:
    keep = ("replays", "segments", "clicks")
    found = {v: rows(store, v) for v in keep}
    for row in found["replays"]:
        row.pop("updated_at")
    return found


def live_files(store: Store, table: str) -> int:
    return len(Store.open(store.layout.root).snapshot().files[table])


def test_many_small_commits_stay_bounded_with_the_same_answers(store: Store) -> None:
    maintenance = Maintenance(store, SETTINGS)
    most = {t: 0 for t in ("segments", "clicks", "replays_recent", "replays", "tags")}
    for i in range(60):
        commit(store, i)
        if i % 5 == 4:
            maintenance.run_once()
            snapshot = store.snapshot()
            for table in most:
                most[table] = max(most[table], len(snapshot.files[table]))
    reference = Store.open(str(Path(store.layout.root).parent / "reference"))
    for i in range(60):
        commit(reference, i)
    assert answers(store) == answers(reference)
    # one month: fewer than max_small_files + max_level1_files (+ target-size files: none)
    bound = SETTINGS.file_bound(0)
    assert all(n <= bound for n in most.values()), most
    # without maintenance every commit left a file behind
    unmaintained = reference.snapshot()
    assert len(unmaintained.files["segments"]) == 60
    assert most["replays_recent"] < 60 and len(store.snapshot().files["replays"]) > 0


def test_fold_by_range_equals_a_full_compaction(store: Store, tmp_path: Path) -> None:
    maintenance = Maintenance(store, SETTINGS)
    for i in range(40):
        commit(store, i)
        if i % 7 == 6:
            maintenance.run_once()
    reference = Store.open(str(tmp_path / "reference"))
    for i in range(40):
        commit(reference, i)
    reference.compact()
    store.compact()
    assert answers(store) == answers(reference)
    assert rows(store, "replays_recent") == []


def test_vacuum_deletes_replaced_files_after_the_file_retention(store: Store) -> None:
    maintenance = Maintenance(store, SETTINGS)
    for i in range(12):
        commit(store, i)
    maintenance.run_once()
    table_dir = Path(store.layout.table_uri("segments"))
    on_disk = [p for p in table_dir.rglob("*.parquet")]
    live = store.snapshot().files["segments"]
    assert len(on_disk) > len(live)  # the merged files are still there for older readers
    maintenance.run_once(force_vacuum=True)
    on_disk = sorted(str(p) for p in table_dir.rglob("*.parquet"))
    assert on_disk == sorted(os.path.abspath(f) for f in store.snapshot().files["segments"])


def test_a_longer_file_retention_keeps_replaced_files(store: Store) -> None:
    settings = MaintenanceSettings(**{**SETTINGS.__dict__, "file_retention": timedelta(hours=1)})
    maintenance = Maintenance(store, settings)
    for i in range(12):
        commit(store, i)
    old = set(store.snapshot().files["segments"])
    maintenance.run_once(force_vacuum=True)
    assert all(os.path.exists(f) for f in old)
