"""An append-only, checksummed write-ahead journal of opaque records with group-commit fsync.

Layout of the journal folder:

- `{first_seq:020d}.wal` segment files of records, each record a 20-byte header
  (`RSJ1`, sequence number u64, payload length u32, CRC-32 of sequence number + payload u32)
  followed by the payload;
- `checkpoint`: the highest sequence number up to which every record is committed downstream.

`append` returns once the record is on disk (fsync). Appenders that arrive while an fsync is in
flight queue their writes behind it and share the next one, so one fsync covers a whole group.
A crash mid-write leaves a torn tail that fails its checksum and is ignored on the next open:
it was never acknowledged. Segments whose records are all at or below the checkpoint are
deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"RSJ1"
HEADER = struct.Struct("<4sQII")
SEGMENT_SUFFIX = ".wal"
CHECKPOINT_FILE = "checkpoint"
LOCK_FILE = "lock"
DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024


class JournalBroken(OSError):
    """An fsync failed: nothing written since can be trusted, so the journal refuses appends."""


class JournalInUse(OSError):
    """Another open Journal (in this or another process) owns the folder."""


@dataclass(frozen=True)
class Record:
    seq: int
    payload: bytes


def encode_record(seq: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(seq.to_bytes(8, "little")))
    return HEADER.pack(MAGIC, seq, len(payload), crc) + payload


def decode_records(data: bytes) -> list[Record]:
    """The valid records of one segment's bytes, stopping at the first torn or corrupt one."""
    records: list[Record] = []
    offset = 0
    while offset + HEADER.size <= len(data):
        magic, seq, length, crc = HEADER.unpack_from(data, offset)
        start = offset + HEADER.size
        payload = data[start : start + length]
        if magic != MAGIC or len(payload) != length:
            break
        if zlib.crc32(payload, zlib.crc32(seq.to_bytes(8, "little"))) != crc:
            break
        records.append(Record(seq, payload))
        offset = start + length
    return records


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _lock(folder: Path) -> int:
    """An exclusive lock on the folder: two writers would hand out the same sequence numbers."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalInUse(f"journal {folder} is in use by another writer") from None
    return fd


def read_records(folder: str | Path) -> list[Record]:
    """Every valid record on disk above the checkpoint, without opening the journal (no lock)."""
    folder = Path(folder)
    checkpoint = read_checkpoint(folder)
    records: list[Record] = []
    for path in sorted(folder.glob(f"*{SEGMENT_SUFFIX}")):
        records.extend(r for r in decode_records(path.read_bytes()) if r.seq > checkpoint)
    return records


def read_checkpoint(folder: Path) -> int:
    try:
        return int((folder / CHECKPOINT_FILE).read_text().strip() or 0)
    except FileNotFoundError:
        return 0


class Journal:
    """A durable, ordered log of byte records in `folder`; see the module docstring."""

    def __init__(self, folder: str | Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(self.folder)
        self._segment_bytes = segment_bytes
        self._cond = threading.Condition(threading.Lock())
        self._checkpoint = read_checkpoint(self.folder)
        self._segments, self._pending = self._scan()
        last_seen = max((r.seq for r in self._pending), default=self._checkpoint)
        self._next_seq = last_seen + 1
        # Sequence numbers above the checkpoint that hold no valid record count as done.
        present = {r.seq for r in self._pending}
        self._done = set(range(self._checkpoint + 1, self._next_seq)) - present
        self._written = self._synced = last_seen
        self._syncing = False
        self._broken = False
        self._closed = False
        self._fd = -1
        self._active_size = 0
        self._open_active()

    def _scan(self) -> tuple[list[tuple[int, Path]], list[Record]]:
        segments: list[tuple[int, Path]] = []
        pending: list[Record] = []
        last = self._checkpoint
        for path in sorted(self.folder.glob(f"*{SEGMENT_SUFFIX}")):
            segments.append((int(path.name.removesuffix(SEGMENT_SUFFIX)), path))
            for record in decode_records(path.read_bytes()):
                if record.seq > last:
                    pending.append(record)
                    last = record.seq
        return segments, pending

    def _open_active(self) -> None:
        first = self._next_seq
        path = self.folder / _segment_name(first)
        # A same-named segment holds no valid record (else next_seq would be past it): reuse it.
        self._segments = [(s, p) for s, p in self._segments if p != path]
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        _fsync_dir(self.folder)
        self._segments.append((first, path))
        self._active_size = 0

    def pending(self) -> list[Record]:
        """Records found on disk at open that are not yet committed, in sequence order."""
        with self._cond:
            done, checkpoint = self._done, self._checkpoint
            return [r for r in self._pending if r.seq > checkpoint and r.seq not in done]

    @property
    def checkpoint(self) -> int:
        with self._cond:
            return self._checkpoint

    def append(self, payload: bytes) -> int:
        """Write one record and return its sequence number once it is durable."""
        with self._cond:
            while True:
                self._check_usable()
                if self._active_size < self._segment_bytes:
                    break
                if self._syncing:
                    self._cond.wait()
                else:
                    self._rotate_locked()
            seq = self._next_seq
            record = encode_record(seq, payload)
            _write_all(self._fd, record)
            self._next_seq += 1
            self._active_size += len(record)
            self._written = seq
            self._sync_through_locked(seq)
        return seq

    def _check_usable(self) -> None:
        if self._broken:
            raise JournalBroken("the journal could not be synced to disk; restart to recover")
        if self._closed:
            raise ValueError("journal is closed")

    def _sync_through_locked(self, seq: int) -> None:
        """Wait until `seq` is synced, leading an fsync for everyone if none is in flight."""
        while self._synced < seq:
            self._check_usable()
            if self._syncing:
                self._cond.wait()
                continue
            self._syncing = True
            target, fd = self._written, self._fd
            self._cond.release()
            try:
                os.fsync(fd)
            except OSError:
                self._broken = True
                raise
            finally:
                self._cond.acquire()
                self._syncing = False
                self._cond.notify_all()
            self._synced = max(self._synced, target)

    def _rotate_locked(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError:
            self._broken = True
            raise
        os.close(self._fd)
        self._synced = self._written
        self._open_active()

    def commit(self, seqs: Iterable[int]) -> int:
        """Mark records as committed downstream; advance the checkpoint over the done prefix."""
        with self._cond:
            self._done.update(s for s in seqs if s > self._checkpoint)
            advanced = self._checkpoint
            while advanced + 1 in self._done:
                advanced += 1
                self._done.discard(advanced)
            if advanced == self._checkpoint:
                return advanced
            self._checkpoint = advanced
            self._write_checkpoint(advanced)
            self._retire_active_locked()
            obsolete = self._obsolete_segments_locked()
        self._delete(obsolete)
        return advanced

    def _retire_active_locked(self) -> None:
        """Start a fresh active segment once every record in it is committed.

        Without this the active segment keeps committed envelopes (user data, recordings)
        until later traffic fills it, so a deleted replay's bytes would outlive its DELETE.
        Skipped while an fsync is in flight on the active file; the next commit retries.
        """
        if self._active_size and self._checkpoint == self._written and not self._syncing:
            self._rotate_locked()

    def _write_checkpoint(self, seq: int) -> None:
        # Not fsynced: a checkpoint lost in a crash only replays committed records, which
        # idempotent store writes absorb. `_delete` syncs before any record is removed.
        temp = self.folder / f".{CHECKPOINT_FILE}.tmp"
        temp.write_text(str(seq))
        os.replace(temp, self.folder / CHECKPOINT_FILE)

    def _obsolete_segments_locked(self) -> list[Path]:
        """Closed segments (not the active one) whose every record is at or below the checkpoint."""
        obsolete: list[Path] = []
        keep: list[tuple[int, Path]] = []
        for (first, path), (next_first, _) in zip(self._segments, self._segments[1:], strict=False):
            if next_first - 1 <= self._checkpoint:
                obsolete.append(path)
            else:
                keep.append((first, path))
        keep.append(self._segments[-1])
        self._segments = keep
        if obsolete:
            self._pending = [r for r in self._pending if r.seq > self._checkpoint]
        return obsolete

    def _delete(self, paths: list[Path]) -> None:
        if not paths:
            return
        # The store's files are written without fsync; flush them (and the checkpoint) to disk
        # before the journal's copy of those records goes away.
        os.sync()
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        log.debug("journal: removed %d committed segment(s)", len(paths))

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            while self._syncing:
                self._cond.wait()
            self._closed = True
            self._cond.notify_all()
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            os.close(self._lock_fd)
