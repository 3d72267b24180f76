"""The store: Delta tables + recording blobs + the published manifest that ties them together."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import duckdb
import fsspec
from deltalake import DeltaTable
from prometheus_client import Counter, Gauge, Histogram

from replaystore.errors import ReplayStoreError
from replaystore.metrics import REGISTRY
from replaystore.storage.batch import WriteBatch
from replaystore.storage.blobs import BlobStore
from replaystore.storage.layout import ALL_TABLES, Layout, normalize_root
from replaystore.storage.lease import ObjectLease
from replaystore.storage.lock import (
    FileLease,
    NoWriterLock,
    StoreNotWritable,
    WriterLock,
    shared_writer_lock,
)
from replaystore.storage.manifest import (
    Manifest,
    manifest_token,
    publish_manifest,
    read_manifest,
)
from replaystore.storage.objectstore import StorageConfig
from replaystore.storage.properties import DEFAULT_RETENTION
from replaystore.storage.snapshot import Snapshot, SnapshotReader, file_month
from replaystore.storage.tables import COMMIT, made_by_replaystore, open_all
from replaystore.storage.views import register_views, snapshot_files, views_reading

log = logging.getLogger(__name__)

# DuckDB settings for the store's own scans (ingest dedupe, summaries, compaction).
SCAN_CONFIG = {"threads": 2, "memory_limit": "1GB"}
# On an object store readers re-read the manifest at most this often (a GET each): read-only
# servers see a new commit within this, well inside issue 13's 5 s.
MANIFEST_POLL = 1.0

COMMIT_SECONDS = Histogram(
    "replaystore_commit_seconds",
    "Time of one store write (an ingest batch: Delta commits and the manifest publish)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
TABLE_FILES = Gauge(
    "replaystore_table_files",
    "Live data files per table in the published snapshot the server reads",
    ["table"],
    registry=REGISTRY,
)
# Incremented by every maintenance task: `compact` here, the writer's background tasks too.
MAINTENANCE_RUNS = Counter(
    "replaystore_maintenance_runs",
    "Maintenance runs by task (compact, merge, fold, vacuum, retention...) and outcome",
    ["task", "outcome"],
    registry=REGISTRY,
)


class StoreNotFound(ReplayStoreError):
    """A read command (or `create=False`) was pointed at a folder that holds no store."""

    status = 404


class StoreUnreachable(ReplayStoreError):
    """The store's object storage did not answer (endpoint, bucket or credentials wrong)."""

    status = 503


class Store:
    """A replay store under one root. Use `Store.open`."""

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
        self.lock: WriterLock | NoWriterLock = _writer_lock(layout, read_only, self.config)
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

    @classmethod
    def open(
        cls,
        root: str,
        *,
        storage_options: dict | None = None,
        filesystem: fsspec.AbstractFileSystem | None = None,
        read_only: bool = False,
        create: bool = True,
    ) -> Store:
        """Open the store at root, a local path or a URL; every spelling of one local folder
        (relative, absolute, `file://`, symlinked) is the same store.

        A new store is created on first use unless `create=False` or `read_only`, which raise
        StoreNotFound instead. A read-only store never takes the writer lock and refuses every
        write. Opening takes no lock: each write takes the writer lock (StoreLocked when another
        process holds it), and a long-lived writer holds it with `store.lock.acquire()`.
        On `s3://bucket/prefix` the settings come from the `AWS_*` variables
        (objectstore.py); `storage_options` (the same `AWS_*` names) override them for
        deltalake and the fsspec filesystem built from them; `filesystem` replaces that one.
        """
        config = StorageConfig.for_root(normalize_root(root), storage_options, filesystem)
        layout = Layout.for_root(root, config.fs)
        options = config.storage_options
        exists = _manifest_exists(layout, config)
        if not exists and (read_only or not create):
            raise StoreNotFound(f"no replay store at {layout.root}")
        if read_only:
            return cls(layout, options, {}, read_only=True, config=config)
        if exists:
            return cls(layout, options, _open_tables(layout, config), config=config)
        lock = _writer_lock(layout, False, config)
        if layout.is_local:
            try:
                layout.fs.makedirs(layout.root, exist_ok=True)
            except OSError as error:
                raise StoreNotWritable(
                    f"cannot create a store at {layout.root}: {error.strerror or error}"
                ) from None
        with lock.hold():
            store = cls(layout, options, _open_tables(layout, config), config=config)
            store.recover()
        return store

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

    # -- writing (each entry point lives in its own module) --------------------------------

    def write(self, batch: WriteBatch) -> WriteResult:
        with COMMIT_SECONDS.time():
            return write_batch(self, batch)

    def delete_replay(
        self, project_id: int, replay_id: str, *, now: datetime | None = None
    ) -> bool:
        return delete_replay(self, project_id, replay_id, now=now)

    def compact(self, *, retention: timedelta = DEFAULT_RETENTION) -> CompactResult:
        started = time.monotonic()
        try:
            result = compact(self, retention=retention)
        except Exception:
            MAINTENANCE_RUNS.labels(task="compact", outcome="failed").inc()
            raise
        MAINTENANCE_RUNS.labels(task="compact", outcome="done").inc()
        log.info("maintenance: compact in %.1f s: %s", time.monotonic() - started, result)
        return result

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


def _writer_lock(
    layout: Layout, read_only: bool, config: StorageConfig
) -> WriterLock | NoWriterLock:
    if read_only:
        return NoWriterLock(layout.root)
    if layout.is_local:
        return shared_writer_lock(layout.root, lambda: FileLease(layout.lock_path, layout.root))
    # Object storage: a conditional-put lease with expiry and renewal (lease.py).
    return shared_writer_lock(layout.root, lambda: ObjectLease(config, layout.root))


def _open_tables(layout: Layout, config: StorageConfig) -> dict[str, DeltaTable]:
    if layout.is_local:
        return open_all(layout, config.storage_options)
    try:
        return open_all(layout, config.storage_options)
    except ReplayStoreError:
        raise
    except Exception as error:  # deltalake's OSError/DeltaError: one line, not a traceback
        raise StoreUnreachable(_unreachable(layout.root, config, error)) from None


def _unreachable(root: str, config: StorageConfig, error: Exception) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = f"cannot open the tables of the store at {root}: {first}"
    options = config.storage_options or {}
    endpoint = options.get("AWS_ENDPOINT_URL", "")
    if endpoint.startswith("http://") and options.get("AWS_ALLOW_HTTP", "").lower() != "true":
        text += f" (the endpoint {endpoint} is http://: set AWS_ALLOW_HTTP=true)"
    return text


def _manifest_exists(layout: Layout, config: StorageConfig) -> bool:
    if layout.is_local:
        return read_manifest(layout.manifest_path, config) is not None
    try:
        return read_manifest(layout.manifest_path, config) is not None
    except ReplayStoreError:
        raise
    except Exception as error:  # botocore's and aiohttp's errors are not all OSErrors
        raise StoreUnreachable(f"cannot read the store at {layout.root}: {error}") from None


def _files_differ(dt: DeltaTable, version: int, storage_options: dict | None) -> bool:
    published = DeltaTable(dt.table_uri, version=version, storage_options=storage_options)
    return set(published.file_uris()) != set(dt.file_uris())


# Imported last: these modules take a Store and are only needed when a method runs.
from replaystore.storage.compact import CompactResult, compact  # noqa: E402
from replaystore.storage.delete import delete_replay  # noqa: E402
from replaystore.storage.write import WriteResult, write_batch  # noqa: E402
