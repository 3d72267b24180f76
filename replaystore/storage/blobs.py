"""Recording segment bodies, packed: many segments per file, found through an index table.

Each write packs its batch's new bodies into one file, `blobs/packs/{month}/{uuid}.pack`
(the bodies back to back), and appends one row per body to the Delta table `recordings`
(`RECORDINGS`: key, pack, offset, length, written_at), committed and published with the
batch's other rows. A body is read with one ranged read of its pack, so its neighbours are
never read. Maintenance merges small packs into bigger ones (`merge_small_packs`): it writes
the merged pack and appends newer index rows for the moved bodies; a key's newest row wins,
so no index row is ever rewritten on the hot path. Deleting replays (`purge`) rewrites each
pack that holds their bytes without them, deletes the old pack at once and their index rows,
so the bytes are gone from storage for real.

Stores written before packing keep their bodies at `blobs/{project_id}/{replay_id}/{segment_id}`;
those are still read, and removed with their replay.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import fsspec
import pyarrow as pa
from sqlglot import exp

from replaystore.storage.batch import Blob
from replaystore.storage.layout import RECORDINGS, Layout, is_blob_key
from replaystore.storage.properties import partition_month
from replaystore.storage.views import scan

TEMP_MARK = ".tmp-"
PACKS = "packs"
KEY3 = ("project_id", "replay_id", "segment_id")

# A pack below this size is merged with others by maintenance; merged packs go up to MAX.
SMALL_PACK_BYTES = 4 << 20
MAX_PACK_BYTES = 64 << 20
LOCATION_CACHE = 512  # replays whose locations a reader keeps, per snapshot


@dataclass(frozen=True)
class Purge:
    moved: pa.Table  # index rows of the bodies rewritten into new packs
    packs: list[str]  # the packs to delete once those rows are published
    removed: int  # bodies of the purged replays found in them


@dataclass(frozen=True)
class Location:
    pack: str
    offset: int
    length: int


def _quoted(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def newest_locations(source: exp.Expression, where: exp.Expression | None = None) -> exp.Select:
    """Each key's newest index row (a merged pack supersedes the packs it was made of)."""
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[_quoted(k) for k in KEY3],
        order=exp.Order(expressions=[exp.Ordered(this=_quoted("written_at"), desc=True)]),
    )
    inner = exp.select(exp.Star()).from_(source)
    if where is not None:
        inner = inner.where(where)
    return (
        exp.select(*(_quoted(c) for c in RECORDINGS.names))
        .from_(inner.subquery("i"))
        .qualify(exp.EQ(this=rank, expression=exp.Literal.number(1)))
    )


def _in_replays(keys: Iterable[tuple[int, str]]) -> exp.Expression:
    ids = sorted({r for _, r in keys})
    return exp.In(this=_quoted("replay_id"), expressions=[exp.Literal.string(i) for i in ids])


def _index_source(files: list[str]) -> exp.Expression:
    return scan(files, RECORDINGS).subquery("idx")


