"""The durable ingest service: batching, validation up front, whole retries, crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from replaystore import fixtures
from replaystore.errors import IngestError
from replaystore.ingest.envelopes import EnvelopeInput, build_batch
from replaystore.ingest.journal import Journal
from replaystore.ingest.service import (
    REJECTED_DIR,
    IngestService,
    decode_envelope,
    encode_envelope,
)
from replaystore.storage.batch import WriteBatch

PROJECT_ID = 42


def replay_envelope(replay_id: str, segment_id: int, *, ts: float | None = None) -> bytes:
    """A minimal SDK-shaped replay envelope with a plain-JSON recording."""
    ts = time.time() if ts is None else ts
    event = {
        "type": "replay_event",
        "replay_start_timestamp": ts - 1,
        "timestamp": ts,
        "error_ids": [],
        "trace_ids": [],
        "urls": ["http://127.0.0.1/page"] if segment_id == 0 else [],
        "replay_id": replay_id,
        "segment_id": segment_id,
        "replay_type": "session",
        "event_id": replay_id,
        "platform": "javascript",
    }
    rrweb = [{"type": 4, "data": {"href": "http://127.0.0.1/page"}, "timestamp": int(ts * 1000)}]
    recording = b'{"segment_id":%d}\n' % segment_id + orjson.dumps(rrweb)
    lines = [
        orjson.dumps({"event_id": replay_id, "sent_at": "2026-11-26T07:30:57.028Z"}),
        b'{"type":"replay_event"}',
        orjson.dumps(event),
        orjson.dumps({"type": "replay_recording", "length": len(recording)}),
        recording,
    ]
    return b"\n".join(lines)


def envelope_input(replay_id: str, segment_id: int = 0) -> EnvelopeInput:
    body = replay_envelope(replay_id, segment_id)
    return EnvelopeInput(body=body, project_id=PROJECT_ID, name=f"{replay_id}-{segment_id}")


def segment_keys(batch: WriteBatch) -> list[tuple[str, int]]:
    rows = batch.segments.select(["replay_id", "segment_id"]).to_pylist()
    return [(row["replay_id"], row["segment_id"]) for row in rows]


class MemoryStore:
    """Records every batch; `fail` decides per batch whether the write raises."""

    def __init__(self, fail=lambda batch: False) -> None:
        self.fail = fail
        self.batches: list[list[tuple[str, int]]] = []
        self.attempted: list[set[tuple[str, int]]] = []
        self.attempts = 0
        self.lock = threading.Lock()

    def write(self, batch: WriteBatch) -> None:
        with self.lock:
            self.attempts += 1
            self.attempted.append(set(segment_keys(batch)))
            if self.fail(batch):
                raise OSError("store unavailable")
            self.batches.append(segment_keys(batch))

    def stored(self) -> set[tuple[str, int]]:
        return {key for batch in self.batches for key in batch}


class ListStore(list):
    """Keeps every batch written, whole."""

    def write(self, batch: WriteBatch) -> None:
        self.append(batch)


def new_id() -> str:
    return uuid.uuid4().hex


def test_journal_payload_round_trips_every_field() -> None:
    from datetime import UTC, datetime

    envelope = EnvelopeInput(
        body=b"\x78\x9c\n{raw}\n",
        project_id=7,
        client_ip="10.0.0.1",
        user_agent="Mozilla/5.0",
        content_encoding="gzip",
        received=datetime(2026, 11, 26, 7, 30, 57, 28000, tzinfo=UTC),
        name="x",
    )
    assert decode_envelope(encode_envelope(envelope)) == envelope


def test_submitted_envelopes_reach_the_store_and_the_checkpoint(tmp_path: Path) -> None:
    store = MemoryStore()
    replay_id = new_id()
    with IngestService(store, tmp_path / "journal") as service:
        service.submit(envelope_input(replay_id, 0))
        service.submit(envelope_input(replay_id, 1))
        assert service.flush(timeout=30)
        assert store.stored() == {(replay_id, 0), (replay_id, 1)}
    reopened = Journal(tmp_path / "journal")
    assert reopened.pending() == []
    assert reopened.checkpoint == 2


def test_a_bad_envelope_is_refused_before_journaling(tmp_path: Path) -> None:
    store = MemoryStore()
    with IngestService(store, tmp_path / "journal") as service:
        with pytest.raises(IngestError):
            service.submit(EnvelopeInput(body=b"not an envelope", project_id=PROJECT_ID))
        assert service.flush(timeout=30)
    assert Journal(tmp_path / "journal").checkpoint == 0
    assert store.attempts == 0


def test_envelopes_are_grouped_into_one_commit(tmp_path: Path) -> None:
    store = MemoryStore()
    # A delay far beyond the test: only flush() makes the batcher commit.
    with IngestService(store, tmp_path / "journal", max_delay=3600) as service:
        ids = [new_id() for _ in range(40)]
        threads = [threading.Thread(target=service.submit, args=(envelope_input(r),)) for r in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.attempts == 0
        assert service.flush(timeout=30)
    assert len(store.batches) == 1
    assert set(store.batches[0]) == {(r, 0) for r in ids}


def test_max_batch_bounds_each_commit(tmp_path: Path) -> None:
    store = MemoryStore()
    with IngestService(store, tmp_path / "journal", max_batch=10, max_delay=3600) as service:
        ids = [new_id() for _ in range(25)]
        for replay_id in ids:
            service.submit(envelope_input(replay_id))
        assert service.flush(timeout=30)
    assert max(len(batch) for batch in store.batches) <= 10
    assert len(store.batches) >= 3
    assert store.stored() == {(r, 0) for r in ids}


def test_commits_without_flush_after_max_delay(tmp_path: Path) -> None:
    store = MemoryStore()
    committed = threading.Event()
    original = store.write

    def write(batch: WriteBatch) -> None:
        original(batch)
        committed.set()

    store.write = write  # type: ignore[method-assign]
    with IngestService(store, tmp_path / "journal", max_delay=0.05) as service:
        replay_id = new_id()
        service.submit(envelope_input(replay_id))
        assert committed.wait(60)
        assert store.stored() == {(replay_id, 0)}


def test_store_outage_is_retried_whole_without_loss(tmp_path: Path) -> None:
    outage = threading.Event()
    outage.set()
    retried = threading.Event()
    ids = [new_id() for _ in range(5)]

    def fail(batch: WriteBatch) -> bool:
        if store.attempts > 3:
            retried.set()
        return outage.is_set()

    store = MemoryStore(fail=fail)
    # A delay far beyond the test: the five envelopes form one (full) group.
    with IngestService(
        store,
        tmp_path / "journal",
        max_batch=len(ids),
        max_delay=3600,
        retry_delay=0.01,
        max_retry_delay=0.05,
    ) as svc:
        for replay_id in ids:
            svc.submit(envelope_input(replay_id))
        assert not svc.flush(timeout=0)
        assert retried.wait(60)
        outage.clear()
        assert svc.flush(timeout=30)
    assert store.stored() == {(r, 0) for r in ids}
    # Every attempt wrote the whole group, never a part of it.
    assert all(keys == {(r, 0) for r in ids} for keys in store.attempted)
    assert not (tmp_path / "journal" / REJECTED_DIR).exists()


def test_a_store_failure_never_sets_an_envelope_aside(tmp_path: Path) -> None:
    """A store that keeps refusing one envelope's batch (a conflict, an I/O error) is retried
    until it takes it: the acknowledged envelope is never given up, nor are its neighbours."""
    unlucky, others = new_id(), [new_id(), new_id()]
    refusals = [0]

    def fail(batch: WriteBatch) -> bool:
        if any(r == unlucky for r, _ in segment_keys(batch)) and refusals[0] < 6:
            refusals[0] += 1
            return True
        return False

    store = MemoryStore(fail=fail)
    with IngestService(
        store, tmp_path / "journal", max_delay=3600, retry_delay=0.01, max_retry_delay=0.02
    ) as service:
        for replay_id in (others[0], unlucky, others[1]):
            service.submit(envelope_input(replay_id))
        assert service.flush(timeout=60)
    assert refusals[0] == 6
    assert store.stored() == {(r, 0) for r in (unlucky, *others)}
    assert not (tmp_path / "journal" / REJECTED_DIR).exists()
    assert Journal(tmp_path / "journal").pending() == []


def _journal_records(journal_dir: Path, payloads: list[bytes]) -> None:
    journal = Journal(journal_dir)
    for payload in payloads:
        journal.append(payload)
    journal.close()


def test_a_journaled_envelope_that_no_longer_parses_is_set_aside(tmp_path: Path) -> None:
    """Only an envelope this code cannot parse is set aside: one journaled by another version
    (here an envelope body that is not an envelope, and a record that is no envelope record)."""
    good = new_id()
    journal_dir = tmp_path / "journal"
    unparseable = EnvelopeInput(body=b"not an envelope", project_id=PROJECT_ID, name="old")
    _journal_records(
        journal_dir,
        [
            encode_envelope(envelope_input(good)),
            encode_envelope(unparseable),
            b"\x00 not a journal payload",
        ],
    )
    store = MemoryStore()
    with IngestService(store, journal_dir) as service:
        assert service.replayed == 3
        assert service.flush(timeout=30)
    assert store.stored() == {(good, 0)}
    rejected = sorted((journal_dir / REJECTED_DIR).iterdir())
    assert [p.name for p in rejected] == [
        f"{seq:020d}{suffix}" for seq in (2, 3) for suffix in (".envelope", ".json")
    ]
    assert rejected[0].read_bytes() == b"not an envelope"
    meta = orjson.loads(rejected[1].read_bytes())
    assert meta["name"] == "old" and meta["error"].startswith("IngestError")
    assert rejected[2].read_bytes() == b"\x00 not a journal payload"
    assert Journal(journal_dir).pending() == []


def test_uncommitted_envelopes_are_replayed_on_restart(tmp_path: Path) -> None:
    down = MemoryStore(fail=lambda batch: True)
    replay_id = new_id()
    service = IngestService(down, tmp_path / "journal", retry_delay=0.01)
    service.submit(envelope_input(replay_id, 0))
    service.submit(envelope_input(replay_id, 3))
    service.close(timeout=30)
    assert down.batches == []

    up = MemoryStore()
    with IngestService(up, tmp_path / "journal") as restarted:
        assert restarted.flush(timeout=30)
    assert up.stored() == {(replay_id, 0), (replay_id, 3)}
    assert Journal(tmp_path / "journal").pending() == []


CHILD = textwrap.dedent(
    """
    import sys
    from replaystore.ingest.envelopes import EnvelopeInput
    from replaystore.ingest.service import IngestService
    from replaystore.storage.store import Store

    data = sys.argv[1]
    store = Store.open(data)
    service = IngestService(store, data + "/journal", max_delay=0.05)
    for line in sys.stdin.buffer:
        replay_id, segment_id = line.decode().split()
        body = bytes.fromhex(sys.stdin.buffer.readline().decode().strip())
        service.submit(EnvelopeInput(body=body, project_id=42, name=replay_id + segment_id))
        print("ack", replay_id, segment_id, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_after_acknowledgement_loses_nothing(tmp_path: Path) -> None:
    from replaystore.storage.store import Store

    data = str(tmp_path / "store")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, data],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdin is not None and child.stdout is not None
    acknowledged: list[tuple[str, int]] = []
    replay_ids = [new_id() for _ in range(20)]
    for n, replay_id in enumerate(replay_ids):
        for segment_id in range(3):
            body = replay_envelope(replay_id, segment_id, ts=time.time() - n)
            child.stdin.write(f"{replay_id} {segment_id}\n{body.hex()}\n".encode())
            child.stdin.flush()
            line = child.stdout.readline().decode().split()
            assert line == ["ack", replay_id, str(segment_id)], line
            acknowledged.append((replay_id, segment_id))
    # Killed right after the last acknowledgement, usually before the batcher committed it.
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)

    store = Store.open(data)
    with IngestService(store, Path(data) / "journal") as restarted:
        assert restarted.flush(timeout=60)
    with Store.open(data).connect() as con:
        rows = con.execute(
            "select replay_id, segment_id, count(*) from segments group by all"
        ).fetchall()
    counts = {(r, s): c for r, s, c in rows}
    assert set(counts) == set(acknowledged)
    assert set(counts.values()) == {1}


