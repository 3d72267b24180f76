"""One writer per store on object storage: the conditional-put lease (refusal naming the
holder, renewal, expiry after a crash, take-over) and the conditional manifest publish."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from replaystore.storage.lease import LEASE_ENV, LEASE_FILE, LeaseLost, ObjectLease
from replaystore.storage.lock import Holder, StoreLocked
from replaystore.storage.manifest import (
    Manifest,
    ManifestConflict,
    publish_manifest,
    read_manifest,
)
from replaystore.storage.objectstore import StorageConfig
from replaystore.storage.store import Store
from tests.conftest import fixture_batch, rid
from tests.storage import rows as R

ROOT = Path(__file__).resolve().parents[2]
REFUSAL = re.compile(
    r"^error: the store at (?P<root>\S+) is held by another writer: pid (?P<pid>\d+) on \S+ "
    r"\((?P<command>.*)\), since \S+; stop it first, or serve this store with "
    r"`replaystore serve --read-only`$"
)
HOLD = """
import sys, time
from replaystore.storage.store import Store
store = Store.open(sys.argv[1])
store.lock.acquire("holder-of-the-test")
print("held", flush=True)
time.sleep(600)
"""


def _holder(url: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, url],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"held"
    return process


def _cli(*argv: str) -> subprocess.CompletedProcess:
    code = "import sys; from replaystore.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_a_second_writer_gets_the_same_error_line_as_on_local_disk(
    s3_url: str, tmp_path: Path
) -> None:
    local = str(tmp_path / "local")
    Store.open(local)
    Store.open(s3_url)
    holders = [_holder(local), _holder(s3_url)]
    try:
        lines = [_cli("compact", "--data", root) for root in (local, s3_url)]
    finally:
        for process in holders:
            process.kill()
            process.wait()
    for result, root, holder in zip(lines, (local, s3_url), holders, strict=True):
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        found = REFUSAL.match(line)
        assert found, line
        assert found["root"] == root and int(found["pid"]) == holder.pid
        assert found["command"] == "holder-of-the-test"


def test_a_crashed_writers_lease_expires_and_a_new_writer_takes_over(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEASE_ENV, "2")
    Store.open(s3_url)
    crashed = _holder(s3_url, {LEASE_ENV: "2"})
    crashed.send_signal(signal.SIGKILL)
    crashed.wait()
    store = Store.open(s3_url)
    with pytest.raises(StoreLocked) as refused:
        store.lock.acquire()
    assert f"pid {crashed.pid} " in str(refused.value)  # not renewed, but not expired yet
    deadline = time.monotonic() + 60
    while True:
        try:
            store.lock.acquire()
            break
        except StoreLocked:
            assert time.monotonic() < deadline, "the dead writer's lease never expired"
            time.sleep(0.5)
    try:
        assert store.lock.holder().pid == os.getpid()
        store.write(fixture_batch())
        ids = store.connect().execute("SELECT replay_id FROM replays").fetchall()
        assert (rid(1),) in ids
    finally:
        store.lock.release()
    assert StorageConfig.for_root(s3_url).get(f"{s3_url}/{LEASE_FILE}") is None  # released


def test_the_holder_renews_its_lease_past_its_time_to_live(s3_url: str) -> None:
    config = StorageConfig.for_root(s3_url)
    mine, other = ObjectLease(config, s3_url, ttl=2), ObjectLease(config, s3_url, ttl=2)
    mine.acquire(Holder.this_process("renewing"))
    try:
        time.sleep(6)  # three times its time to live: alive only if renewed
        with pytest.raises(StoreLocked, match="renewing"):
            other.acquire(Holder.this_process("second"))
        mine.check()
    finally:
        mine.release()
    other.acquire(Holder.this_process("second"))  # released: free at once
    other.release()


def test_a_writer_that_lost_its_lease_publishes_nothing(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEASE_ENV, "1")
    store = Store.open(s3_url)
    store.write(R.batch([R.segment(1, R.rid(1), 0)]))
    before = read_manifest(store.layout.manifest_path, store.config)
    store.lock.acquire("paused writer")
    lease = store.lock.lease
    lease._stop.set()  # as if the process were paused: no more renewals
    time.sleep(3)
    taker = ObjectLease(store.config, s3_url, ttl=30)
    taker.acquire(Holder.this_process("new writer"))
    try:
        with pytest.raises(LeaseLost, match="new writer"):
            store.write(R.batch([R.segment(1, R.rid(2), 0)]))
        assert read_manifest(store.layout.manifest_path, store.config) == before
    finally:
        store.lock.release()
        taker.release()


def test_the_manifest_is_published_by_conditional_put(s3_url: str) -> None:
    config = StorageConfig.for_root(s3_url)
    path = f"{s3_url}/manifest.json"
    first = publish_manifest(path, Manifest(1, {"segments": 0}), config)
    with pytest.raises(ManifestConflict):  # a second "first" publish
        publish_manifest(path, Manifest(1, {"segments": 5}), config)
    second = publish_manifest(path, Manifest(2, {"segments": 1}), config, previous=first)
    with pytest.raises(ManifestConflict):  # based on a manifest that was replaced
        publish_manifest(path, Manifest(2, {"segments": 9}), config, previous=first)
    assert read_manifest(path, config) == second == Manifest(2, {"segments": 1})
