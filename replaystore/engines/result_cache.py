"""Answers of read queries kept per published snapshot, so a repeated query is not run again.

Every view a query reads is pinned to one published manifest (`Snapshot.seq`), and data files
are immutable, so the rows a SELECT returns are a function of (snapshot seq, SQL text,
parameters) alone: the compiled SQL carries its window as literals and the product compiles
no `now()`. A commit (an ingest batch, a delete, a compaction) publishes a new seq, so every
answer cached before it stops matching the moment a reader's snapshot moves: deleted replays
disappear from cached pages as soon as the new snapshot is seen (the writer's own process at
once; a read-only server within its manifest poll), with no invalidation code to get wrong.

Bounded two ways, since the server must stay under 1 GB (issue 12 soak): at most MAX_ENTRIES
answers and MAX_BYTES of their (estimated) size, least recently used first out; answers of
more than MAX_ROWS rows are not kept. Entries of older seqs are dropped when a newer seq is
first seen, so under steady ingest the cache holds only the current snapshot's answers.
`REPLAYSTORE_RESULT_CACHE=0` turns it off (the benchmark measures both).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

ENV = "REPLAYSTORE_RESULT_CACHE"
MAX_ENTRIES = 512
MAX_BYTES = 64 << 20
MAX_ROWS = 1_001

Key = tuple[int, str, Any]
Rows = list[dict[str, Any]]


def enabled_by_default() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "off", "no")


def _size(rows: Rows) -> int:
    """A rough byte size: strings and bytes by length, everything else as 16 bytes."""
    total = 64
    for row in rows:
        total += 64
        for value in row.values():
            total += len(value) if isinstance(value, str | bytes) else 16
    return total


def _copy(rows: Rows) -> Rows:
    # Callers may add keys to rows they get back; the cached rows stay as they were fetched.
    return [dict(row) for row in rows]


class ResultCache:
    """(seq, sql, params) -> rows, LRU within MAX_ENTRIES and MAX_BYTES."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._seq = -1
        self._entries: OrderedDict[Key, tuple[int, Rows]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Rows | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return _copy(found[1])

    def put(self, key: Key, rows: Rows) -> None:
        if len(rows) > MAX_ROWS:
            return
        size = _size(rows)
        if size > self.max_bytes:
            return
        with self._lock:
            seq = key[0]
            if seq < self._seq:
                return  # a slow query of an older snapshot: nobody asks for it again
            if seq > self._seq:
                self._entries.clear()
                self.used = 0
                self._seq = seq
            old = self._entries.pop(key, None)
            if old is not None:
                self.used -= old[0]
            self._entries[key] = (size, _copy(rows))
            self.used += size
            while self._entries and (
                len(self._entries) > self.max_entries or self.used > self.max_bytes
            ):
                _, (dropped, _) = self._entries.popitem(last=False)
                self.used -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.used = 0


def params_key(params: Any) -> Any:
    """A hashable form of query parameters (None, a sequence or a dict of plain values)."""
    if params is None:
        return None
    if isinstance(params, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in params.items()))
    return tuple(_hashable(v) for v in params)


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