def test_a_failure_while_setting_aside_requeues_the_group(tmp_path: Path) -> None:
    good_id = new_id()
    journal_dir = tmp_path / "journal"
    bad = EnvelopeInput(body=b"not an envelope", project_id=PROJECT_ID, name="old")
    _journal_records(journal_dir, [encode_envelope(envelope_input(good_id)), encode_envelope(bad)])
    (journal_dir / REJECTED_DIR).write_text("a file where the folder should be")
    store = MemoryStore()
    with IngestService(store, journal_dir, max_delay=3600, max_retry_delay=0.02) as service:
        assert not service.flush(timeout=0.3)
        (journal_dir / REJECTED_DIR).unlink()
        assert service.flush(timeout=30)
    assert store.stored() == {(good_id, 0)}
    assert len(list((journal_dir / REJECTED_DIR).glob("*.envelope"))) == 1


def test_the_batch_from_validated_rows_equals_build_batch(tmp_path: Path) -> None:
    """The batcher reuses the rows `submit` validated; the result must be build_batch's."""
    received = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    generated = list(fixtures.generate(received, seed=3, replays=12))
    envelopes = [
        EnvelopeInput(body=e.body, project_id=e.project_id, name=e.name, received=received)
        for e in generated
    ]
    envelopes += envelopes[:5]  # resent envelopes: the later copies replace the earlier ones
    batches = ListStore()
    with IngestService(batches, tmp_path / "journal", max_delay=3600) as service:
        for envelope in envelopes:
            service.submit(envelope)
        assert service.flush(timeout=30)
    assert len(batches) == 1
    expected = build_batch(envelopes)
    assert batches[0].tables() == expected.tables()
    assert batches[0].blobs == expected.blobs
    assert expected.clicks.num_rows > 0 and expected.links.num_rows > 0
