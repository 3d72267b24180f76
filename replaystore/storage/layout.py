"""Where everything of a store lives under its root (a local path or an fsspec URL)."""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass

import fsspec
import pyarrow as pa

from replaystore.errors import ReplayStoreError
from replaystore.fields import schema

RAW_TABLES = ("segments", "clicks", "links", "archives", "viewers")
SUMMARY_TABLES = ("replays", "replays_recent")
INDEX_TABLES = ("tags",)  # derived from the summary base by compaction
BLOB_TABLES = ("recordings",)  # where each recording body is packed (storage/blobs.py)
COUNT_TABLES = ("selectors",)  # signed counts written beside the raw rows (selector_counts.py)
ALL_TABLES = RAW_TABLES + SUMMARY_TABLES + INDEX_TABLES + BLOB_TABLES + COUNT_TABLES
_REPLAY_ID = re.compile(r"[0-9a-f]{32}")

# The recordings index: where each body lies in its pack (blobs.py).
RECORDINGS = pa.schema(
    [
        pa.field("project_id", pa.int64(), nullable=False),
        pa.field("replay_id", pa.string(), nullable=False),
        pa.field("segment_id", pa.int64(), nullable=False),
        pa.field("pack", pa.string(), nullable=False),  # path under blobs/packs/
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("length", pa.int64(), nullable=False),
        pa.field("written_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("month", pa.string(), nullable=False),  # the month the body was written
    ]
)


def is_remote(root: str) -> bool:
    """True for a store root (or a path under one) on object storage: the one answer to "is
    this store local?". A `file:` URL is local (normalize_root turns it into its path)."""
    return "://" in root and not root.startswith("file:")


def is_blob_key(project_id: object, replay_id: object, segment_id: object = 0) -> bool:
    """True for a key that names a file inside the blob folder: non-negative integer ids and a
    32-hex replay id. Anything else (`..`, `/`, NUL) must never become part of a path."""
    return (
        type(project_id) is int
        and type(segment_id) is int
        and project_id >= 0
        and segment_id >= 0
        and isinstance(replay_id, str)
        and _REPLAY_ID.fullmatch(replay_id) is not None
    )


def normalize_root(root: str) -> str:
    """The one spelling of a store's root, so every spelling shares one journal, writer lock
    and catalog: a local store (relative or absolute path, `file://` URL, `~`, trailing slash,
    symlink) is its absolute real path; any other URL only loses its trailing slashes."""
    if root.startswith("file:"):
        parts = urllib.parse.urlsplit(root)
        if parts.netloc not in ("", "localhost"):
            raise ReplayStoreError(
                f"{root!r} names a file on host {parts.netloc!r}: a file:// URL must name a "
                "local path (file:///absolute/path)"
            )
        root = urllib.parse.unquote(parts.path) or "/"
    elif is_remote(root):
        return root.rstrip("/")
    return os.path.realpath(os.path.expanduser(root))


def table_schema(table: str) -> object:
    """The Arrow schema of a stored table (the recent tier shares the summary's)."""
    if table == "recordings":
        return RECORDINGS
    return schema.REPLAYS if table == "replays_recent" else schema.TABLES[table]


@dataclass(frozen=True)
class Layout:
    """Paths of one store: Delta tables, recording blobs, the manifest and the writer lock."""

    root: str  # normalize_root's spelling: a real absolute path, or a URL (s3://bucket/prefix)
    fs: fsspec.AbstractFileSystem

    @classmethod
    def for_root(cls, root: str, fs: fsspec.AbstractFileSystem | None = None) -> Layout:
        root = normalize_root(root)
        if fs is None:
            fs, _ = fsspec.url_to_fs(root)
        return cls(root=root, fs=fs)

    @property
    def is_local(self) -> bool:
        return not is_remote(self.root)

    def table_uri(self, table: str) -> str:
        return f"{self.root}/tables/{table}"

    def blob_path(self, project_id: int, replay_id: str, segment_id: int) -> str:
        if not is_blob_key(project_id, replay_id, segment_id):
            raise ValueError(f"invalid blob key {(project_id, replay_id, segment_id)!r}")
        return f"{self.root}/blobs/{project_id}/{replay_id}/{segment_id}"

    def replay_blob_dir(self, project_id: int, replay_id: str) -> str:
        if not is_blob_key(project_id, replay_id):
            raise ValueError(f"invalid blob key {(project_id, replay_id)!r}")
        return f"{self.root}/blobs/{project_id}/{replay_id}"

    @property
    def manifest_path(self) -> str:
        return f"{self.root}/manifest.json"

    @property
    def lock_path(self) -> str:
        return f"{self.root}/.writer.lock"
