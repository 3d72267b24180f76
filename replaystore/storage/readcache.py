"""A process-wide block cache for the immutable files of a store on object storage.

A Delta data file is never changed once written (every write, merge or compaction makes a new
file with a new name), so the bytes DuckDB reads from one (its footer, its column chunks) can
be kept across queries and connections. s3fs alone keeps blocks only for one open file, and
DuckDB opens every file again on every query: the small benchmark's list query fetched ~20 MB
and made ~30 requests per query (benchmarks/results/matrix-small.md). `CachedS3FileSystem`
keeps the sizes of those files and an LRU of their blocks, bounded by READ_CACHE_BYTES
(`REPLAYSTORE_READ_CACHE_MB`), in memory. Everything else (the manifest, the catalog, the
lease, Delta logs, recording packs) is read from storage every time.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import s3fs
from fsspec.caching import BaseCache

READ_CACHE_ENV = "REPLAYSTORE_READ_CACHE_MB"
READ_CACHE_BYTES = 512 << 20
BLOCK = 1 << 20  # one cached block; a request reads whole blocks


def cache_budget() -> int:
    text = os.environ.get(READ_CACHE_ENV)
    return int(float(text) * (1 << 20)) if text else READ_CACHE_BYTES


def immutable(path: str) -> bool:
    """A Delta data file: `.../tables/<table>/.../<name>.parquet`, never rewritten."""
    return path.endswith(".parquet") and "/tables/" in path and "/_delta_log/" not in path


class BlockLru:
    """(path, block number) -> bytes, least recently used first out, within a byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._blocks: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> bytes | None:
        with self._lock:
            block = self._blocks.get(key)
            if block is not None:
                self._blocks.move_to_end(key)
            return block

    def put(self, key: tuple[str, int], block: bytes) -> None:
        if len(block) > self.budget:
            return
        with self._lock:
            old = self._blocks.pop(key, None)
            if old is not None:
                self.used -= len(old)
            self._blocks[key] = block
            self.used += len(block)
            while self.used > self.budget:
                _, evicted = self._blocks.popitem(last=False)
                self.used -= len(evicted)


class SharedBlocks(BaseCache):
    """An fsspec cache of one open file that reads and fills the shared BlockLru."""

    name = "replaystore-shared"

    def __init__(self, path: str, lru: BlockLru, fetcher, size: int) -> None:
        super().__init__(BLOCK, fetcher, size)
        self.path = path
        self.lru = lru

    def _fetch(self, start: int | None, stop: int | None) -> bytes:
        start = 0 if start is None else start
        stop = self.size if stop is None else min(stop, self.size)
        if start >= stop:
            return b""
        first, last = start // BLOCK, (stop - 1) // BLOCK
        blocks = [self._block(n) for n in range(first, last + 1)]
        data = b"".join(blocks)
        offset = first * BLOCK
        return data[start - offset : stop - offset]

    def _block(self, number: int) -> bytes:
        key = (self.path, number)
        block = self.lru.get(key)
        if block is None:
            self.miss_count += 1
            start = number * BLOCK
            block = self.fetcher(start, min(start + BLOCK, self.size))
            self.lru.put(key, block)
        else:
            self.hit_count += 1
        return block


class CachedS3FileSystem(s3fs.S3FileSystem):
    """s3fs whose immutable data files are read through one shared block cache."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read_cache = BlockLru(cache_budget())
        self._sizes: dict[str, dict] = {}
        self._sizes_lock = threading.Lock()

    async def _info(self, path, *args, **kwargs):
        key = self._strip_protocol(path)
        if immutable(key):
            with self._sizes_lock:
                known = self._sizes.get(key)
            if known is not None:
                return dict(known)
        found = await super()._info(path, *args, **kwargs)
        if immutable(key) and found.get("type") == "file":
            with self._sizes_lock:
                self._sizes[key] = dict(found)
        return found

    def _open(self, path, mode="rb", block_size=None, cache_type=None, **kwargs):
        opened = super()._open(path, mode, block_size, cache_type, **kwargs)
        if mode == "rb" and immutable(self._strip_protocol(path)):
            opened.cache = SharedBlocks(
                self._strip_protocol(path), self.read_cache, opened._fetch_range, opened.size
            )
        return opened
