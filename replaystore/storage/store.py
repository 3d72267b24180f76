"""The store: Delta tables + recording blobs + the published manifest that ties them together."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import fsspec
from deltalake import DeltaTable
from prometheus_client import Counter, Histogram

from replaystore.errors import ReplayStoreError
from replaystore.metrics import REGISTRY
from replaystore.storage import selector_counts
from replaystore.storage.batch import WriteBatch
from replaystore.storage.compact import CompactResult, compact
from replaystore.storage.core import MANIFEST_POLL, SCAN_CONFIG, StoreCore, writer_lock
from replaystore.storage.delete import delete_replay
from replaystore.storage.layout import Layout, normalize_root
from replaystore.storage.lock import StoreNotWritable
from replaystore.storage.manifest import read_manifest
from replaystore.storage.objectstore import StorageConfig
from replaystore.storage.properties import DEFAULT_RETENTION
from replaystore.storage.tables import lacks_selector_counts, open_all
from replaystore.storage.write import WriteResult, write_batch

__all__ = [
    "MAINTENANCE_RUNS",
    "MANIFEST_POLL",
    "SCAN_CONFIG",
    "Store",
    "StoreNotFound",
    "StoreUnreachable",
]

log = logging.getLogger(__name__)

COMMIT_SECONDS = Histogram(
    "replaystore_commit_seconds",
    "Time of one store write (an ingest batch: Delta commits and the manifest publish)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
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


class Store(StoreCore):
    """A replay store under one root. Use `Store.open`."""

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
        lock = writer_lock(layout, False, config)
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


def _open_tables(layout: Layout, config: StorageConfig) -> dict[str, DeltaTable]:
    if layout.is_local:
        return _open_all(layout, config.storage_options)
    try:
        return _open_all(layout, config.storage_options)
    except ReplayStoreError:
        raise
    except Exception as error:  # deltalake's OSError/DeltaError: one line, not a traceback
        raise StoreUnreachable(_unreachable(layout.root, config, error)) from None


def _open_all(layout: Layout, storage_options: dict | None) -> dict[str, DeltaTable]:
    rebuild = lacks_selector_counts(layout, storage_options)
    tables = open_all(layout, storage_options)
    if rebuild:
        selector_counts.rebuild_table(tables["clicks"], tables["selectors"])
    return tables


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
