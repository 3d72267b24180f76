"""The write-ahead journal: durability order, group commit, torn tails, checkpoints."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from replaystore.ingest import journal as journal_module
from replaystore.ingest.journal import (
    CHECKPOINT_FILE,
    HEADER,
    Journal,
    JournalBroken,
    JournalInUse,
    decode_records,
    encode_record,
    read_records,
)


def _segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wal"))


def test_records_survive_reopen_in_order(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    seqs = [journal.append(f"payload {i}".encode()) for i in range(5)]
    journal.close()

    reopened = Journal(tmp_path)
    assert seqs == [1, 2, 3, 4, 5]
    assert [(r.seq, r.payload) for r in reopened.pending()] == [
        (i + 1, f"payload {i}".encode()) for i in range(5)
    ]
    assert reopened.append(b"next") == 6
    reopened.close()


def test_records_survive_without_close(tmp_path: Path) -> None:
    # No close(): what append returned for must already be on disk for a new reader.
    journal = Journal(tmp_path)
    journal.append(b"a")
    journal.append(b"b" * 100_000)
    assert [r.payload for r in read_records(tmp_path)] == [b"a", b"b" * 100_000]


def test_a_second_writer_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with pytest.raises(JournalInUse):
        Journal(tmp_path)
    journal.close()
    Journal(tmp_path).close()


def test_concurrent_appenders_share_fsyncs(tmp_path: Path, monkeypatch) -> None:
    journal = Journal(tmp_path)
    calls = 0
    real_fsync = os.fsync
    gate = threading.Event()

    def counting_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        gate.wait(0.05)  # a slow disk, so followers pile up behind the leader
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", counting_fsync)
    threads_count, per_thread = 16, 20
    results: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(per_thread):
            seq = journal.append(f"{n}-{i}".encode())
            with lock:
                results.append(seq)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    journal.close()

    total = threads_count * per_thread
    assert sorted(results) == list(range(1, total + 1))
    # One fsync per append would be `total`; grouping must save most of them.
    assert calls <= total // 4, calls
    assert len(Journal(tmp_path).pending()) == total


def test_torn_tail_is_ignored_and_its_seq_reused(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for payload in (b"one", b"two", b"three"):
        journal.append(payload)
    journal.close()
    (segment,) = _segments(tmp_path)
    data = segment.read_bytes()
    segment.write_bytes(data[:-2])  # crash in the middle of writing "three"

    reopened = Journal(tmp_path)
    assert [r.payload for r in reopened.pending()] == [b"one", b"two"]
    assert reopened.append(b"three again") == 3
    reopened.close()
    assert [(r.seq, r.payload) for r in Journal(tmp_path).pending()] == [
        (1, b"one"),
        (2, b"two"),
        (3, b"three again"),
    ]


def test_corrupt_checksum_stops_reading(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(b"good")
    journal.append(b"flipped")
    journal.close()
    (segment,) = _segments(tmp_path)
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert [r.payload for r in Journal(tmp_path).pending()] == [b"good"]


def test_half_written_header_is_ignored() -> None:
    whole = encode_record(1, b"x") + encode_record(2, b"y")
    assert [r.seq for r in decode_records(whole + encode_record(3, b"z")[: HEADER.size - 3])] == [
        1,
        2,
    ]


def test_checkpoint_advances_only_over_a_done_prefix(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for i in range(4):
        journal.append(bytes([i]))
    assert journal.commit([2, 3]) == 0
    assert journal.commit([1]) == 3
    journal.close()

    reopened = Journal(tmp_path)
    assert (tmp_path / CHECKPOINT_FILE).read_text() == "3"
    assert [r.seq for r in reopened.pending()] == [4]
    assert reopened.commit([4]) == 4
    assert reopened.pending() == []
    reopened.close()


def test_committed_segments_are_deleted(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=200)
    seqs = [journal.append(b"x" * 100) for _ in range(10)]
    assert len(_segments(tmp_path)) >= 5
    journal.commit(seqs[:-1])
    remaining = _segments(tmp_path)
    # Only segments holding the uncommitted last record (and the active one) remain.
    assert 1 <= len(remaining) <= 2
    journal.close()
    assert [r.seq for r in Journal(tmp_path).pending()] == [seqs[-1]]


def test_restart_after_everything_committed_continues_numbering(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    seqs = [journal.append(b"r") for _ in range(3)]
    journal.commit(seqs)
    journal.close()
    reopened = Journal(tmp_path)
    assert reopened.pending() == []
    assert reopened.append(b"after") == 4
    reopened.close()


def test_failed_fsync_breaks_the_journal(tmp_path: Path, monkeypatch) -> None:
    journal = Journal(tmp_path)

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(journal_module.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        journal.append(b"lost")
    monkeypatch.undo()
    with pytest.raises(JournalBroken):
        journal.append(b"refused")
