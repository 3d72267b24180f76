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
    ) -> None:
        self.store = store
        self.tasks = list(tasks)
        store.lock.acquire(command)
        try:
            with store.lock.hold():
                store.recover()
            self.ingest = _ingest_for(store)
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


def _ingest_for(store: Store) -> IngestService | SyncIngest:
    """The durable journaled service for a local store; remote stores write synchronously."""
    if not store.layout.is_local:
        return SyncIngest(store)
    try:
        return IngestService(store, os.path.join(store.layout.root, JOURNAL_DIR))
    except OSError as error:
        if error.errno in READ_ONLY_ERRNOS:
            raise StoreNotWritable(
                f"the store at {store.layout.root} is not writable ({error.strerror}): its "
                "journal cannot be written"
            ) from None
        raise