class BlobStore:
    def __init__(
        self,
        layout: Layout,
        attach: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        self._layout = layout
        self._fs: fsspec.AbstractFileSystem = layout.fs
        # Lets the index scans read remote files (StorageConfig.attach).
        self._attach = attach or (lambda con: con)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cache: OrderedDict[tuple, dict[int, Location]] = OrderedDict()
        self._legacy: bool | None = None

    # -- paths -----------------------------------------------------------------------------

    @property
    def pack_root(self) -> str:
        return f"{self._layout.root}/blobs/{PACKS}"

    def pack_path(self, pack: str) -> str:
        return f"{self.pack_root}/{pack}"

    def _query(self, query: exp.Expression) -> list[tuple]:
        with self._lock:
            if self._con is None:
                self._con = self._attach(
                    duckdb.connect(config={"threads": 1, "memory_limit": "256MB"})
                )
            return self._con.execute(query.sql(dialect="duckdb")).fetchall()

    # -- writing ---------------------------------------------------------------------------

    def pack(self, blobs: list[Blob], index_files: list[str], when: datetime) -> pa.Table:
        """Write the bodies whose key is not stored yet (the first one wins) into one new
        pack; returns their index rows, for the caller to append in its commit."""
        stored = self.stored_keys({(b.project_id, b.replay_id) for b in blobs}, index_files)
        fresh: dict[tuple[int, str, int], Blob] = {}
        for blob in blobs:
            key = (blob.project_id, blob.replay_id, blob.segment_id)
            if key not in stored and key not in fresh and not self._legacy_exists(blob):
                fresh[key] = blob
        if not fresh:
            return RECORDINGS.empty_table()
        month = partition_month(when)
        return self._write_pack(month, list(fresh.values()), when)

    def _write_pack(self, month: str, blobs: list[Blob], when: datetime) -> pa.Table:
        name = f"month={month}/{uuid.uuid4().hex}.pack"
        offsets, position = [], 0
        for blob in blobs:
            offsets.append(position)
            position += len(blob.data)
        self._put(self.pack_path(name), b"".join(b.data for b in blobs))
        return pa.table(
            {
                "project_id": [b.project_id for b in blobs],
                "replay_id": [b.replay_id for b in blobs],
                "segment_id": [b.segment_id for b in blobs],
                "pack": [name] * len(blobs),
                "offset": offsets,
                "length": [len(b.data) for b in blobs],
                "written_at": [when] * len(blobs),
                "month": [month] * len(blobs),
            },
            schema=RECORDINGS,
        )

    def _put(self, path: str, data: bytes) -> None:
        # A sibling temp file moved into place: a crash never leaves a truncated pack that
        # an index row could point at (the index row is committed after the pack exists).
        if not self._layout.is_local:
            self._fs.pipe_file(path, data)  # one PUT: atomic on an object store
            return
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}{TEMP_MARK}{uuid.uuid4().hex}"
        self._fs.pipe_file(tmp, data)
        self._fs.mv(tmp, path)

    def stored_keys(
        self, replays: set[tuple[int, str]], index_files: list[str]
    ) -> set[tuple[int, str, int]]:
        if not replays or not index_files:
            return set()
        query = exp.select(*(_quoted(k) for k in KEY3)).from_(_index_source(index_files))
        rows = self._query(query.where(_in_replays(replays)))
        wanted = set(replays)
        return {(int(p), str(r), int(s)) for p, r, s in rows if (int(p), str(r)) in wanted}

    def _legacy_path(self, project_id: int, replay_id: str, segment_id: int) -> str:
        return self._layout.blob_path(project_id, replay_id, segment_id)

    def _legacy_exists(self, blob: Blob) -> bool:
        if not self._has_legacy():
            return False
        return self._fs.exists(self._legacy_path(blob.project_id, blob.replay_id, blob.segment_id))

    def _has_legacy(self) -> bool:
        """Whether the store holds unpacked bodies of an older replaystore (checked once:
        nothing writes them any more)."""
        if self._legacy is None:
            root = f"{self._layout.root}/blobs"
            names = self._fs.ls(root, detail=False) if self._fs.exists(root) else []
            self._legacy = any(not p.rstrip("/").endswith(f"/{PACKS}") for p in names)
        return self._legacy

    # -- reading ---------------------------------------------------------------------------

    def read(
        self, project_id: int, replay_id: str, segment_id: int, index: tuple[int, list[str]]
    ) -> bytes | None:
        """One body by key, `index` being (snapshot seq, the recordings files) to look in."""
        if not is_blob_key(project_id, replay_id, segment_id):
            return None  # no such key can have been stored
        location = self._locations(project_id, replay_id, index).get(segment_id)
        if location is not None:
            start = location.offset
            try:
                return self._fs.cat_file(
                    self.pack_path(location.pack), start=start, end=start + location.length
                )
            except FileNotFoundError:
                # Merged or purged since this snapshot: the caller retries on a newer one.
                self._cache.pop((index[0], project_id, replay_id), None)
                raise
        try:
            return self._fs.cat_file(self._legacy_path(project_id, replay_id, segment_id))
        except FileNotFoundError:
            return None

    def _locations(
        self, project_id: int, replay_id: str, index: tuple[int, list[str]]
    ) -> dict[int, Location]:
        seq, files = index
        key = (seq, project_id, replay_id)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        if not files:
            return {}
        where = exp.and_(
            exp.EQ(this=_quoted("replay_id"), expression=exp.Literal.string(replay_id)),
            exp.EQ(this=_quoted("project_id"), expression=exp.convert(project_id)),
        )
        rows = self._query(newest_locations(_index_source(files), where))
        names = RECORDINGS.names
        found = {}
        for row in rows:
            values = dict(zip(names, row, strict=True))
            found[int(values["segment_id"])] = Location(
                values["pack"], int(values["offset"]), int(values["length"])
            )
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > LOCATION_CACHE:
                self._cache.popitem(last=False)
        return found

    # -- maintenance: merging and purging --------------------------------------------------

    def live(self, index_files: list[str]) -> pa.Table:
        """Every key's newest index row."""
        if not index_files:
            return RECORDINGS.empty_table()
        query = newest_locations(_index_source(index_files))
        with self._lock:
            if self._con is None:
                self._con = self._attach(
                    duckdb.connect(config={"threads": 1, "memory_limit": "256MB"})
                )
            table = self._con.sql(query.sql(dialect="duckdb")).to_arrow_table()
        return table.cast(RECORDINGS)

    def small_packs(self) -> dict[str, list[tuple[str, float]]]:
        """Per month folder, the packs below SMALL_PACK_BYTES on storage and their times."""
        found: dict[str, list[tuple[str, float]]] = {}
        if not self._fs.exists(self.pack_root):
            return found
        for info in self._fs.find(self.pack_root, detail=True).values():
            name = info["name"].split(f"/{PACKS}/", 1)[-1]
            if TEMP_MARK in name or info.get("size", 0) >= SMALL_PACK_BYTES:
                continue
            found.setdefault(name.split("/", 1)[0], []).append((name, _mtime(info)))
        return found

    def small_packs_names(self) -> list[str]:
        return [name for packs in self.small_packs().values() for name, _ in packs]

    def merge_packs(self, index_files: list[str], packs: list[str], when: datetime) -> pa.Table:
        """Copy the bodies these packs hold (their keys' newest rows) into new packs, sorted
        by key; returns the new index rows, newer than the old ones (call with the writer
        lock held and append them in one commit)."""
        if not packs or not index_files:
            return RECORDINGS.empty_table()
        names = exp.In(this=_quoted("pack"), expressions=[exp.Literal.string(p) for p in packs])
        rows = self._query(newest_locations(_index_source(index_files), names))
        found = [dict(zip(RECORDINGS.names, r, strict=True)) for r in rows]
        found.sort(key=lambda r: (r["project_id"], r["replay_id"], r["segment_id"]))
        moved = [
            self._write_pack(partition_month(when), [Blob(*self._body_of(r)) for r in chunk], when)
            for chunk in _chunks_by_size(found, MAX_PACK_BYTES)
        ]
        return pa.concat_tables(moved) if moved else RECORDINGS.empty_table()

    def _body_of(self, row: dict) -> tuple[int, str, int, bytes]:
        start = row["offset"]
        data = self._fs.cat_file(
            self.pack_path(row["pack"]), start=start, end=start + row["length"]
        )
        return row["project_id"], row["replay_id"], row["segment_id"], data

    def rewrite_without(
        self, replays: set[tuple[int, str]], index_files: list[str], when: datetime
    ) -> Purge:
        """New packs holding everything but these replays' bytes of each pack that holds
        some (index rows in `Purge.moved`); the caller commits those rows, deletes the
        replays' index rows, publishes, and only then calls `remove_packs(Purge.packs)`."""
        if not replays or not index_files:
            return Purge(RECORDINGS.empty_table(), [], 0)
        query = exp.select(_quoted("pack")).distinct().from_(_index_source(index_files))
        touched = sorted({p for (p,) in self._query(query.where(_in_replays(replays)))})
        live = [r for r in self.live(index_files).to_pylist() if r["pack"] in set(touched)]
        keep = [r for r in live if (r["project_id"], r["replay_id"]) not in replays]
        moved: list[pa.Table] = []
        for chunk in _chunks_by_size(keep, MAX_PACK_BYTES):
            blobs = [Blob(*self._body_of(r)) for r in chunk]
            moved.append(self._write_pack(partition_month(when), blobs, when))
        rows = pa.concat_tables(moved) if moved else RECORDINGS.empty_table()
        return Purge(rows, touched, len(live) - len(keep))

    def remove_packs(self, packs: Iterable[str]) -> None:
        for pack in packs:
            if self._fs.exists(self.pack_path(pack)):
                self._fs.rm_file(self.pack_path(pack))
        with self._lock:
            self._cache.clear()

    def purge_legacy(self, replays: set[tuple[int, str]]) -> int:
        """Remove the unpacked bodies of these replays (stores of an older replaystore)."""
        return self._purge_legacy(replays)

    def _purge_legacy(self, replays: set[tuple[int, str]]) -> int:
        if not self._has_legacy():
            return 0
        return sum(self.delete_replay(p, r) for p, r in replays)

    def delete_replay(self, project_id: int, replay_id: str) -> int:
        """Remove a replay's legacy (unpacked) blob files; returns how many were removed."""
        if not is_blob_key(project_id, replay_id):
            return 0
        directory = self._layout.replay_blob_dir(project_id, replay_id)
        if not self._fs.exists(directory):
            return 0
        files = self._fs.find(directory)
        self._fs.rm(directory, recursive=True)
        return len(files)

    def vacuum(self, index_files: list[str], retention: timedelta) -> int:
        """Delete packs no newest index row names (merged away, or left by a killed write)
        once they are older than `retention`; returns how many were deleted."""
        if not self._fs.exists(self.pack_root):
            return 0
        wanted = {r for r in self.live(index_files).column("pack").to_pylist()}
        cutoff = time.time() - retention.total_seconds()
        removed = 0
        for info in self._fs.find(self.pack_root, detail=True).values():
            path = info["name"]
            name = path.split(f"/{PACKS}/", 1)[-1]
            if name in wanted or TEMP_MARK in name:
                continue
            if _mtime(info) <= cutoff:
                self._fs.rm_file(path)
                removed += 1
        return removed

    def temp_files(self) -> list[str]:
        """Leftover temp files of interrupted blob writes."""
        root = f"{self._layout.root}/blobs"
        if not self._fs.exists(root):
            return []
        return [p for p in self._fs.find(root) if TEMP_MARK in p.rsplit("/", 1)[-1]]


def _mtime(info: dict) -> float:
    """A listed file's modification time in seconds (local `mtime` or S3 `LastModified`)."""
    modified = info.get("mtime") or info.get("LastModified")
    if isinstance(modified, datetime):
        return modified.timestamp()
    return float(modified) if modified is not None else time.time()


def _chunks_by_size(rows: list[dict], limit: int) -> list[list[dict]]:
    chunks: list[list[dict]] = []
    size = limit
    for row in rows:
        if size + row["length"] > limit and (not chunks or chunks[-1]):
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += row["length"]
    return [c for c in chunks if c]
