"""A consistent read view of the store: every table's Parquet files at the manifest versions."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from deltalake import DeltaTable

from replaystore.storage.manifest import Manifest

_MONTH = re.compile(r"/month=([^/]+)/")


def file_month(uri: str) -> str | None:
    """The Hive partition month of a data file, from its path."""
    found = _MONTH.search(uri)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Snapshot:
    """Per table the data file URIs at one published manifest."""

    seq: int
    versions: dict[str, int]
    files: dict[str, tuple[str, ...]]

    def uris(self, table: str, months: Iterable[str] | None = None) -> list[str]:
        """The table's files, only those of the given partition months when months is given."""
        if months is None:
            return list(self.files[table])
        wanted = set(months)
        return [u for u in self.files[table] if file_month(u) in wanted]


class SnapshotReader:
    """Keeps one DeltaTable per table and moves it to the versions a manifest names."""

    def __init__(self, uris: dict[str, str], storage_options: dict | None) -> None:
        self._uris = uris
        self._storage_options = storage_options
        self._tables: dict[str, DeltaTable] = {}
        self._files: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def read(self, manifest: Manifest) -> Snapshot:
        with self._lock:
            files = {name: self._files_at(name, v) for name, v in manifest.versions.items()}
        return Snapshot(seq=manifest.seq, versions=dict(manifest.versions), files=files)

    def _files_at(self, name: str, version: int) -> tuple[str, ...]:
        cached = self._files.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        dt = self._tables.get(name)
        if dt is None:
            dt = DeltaTable(self._uris[name], storage_options=self._storage_options)
            self._tables[name] = dt
        if dt.version() != version:
            dt.load_as_version(version)
        uris = tuple(dt.file_uris())
        self._files[name] = (version, uris)
        return uris
