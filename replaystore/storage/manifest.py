"""The published manifest (table -> Delta version); the writer lock is in `lock.py`.

Readers only ever read tables at the manifest's versions, so a batch becomes visible in every
table at once when the manifest is replaced: write-temp-then-rename on local disk (atomic on
POSIX); on an object store one conditional PUT, `If-Match` the ETag of the manifest the
writer read (`If-None-Match: *` for the first), so a writer that lost its lease can never
overwrite a newer writer's manifest (issue 13).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace

import orjson

from replaystore.errors import ReplayStoreError
from replaystore.storage.layout import is_remote
from replaystore.storage.objectstore import PreconditionFailed, StorageConfig


class ManifestConflict(ReplayStoreError):
    """Another writer published the manifest since this one read it (its lease was lost)."""

    status = 409


@dataclass(frozen=True)
class Manifest:
    seq: int
    versions: dict[str, int] = field(default_factory=dict)
    # Object stores: the ETag it was read or published with (what the next publish expects).
    etag: str | None = field(default=None, compare=False)

    def to_json(self) -> bytes:
        return orjson.dumps({"seq": self.seq, "versions": self.versions})

    @classmethod
    def from_json(cls, data: bytes, etag: str | None = None) -> Manifest:
        raw = orjson.loads(data)
        versions = {k: int(v) for k, v in raw["versions"].items()}
        return cls(seq=int(raw["seq"]), versions=versions, etag=etag)


def read_manifest(path: str, config: StorageConfig | None = None) -> Manifest | None:
    """The published manifest, or None before the first publish."""
    if not is_remote(path):
        try:
            with open(path, "rb") as f:
                return Manifest.from_json(f.read())
        except FileNotFoundError:
            return None
    found = _config(path, config).get(path)
    return None if found is None else Manifest.from_json(found.data, found.etag)


def manifest_token(path: str) -> object:
    """A cheap value that changes whenever the manifest is replaced (local: inode + mtime)."""
    if not is_remote(path):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)
    return None  # object stores: re-read the (tiny) manifest, at most every MANIFEST_POLL


def publish_manifest(
    path: str,
    manifest: Manifest,
    config: StorageConfig | None = None,
    *,
    previous: Manifest | None = None,
) -> Manifest:
    """Replace the manifest atomically; on an object store only if it is still `previous`
    (ManifestConflict otherwise). Returns the manifest as published (with its ETag)."""
    data = manifest.to_json()
    if is_remote(path):
        expected = previous.etag if previous is not None else None
        if previous is not None and expected is None:
            raise ManifestConflict(f"the manifest at {path} was read without its ETag")
        try:
            put = _config(path, config).put(path, data, if_match=expected)
        except PreconditionFailed:
            raise ManifestConflict(
                f"the manifest at {path} was published by another writer meanwhile: this "
                "writer has lost the store's lease and must stop"
            ) from None
        return replace(manifest, etag=put.etag)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return manifest


def _config(path: str, config: StorageConfig | None) -> StorageConfig:
    return config if config is not None else StorageConfig.for_root(path.rsplit("/", 1)[0])
