"""The store: Delta tables + recording blobs + the published manifest that ties them together."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import duckdb
import fsspec
from deltalake import DeltaTable

from replaystore.storage.batch import WriteBatch
from replaystore.storage.blobs import BlobStore
from replaystore.storage.layout import ALL_TABLES, Layout
from replaystore.storage.manifest import (
    Manifest,
    WriterLock,
    manifest_token,
    publish_manifest,
    read_manifest,
)
from replaystore.storage.properties import DEFAULT_RETENTION
from replaystore.storage.snapshot import Snapshot, SnapshotReader, file_month
from replaystore.storage.tables import open_all
from replaystore.storage.views import register_views, snapshot_files

# DuckDB settings for the store's own scans (ingest dedupe, summaries, compaction).
SCAN_CONFIG = {"threads": 2, "memory_limit": "1GB"}


class Store:
    """A replay store under one root. Use `Store.open`."""

    def __init__(
        self,
        layout: Layout,
        storage_options: dict | None,
        tables: dict[str, DeltaTable],
    ) -> None:
        self.layout = layout
        self.storage_options = storage_options
        self.tables = tables
        self.blobs = BlobStore(layout)
        self.lock = WriterLock(layout.lock_path)
        self._reader = SnapshotReader({t: layout.table_uri(t) for t in ALL_TABLES}, storage_options)
        self._cached: tuple[object, Snapshot] | None = None
        self._last_now = datetime.min.replace(tzinfo=UTC)
        self._scan: duckdb.DuckDBPyConnection | None = None
        # Tables background maintenance is rewriting in several commits (the summary fold):
        # publish keeps their published version and recovery leaves them alone until released.
        self._held: set[str] = set()
        # True while a write is under way or after one failed midway: the next write recovers.
        self._dirty = False
        self.last_write = 0.0  # time.monotonic() of the last write (maintenance waits for quiet)

    @classmethod
    def open(
        cls,
        root: str,
        *,
        storage_options: dict | None = None,
        filesystem: fsspec.AbstractFileSystem | None = None,
    ) -> Store:
        """Open (creating on first use) the store at root, a local path or a URL.

        `storage_options` go to deltalake; `filesystem` (default: fsspec for root) holds blobs.
        """
        layout = Layout.for_root(root, filesystem)
        if layout.is_local:
            layout.fs.makedirs(layout.root, exist_ok=True)
        store = cls(layout, storage_options, open_all(layout, storage_options))
        with store.lock.hold():
            store.recover()
        return store

    # -- reading ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Every table's files at the published manifest (cached until it changes)."""
        path = self.layout.manifest_path
        token = manifest_token(path)
        cached = self._cached
        if token is not None and cached is not None and cached[0] == token:
            return cached[1]
        manifest = read_manifest(path, self.storage_options)
        if manifest is None:
            raise FileNotFoundError(f"no manifest at {path}: open the store with Store.open")
        if cached is not None and cached[1].seq == manifest.seq:
            self._cached = (token, cached[1])
            return cached[1]
        snapshot = self._reader.read(manifest)
        self._cached = (token, snapshot)
        return snapshot

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection whose views read the current snapshot."""
        con = duckdb.connect(config=dict(SCAN_CONFIG))
        register_views(con, snapshot_files(self.snapshot()))
        return con

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

    # -- writing (each entry point lives in its own module) --------------------------------

    def write(self, batch: WriteBatch) -> WriteResult:
        return write_batch(self, batch)

    def delete_replay(
        self, project_id: int, replay_id: str, *, now: datetime | None = None
    ) -> bool:
        return delete_replay(self, project_id, replay_id, now=now)

    def compact(self, *, retention: timedelta = DEFAULT_RETENTION) -> CompactResult:
        return compact(self, retention=retention)

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
        """Undo Delta commits that a crashed writer made but never published, then make sure
        the manifest names every table's latest version."""
        manifest = read_manifest(self.layout.manifest_path, self.storage_options)
        self.refresh()
        if manifest is not None:
            for name, version in manifest.versions.items():
                if name in self._held:
                    continue
                dt = self.tables[name]
                if dt.version() > version and _files_differ(dt, version, self.storage_options):
                    dt.restore(version)
        return self.publish(manifest)

    def publish(self, previous: Manifest | None = None) -> Manifest:
        """Publish the tables' latest versions (no-op when they are already published)."""
        if previous is None:
            previous = read_manifest(self.layout.manifest_path, self.storage_options)
        published = previous.versions if previous is not None else {}
        versions = {
            name: published[name] if name in self._held and name in published else dt.version()
            for name, dt in self.tables.items()
        }
        if previous is not None and previous.versions == versions:
            return previous
        manifest = Manifest(seq=(previous.seq + 1) if previous else 1, versions=versions)
        publish_manifest(self.layout.manifest_path, manifest, self.storage_options)
        return manifest

    def latest_files(self, table: str, months: set[str] | None = None) -> list[str]:
        """Files of a table at the writer's latest version (unpublished commits included)."""
        files = self.tables[table].file_uris()
        if months is None:
            return files
        return [f for f in files if file_month(f) in months]

    def scan_connection(self, files: dict[str, list[str]]) -> duckdb.DuckDBPyConnection:
        """The writers' own DuckDB connection (reused: call with self.lock held), its views
        re-pointed at the given files."""
        if self._scan is None:
            self._scan = duckdb.connect(config=dict(SCAN_CONFIG))
        register_views(self._scan, files)
        return self._scan


def _files_differ(dt: DeltaTable, version: int, storage_options: dict | None) -> bool:
    published = DeltaTable(dt.table_uri, version=version, storage_options=storage_options)
    return set(published.file_uris()) != set(dt.file_uris())


# Imported last: these modules take a Store and are only needed when a method runs.
from replaystore.storage.compact import CompactResult, compact  # noqa: E402
from replaystore.storage.delete import delete_replay  # noqa: E402
from replaystore.storage.write import WriteResult, write_batch  # noqa: E402
