"""SIGKILL while background maintenance merges, folds and vacuums next to ingest writes:
every acknowledged write is still there, once, and the store answers as one never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from replaystore.storage.store import Store
from tests.storage.contents import rows
from tests.storage.test_maintenance import answers, commit

CHILD = """
import sys, threading
from datetime import timedelta
from replaystore.storage.maintenance import Maintenance, MaintenanceSettings
from replaystore.storage.store import Store
from tests.storage.test_maintenance import commit

store = Store.open(sys.argv[1])
first = int(sys.argv[2])
settings = MaintenanceSettings(
    check_every=0.01, max_small_files=2, small_file_age=0, max_level1_files=2, fold_rows=1,
    quiet_seconds=0, retention_days=None, file_retention=timedelta(0), vacuum_every=0,
)
maintenance = Maintenance(store, settings)

def maintain():
    while True:
        print("maintenance", flush=True)
        maintenance.run_once()

threading.Thread(target=maintain, daemon=True).start()
for i in range(first, first + 1000):
    commit(store, i)
    print(f"ack {i}", flush=True)
"""


def run_until_killed(root: Path, first: int, maintenance_runs: int) -> int:
    """Start the child, SIGKILL it during its n-th maintenance run; returns the next write."""
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(first)],
        stdout=subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    acked = first
    runs = 0
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(b"ack "):
            acked = int(line.split()[1]) + 1
        elif line.startswith(b"maintenance"):
            runs += 1
            if runs >= maintenance_runs and acked > first:
                time.sleep(0.05 * (maintenance_runs % 4))
                break
    process.send_signal(signal.SIGKILL)
    process.wait()
    # lines printed before the kill that we had not read yet
    for line in process.stdout:
        if line.startswith(b"ack "):
            acked = int(line.split()[1]) + 1
    return acked


@pytest.mark.slow
def test_sigkill_during_background_maintenance_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    Store.open(str(root))
    written = 0
    for runs in (3, 6, 9):
        written = run_until_killed(root, written, runs)
        store = Store.open(str(root))  # recovery undoes what was never published
        segments = rows(store, "segments")
        keys = [(r["replay_id"], r["segment_id"]) for r in segments]
        assert len(keys) == len(set(keys)), "a segment stored twice"
        assert len(keys) >= written  # every acknowledged write survived the kill
        written = len(keys)  # a write finished just before the kill counts too
    reference = Store.open(str(tmp_path / "reference"))
    for i in range(written):
        commit(reference, i)
    assert answers(Store.open(str(root))) == answers(reference)
