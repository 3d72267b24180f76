"""One writer per store: a lease on the store that names its holder.

`WriterLock` is what the store's writers use: reentrant, shared by every `Store` of one
store identity in this process (so two handles in one process never lock each other out), and
backed by a `Lease` that excludes other processes. `FileLease` is the local-disk lease: an
OS file lock (`flock`) on `.writer.lock` in the store's root, which the kernel releases when
the holding process dies, however it dies; the holder's pid, host, command and start time are
written inside the file so a refused writer can say who holds the store. The lease on object
storage (`lease.ObjectLease`: conditional put, expiry, renewal) implements the same three
methods (`acquire`, `release`, `holder`) plus `check` (raises once the lease was lost).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Protocol

import orjson

from replaystore.errors import ReplayStoreError

# Errors that mean "this storage cannot be written", not "something is broken".
READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


@dataclass(frozen=True)
class Holder:
    """Who holds a store's writer lease."""

    pid: int
    host: str
    command: str
    since: str  # ISO 8601, UTC

    @classmethod
    def this_process(cls, command: str | None = None) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=command or _command_line(),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} ({self.command}), since {self.since}"

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> Holder | None:
        try:
            raw = orjson.loads(data)
            return cls(int(raw["pid"]), str(raw["host"]), str(raw["command"]), str(raw["since"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def _command_line() -> str:
    args = [os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"]
    args += sys.argv[1:]
    text = " ".join(args)
    return text if len(text) <= 200 else text[:197] + "..."


class StoreLocked(ReplayStoreError):
    """Another process holds the store's writer lease."""

    status = 409

    def __init__(self, root: str, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process (its details are unreadable)"
        super().__init__(
            f"the store at {root} is held by another writer: {who}; stop it first, or serve "
            "this store with `replaystore serve --read-only`"
        )
        self.holder = holder


class StoreNotWritable(ReplayStoreError):
    """The store's storage refuses writes (read-only mount, permissions)."""

    status = 403


class Lease(Protocol):
    """Excludes other processes from writing one store."""

    def acquire(self, holder: Holder) -> None:
        """Take the lease without waiting, or raise StoreLocked naming the current holder."""

    def release(self) -> None: ...

    def holder(self) -> Holder | None:
        """The current holder (None when nobody holds it, or unknown)."""


class FileLease:
    """A `flock` on a lock file with the holder's details inside (see the module docstring)."""

    def __init__(self, path: str, root: str) -> None:
        self.path = path
        self.root = root
        self._fd: int | None = None

    def acquire(self, holder: Holder) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise _not_writable(self.root, error) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(self.root, self.holder()) from None
        try:
            # Truncate only once locked: the file's text is the live holder's.
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.to_json(), 0)
        except OSError as error:
            os.close(fd)
            raise _not_writable(self.root, error) from None
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the flock

    def holder(self) -> Holder | None:
        # The holder writes its details right after locking: allow it a moment.
        for _ in range(20):
            try:
                with open(self.path, "rb") as f:
                    found = Holder.from_json(f.read())
            except FileNotFoundError:
                return None
            if found is not None:
                return found
            time.sleep(0.01)
        return None


def _not_writable(root: str, error: OSError) -> Exception:
    if error.errno in READ_ONLY_ERRNOS:
        return StoreNotWritable(
            f"the store at {root} is not writable ({error.strerror}): a writer needs writable "
            "storage; to only read it, use `replaystore serve --read-only`"
        )
    return error


class WriterLock:
    """The store's writer lease as its writers use it: reentrant across threads of this
    process (one at a time), the process-wide lease taken on first use and given back when the
    last hold ends. `acquire`/`release` hold it for a long-lived writer such as `serve`."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._thread_lock = threading.RLock()
        self._state = threading.Lock()
        self._depth = 0
        self._pinned = 0

    def acquire(self, command: str | None = None) -> None:
        """Hold the lease until `release` (StoreLocked if another process holds it)."""
        with self._state:
            if self._depth == 0:
                self.lease.acquire(Holder.this_process(command))
            self._depth += 1
            self._pinned += 1

    def release(self) -> None:
        with self._state:
            if self._pinned == 0:
                return
            self._pinned -= 1
            self._drop_locked()

    def holder(self) -> Holder | None:
        return self.lease.holder()

    def check(self) -> None:
        """Raise when this process's lease was lost (object storage: taken over)."""
        check = getattr(self.lease, "check", None)
        if check is not None and self._depth > 0:
            check()

    @property
    def held(self) -> bool:
        return self._depth > 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Write under the lease, one thread at a time; refused (StoreLocked) at once when
        another process holds it."""
        with self._thread_lock:
            with self._state:
                if self._depth == 0:
                    self.lease.acquire(Holder.this_process())
                self._depth += 1
            try:
                yield
            finally:
                with self._state:
                    self._drop_locked()

    def _drop_locked(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.lease.release()


_SHARED: dict[str, WriterLock] = {}
_SHARED_LOCK = threading.Lock()


def shared_writer_lock(key: str, make_lease: Callable[[], Lease]) -> WriterLock:
    """The process's one WriterLock for a store (`key`: its canonical root)."""
    with _SHARED_LOCK:
        lock = _SHARED.get(key)
        if lock is None:
            lock = _SHARED[key] = WriterLock(make_lease())
        return lock


class ReadOnly(ReplayStoreError):
    """A write was asked of a store opened read-only (a 503: this server cannot, another can)."""

    status = 503


class NoWriterLock:
    """The lock of a read-only store: every write is refused."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.held = False

    def acquire(self, command: str | None = None) -> None:
        raise self._refusal()

    def release(self) -> None:
        return None

    def holder(self) -> Holder | None:
        return None

    def check(self) -> None:
        return None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        raise self._refusal()
        yield  # pragma: no cover

    def _refusal(self) -> ReadOnly:
        return ReadOnly(
            f"This server is read-only (replaystore serve --read-only): the store at {self.root} "
            "is written only by its writer"
        )
