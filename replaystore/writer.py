"""The one writer of a store in this process: the writer lock, recovery, journaled ingest and
the background work that runs beside it.

Lifecycle: `Writer(...)` takes the store's writer lock for as long as it lives (StoreLocked
naming the holder when another process has it, StoreNotWritable on read-only storage),
recovers what a crashed writer left unpublished, starts the ingest service (which replays the
journal) and then the background tasks. `close()` stops the background tasks first, then
drains the journal into the tables, then lets the lock go. Background maintenance hooks in
as a `BackgroundTask` handed to the constructor.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from typing import Protocol

from replaystore.ingest import EnvelopeInput, build_batch
from replaystore.ingest.service import IngestService
from replaystore.storage.lock import READ_ONLY_ERRNOS, StoreNotWritable
from replaystore.storage.store import Store

log = logging.getLogger(__name__)

JOURNAL_DIR = "journal"  # under a local store's root
# A store on object storage journals on the writer's local disk (issue 13): `--journal DIR`,
# else REPLAYSTORE_JOURNAL, else a folder of the user's cache named after the store's URL.
JOURNAL_ENV = "REPLAYSTORE_JOURNAL"
DRAIN_SECONDS = 60.0  # how long close() lets the journal drain before leaving it for restart


class BackgroundTask(Protocol):
    """Work that runs in the writer's own threads (maintenance)."""

    def start(self) -> None: ...

    def stop(self, timeout: float | None = None) -> None:
        """Stop soon and wait (up to timeout) for the thread to finish its step."""


class SyncIngest:
    """Writes each envelope before answering: the ingest of a store with no local journal."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.replayed = 0

    def submit(self, envelope: EnvelopeInput) -> None:
        batch = build_batch([envelope])
        if not batch.is_empty():
            self.store.write(batch)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> bool:
        return True


class Writer:
    """The writer of `store` (see the module docstring); its `submit` is the envelope route's."""

    def __init__(
        self,
        store: Store,
        *,
        tasks: Sequence[BackgroundTask] = (),
        command: str | None = None,
        journal: str | None = None,
    ) -> None:
        self.store = store
        self.tasks = list(tasks)
        self.journal_dir = journal_dir(store.layout.root, journal)
        store.lock.acquire(command)
        try:
            with store.lock.hold():
                store.recover()
            self.ingest = _ingest_for(store, self.journal_dir)
            for task in self.tasks:
                task.start()
        except BaseException:
            store.lock.release()
            raise
        self._closed = False

    @property
    def replayed(self) -> int:
        """Journal entries found uncommitted at start (committed again by the ingest service)."""
        return self.ingest.replayed

    def submit(self, envelope: EnvelopeInput) -> None:
        self.ingest.submit(envelope)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed; False on timeout."""
        return self.ingest.flush(timeout)

    def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Stop the background tasks, drain the journal into the tables, release the lock."""
        if self._closed:
            return
        self._closed = True
        for task in self.tasks:
            task.stop(timeout)
        if self.ingest.close(timeout):
            self.store.lock.release()
        else:
            # Releasing now would let another writer in beside a commit still running here.
            log.warning("writer: a commit is still running; the lock stays until the process exits")


def journal_dir(root: str, journal: str | None = None) -> str:
    """Where the writer of the store at `root` journals: `journal` if given; a local store's
    `journal/` folder; for a URL, REPLAYSTORE_JOURNAL or
    `$XDG_CACHE_HOME/replaystore/journals/<scheme>-<bucket>-<digest of the URL>` (~/.cache
    without XDG_CACHE_HOME), so a restarted writer of the same store replays what it left."""
    if journal:
        return os.path.abspath(os.path.expanduser(journal))
    if "://" not in root:
        return os.path.join(root, JOURNAL_DIR)
    if os.environ.get(JOURNAL_ENV):
        return os.path.abspath(os.path.expanduser(os.environ[JOURNAL_ENV]))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    scheme, rest = root.split("://", 1)
    bucket = "".join(c if c.isalnum() or c in "-_." else "_" for c in rest.split("/", 1)[0])
    digest = hashlib.sha256(root.encode()).hexdigest()[:16]
    return os.path.join(cache, "replaystore", "journals", f"{scheme}-{bucket}-{digest}")


def _ingest_for(store: Store, folder: str) -> IngestService:
    """The durable journaled service, its journal on this machine's disk (see journal_dir)."""
    try:
        return IngestService(store, folder)
    except OSError as error:
        if error.errno in READ_ONLY_ERRNOS:
            where = "" if store.layout.is_local else f" at {folder} (choose one with --journal)"
            raise StoreNotWritable(
                f"the store at {store.layout.root} is not writable ({error.strerror}): its "
                f"journal{where} cannot be written"
            ) from None
        raise
