"""The published manifest (table -> Delta version); the writer lock is in `lock.py`.

Readers only ever read tables at the manifest's versions, so a batch becomes visible in every
table at once when the manifest is replaced (write-temp-then-rename, atomic on POSIX; a single
PUT on an object store).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import fsspec
import orjson


@dataclass(frozen=True)
class Manifest:
    seq: int
    versions: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps({"seq": self.seq, "versions": self.versions})

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = orjson.loads(data)
        return cls(seq=int(raw["seq"]), versions={k: int(v) for k, v in raw["versions"].items()})


def _is_local(path: str) -> bool:
    return "://" not in path


def read_manifest(path: str, storage_options: dict | None = None) -> Manifest | None:
    """The published manifest, or None before the first publish."""
    if _is_local(path):
        try:
            with open(path, "rb") as f:
                return Manifest.from_json(f.read())
        except FileNotFoundError:
            return None
    fs, p = fsspec.url_to_fs(path, **(storage_options or {}))
    if not fs.exists(p):
        return None
    return Manifest.from_json(fs.cat_file(p))


def manifest_token(path: str) -> object:
    """A cheap value that changes whenever the manifest is replaced (local: inode + mtime)."""
    if _is_local(path):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)
    return None  # object stores: always re-read the (tiny) manifest


def publish_manifest(path: str, manifest: Manifest, storage_options: dict | None = None) -> None:
    """Replace the manifest atomically."""
    data = manifest.to_json()
    if not _is_local(path):
        fs, p = fsspec.url_to_fs(path, **(storage_options or {}))
        fs.pipe_file(p, data)
        return
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
