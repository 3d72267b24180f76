"""A store's tables, snapshot reads and the helpers its writers share.

`Store` (store.py) adds the entry points `write`, `delete_replay` and `compact`, each in its
own module (write.py, delete.py, compact.py) that takes a `StoreCore`, so imports point one
way: store -> write/delete/compact -> core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import duckdb
from deltalake import DeltaTable
from prometheus_client import Gauge

from replaystore.metrics import REGISTRY
from replaystore.storage.blobs import BlobStore
from replaystore.storage.layout import ALL_TABLES, Layout
from replaystore.storage.lease import ObjectLease
from replaystore.storage.lock import FileLease, NoWriterLock, WriterLock, shared_writer_lock
from replaystore.storage.manifest import Manifest, manifest_token, publish_manifest, read_manifest
from replaystore.storage.objectstore import StorageConfig
from replaystore.storage.snapshot import Snapshot, SnapshotReader, file_month
from replaystore.storage.tables import COMMIT, made_by_replaystore
from replaystore.storage.views import register_views, snapshot_files, views_reading

log = logging.getLogger(__name__)

# DuckDB settings for the store's own scans (ingest dedupe, summaries, compaction).
SCAN_CONFIG = {"threads": 2, "memory_limit": "1GB"}
# On an object store readers re-read the manifest at most this often (a GET each): read-only
# servers see a new commit within this, well inside issue 13's 5 s.
MANIFEST_POLL = 1.0

TABLE_FILES = Gauge(
    "replaystore_table_files",
    "Live data files per table in the published snapshot the server reads",
    ["table"],
    registry=REGISTRY,
)


class StoreCore:
    """A replay store under one root, without its write entry points. Use `Store.open`."""

    def __init__(
        self,
        layout: Layout,
        storage_options: dict | None,
        tables: dict[str, DeltaTable],
        *,
        read_only: bool = False,
        config: StorageConfig | None = None,
    ) -> None:
        self.layout = layout
        # deltalake's options; `config` also holds the fsspec filesystem (kept apart).
        self.config = config or StorageConfig(layout.root, storage_options, layout.fs)
        self.storage_options = self.config.storage_options
        self.tables = tables
        self.read_only = read_only
        self.blobs = BlobStore(layout, self.config.attach)
        self.lock: WriterLock | NoWriterLock = writer_lock(layout, read_only, self.config)
        self._reader = SnapshotReader(
            {t: layout.table_uri(t) for t in ALL_TABLES}, self.storage_options
        )
        self._cached: tuple[object, Snapshot] | None = None
        self._checked = float("-inf")  # time.monotonic() of the last remote manifest read
        self._last_now = datetime.min.replace(tzinfo=UTC)
        self._scan: duckdb.DuckDBPyConnection | None = None
        # Tables background maintenance is rewriting in several commits (the summary fold):
        # publish keeps their published version and recovery leaves them alone until released.
        self._held: set[str] = set()
        # True while a write is under way or after one failed midway: the next write recovers.
        # True until this object has recovered once: a crashed writer of another process may
        # have left unpublished commits that this process's first write must undo.
        self._dirty = True
        self.last_write = 0.0  # time.monotonic() of the last write (maintenance waits for quiet)

    # -- reading ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Every table's files at the published manifest (cached until it changes)."""
        path = self.layout.manifest_path
        cached = self._cached
        if self.config.remote:
            now = time.monotonic()
            if cached is not None and now - self._checked < MANIFEST_POLL:
                return cached[1]
            self._checked = now
        token = manifest_token(path)
        if token is not None and cached is not None and cached[0] == token:
            return cached[1]
        try:
            manifest = read_manifest(path, self.config)
        except Exception as error:
            if cached is None or not self.config.remote:
                raise
            # Object storage blipped: keep answering from the last snapshot (its files are
            # kept for the file retention) and try again at the next poll.
            log.warning("manifest of %s unreadable, serving seq %d: %s", path, cached[1].seq, error)
            return cached[1]
        if manifest is None:
            raise FileNotFoundError(f"no manifest at {path}: open the store with Store.open")
        if cached is not None and cached[1].seq == manifest.seq:
            self._cached = (token, cached[1])
            return cached[1]
        snapshot = self._reader.read(manifest)
        self._cached = (token, snapshot)
        for table, files in snapshot.files.items():
            TABLE_FILES.labels(table=table).set(len(files))
        return snapshot

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection whose views read the current snapshot."""
        con = self.duckdb()
        register_views(con, snapshot_files(self.snapshot()))
        return con

    def duckdb(self, settings: dict | None = None) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection that can read this store's files (local or remote)."""
        return self.config.attach(duckdb.connect(config=dict(settings or SCAN_CONFIG)))

    def read_blob(self, project_id: int, replay_id: str, segment_id: int) -> bytes | None:
        """One recording body, from the pack the current snapshot's index names."""
        for attempt in range(3):
            snapshot = self.snapshot()
            index = (snapshot.seq, list(snapshot.files.get("recordings", ())))
            try:
                return self.blobs.read(project_id, replay_id, segment_id, index)
            except FileNotFoundError:
                # The pack was merged or purged after that snapshot: look again, newer.
                if attempt == 2:
                    return None
                self._cached = None
        return None

    # -- helpers for the writers (call with self.lock held) --------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writer lock for one write. Recovery runs only after a write that failed
        midway: background maintenance commits between writes and publishes them itself, and
        a recovery on every write would undo its committed-but-not-yet-published work."""
        with self.lock.hold():
            if self._dirty:
                self.recover()
            else:
                self.refresh()
            self._dirty = True
            yield
            self._dirty = False
            self.last_write = time.monotonic()

    def refresh(self, tables: Iterable[str] | None = None) -> None:
        """Move the writer's table objects to their latest versions (held tables excepted)."""
        for name in self.tables if tables is None else tables:
            if name not in self._held:
                self.tables[name].update_incremental()

    def hold(self, tables: Iterable[str]) -> None:
        """Keep these tables at their published version until `release` (call with the lock)."""
        self._held.update(tables)

    def release(self, tables: Iterable[str], *, failed: bool = False) -> None:
        """Publish held tables again; after a failure the next write first undoes what the
        holder committed but never published."""
        self._held.difference_update(tables)
        if failed:
            self._dirty = True

    def now(self, now: datetime | None = None) -> datetime:
        """A write time strictly after the previous one, so the newest summary always wins."""
        current = now or datetime.now(UTC)
        current = max(current, self._last_now + timedelta(microseconds=1))
        self._last_now = current
        return current

    def recover(self) -> Manifest:
        """Roll back what a failed or crashed write of this store left unpublished, then make
        sure the manifest names every table's latest version. Call with self.lock held.

        The rule: a Delta commit above the published version is rolled back only when it bears
        replaystore's writer tag (tables.WRITER_TAG) and no commit of another program follows
        it. Holding the writer lock proves that no other replaystore writer of this store is
        alive, and this process runs no write while this one holds the lock, so a tagged
        unpublished commit belongs to a write that died before its publish: its envelopes are
        still journaled (or the caller saw the error) and are written again, whole. A commit
        without the tag was made by another program (Spark, a deltalake script): it is never
        undone; it and the tagged commits before it are published as they are.
        """
        manifest = read_manifest(self.layout.manifest_path, self.config)
        self.refresh()
        if manifest is not None:
            for name, version in manifest.versions.items():
                if name in self._held:
                    continue
                dt = self.tables[name]
                latest = dt.version()
                if latest <= version:
                    continue
                history = dt.history(latest - version)
                foreign = [h["version"] for h in history if not made_by_replaystore(h)]
                keep = max(foreign, default=version)
                if keep > version:
                    log.warning(
                        "table %s: publishing %d commit(s) made by another program (v%d-v%d)",
                        name,
                        keep - version,
                        version + 1,
                        keep,
                    )
                if latest > keep and _files_differ(dt, keep, self.storage_options):
                    log.info("table %s: rolling back unpublished v%d-v%d", name, keep + 1, latest)
                    dt.restore(keep, commit_properties=COMMIT)
        published = self.publish(manifest)
        self._dirty = False
        return published

    def publish(self, previous: Manifest | None = None) -> Manifest:
        """Publish the tables' latest versions (no-op when they are already published)."""
        if previous is None:
            previous = read_manifest(self.layout.manifest_path, self.config)
        published = previous.versions if previous is not None else {}
        versions = {
            name: published[name] if name in self._held and name in published else dt.version()
            for name, dt in self.tables.items()
        }
        if previous is not None and previous.versions == versions:
            return previous
        manifest = Manifest(seq=(previous.seq + 1) if previous else 1, versions=versions)
        self.lock.check()  # a writer that lost its lease publishes nothing (issue 13)
        published = publish_manifest(
            self.layout.manifest_path, manifest, self.config, previous=previous
        )
        self._checked = float("-inf")  # this process reads its own publish at once
        return published

    def latest_files(self, table: str, months: set[str] | None = None) -> list[str]:
        """Files of a table at the writer's latest version (unpublished commits included)."""
        files = self.tables[table].file_uris()
        if months is None:
            return files
        return [f for f in files if file_month(f) in months]

    def scan_connection(self, files: dict[str, list[str]]) -> duckdb.DuckDBPyConnection:
        """The writers' own DuckDB connection (reused: call with self.lock held), the views of
        the given tables pointed at the given files. Only those views: the others keep what an
        earlier call gave them, so a write's successive scans do not re-create each other's
        views (storage/views.py)."""
        if self._scan is None:
            self._scan = self.duckdb()
            self._scan_views: dict[str, str] = {}
        register_views(self._scan, files, only=views_reading(files), created=self._scan_views)
        return self._scan


def writer_lock(
    layout: Layout, read_only: bool, config: StorageConfig
) -> WriterLock | NoWriterLock:
    """The store's writer lock: a lock file on local disk, a lease on object storage."""
    if read_only:
        return NoWriterLock(layout.root)
    if layout.is_local:
        return shared_writer_lock(layout.root, lambda: FileLease(layout.lock_path, layout.root))
    # Object storage: a conditional-put lease with expiry and renewal (lease.py).
    return shared_writer_lock(layout.root, lambda: ObjectLease(config, layout.root))


def _files_differ(dt: DeltaTable, version: int, storage_options: dict | None) -> bool:
    published = DeltaTable(dt.table_uri, version=version, storage_options=storage_options)
    return set(published.file_uris()) != set(dt.file_uris())
