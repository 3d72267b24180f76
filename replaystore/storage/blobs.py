"""Recording segment bodies through fsspec, at `blobs/{project_id}/{replay_id}/{segment_id}`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import fsspec

from replaystore.storage.batch import Blob
from replaystore.storage.layout import Layout, is_blob_key

TEMP_MARK = ".tmp-"


class BlobStore:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._fs: fsspec.AbstractFileSystem = layout.fs

    def put_all(self, blobs: Iterable[Blob]) -> int:
        """Store each blob unless one is already stored under its key (the first one wins);
        returns how many were written."""
        written = 0
        for blob in blobs:
            if self._put(blob):
                written += 1
        return written

    def _put(self, blob: Blob) -> bool:
        path = self._layout.blob_path(blob.project_id, blob.replay_id, blob.segment_id)
        if self._fs.exists(path):
            return False
        # Write a sibling temp file and move it into place: a crash never leaves a truncated
        # blob at the final path, where "first one wins" would keep it forever.
        tmp = f"{path}{TEMP_MARK}{uuid.uuid4().hex}"
        self._fs.makedirs(
            self._layout.replay_blob_dir(blob.project_id, blob.replay_id), exist_ok=True
        )
        self._fs.pipe_file(tmp, blob.data)
        self._fs.mv(tmp, path)
        return True

    def read(self, project_id: int, replay_id: str, segment_id: int) -> bytes | None:
        if not is_blob_key(project_id, replay_id, segment_id):
            return None  # no such key can have been stored
        path = self._layout.blob_path(project_id, replay_id, segment_id)
        try:
            return self._fs.cat_file(path)
        except FileNotFoundError:
            return None

    def delete_replay(self, project_id: int, replay_id: str) -> int:
        """Remove every blob of a replay; returns how many files were removed."""
        if not is_blob_key(project_id, replay_id):
            return 0
        directory = self._layout.replay_blob_dir(project_id, replay_id)
        if not self._fs.exists(directory):
            return 0
        files = self._fs.find(directory)
        self._fs.rm(directory, recursive=True)
        return len(files)

    def temp_files(self) -> list[str]:
        """Leftover temp files of interrupted blob writes."""
        root = f"{self._layout.root}/blobs"
        if not self._fs.exists(root):
            return []
        return [p for p in self._fs.find(root) if TEMP_MARK in p.rsplit("/", 1)[-1]]
