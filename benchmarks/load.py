"""Bulk load of a generated dataset through the store's own storage code.

First the dataset is generated into Parquet files (untimed: the generator is not the store).
Then the timed load, per chunk of replays read back from those files: raw rows appended to
the Delta tables (sorted as `Store.write` sorts them), recording blobs written, and the
chunk's `replays` summaries computed with `storage.summary.compute_summaries` over the
chunk's in-memory rows (a replay never spans chunks). The summaries are spilled to Parquet
and, once every chunk is in, written as the base tier month by month, sorted as compaction
writes them (`compact.write_sorted_month`).

    python -m benchmarks.load --size small [--out benchmarks/data]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from benchmarks import datagen
from replaystore.catalog import Catalog
from replaystore.fields import schema
from replaystore.fields.sql import DIALECT
from replaystore.progress import progress
from replaystore.storage import selector_counts
from replaystore.storage.batch import Blob, WriteBatch
from replaystore.storage.compact import write_sorted_month
from replaystore.storage.properties import SUMMARY_ROW_GROUP_ROWS
from replaystore.storage.store import SCAN_CONFIG, Store
from replaystore.storage.summary import compute_summaries
from replaystore.storage.tables import append
from replaystore.storage.write import SORT_ORDER

DATA_DIR = Path(__file__).parent / "data"
ORG = "bench"
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class LoadResult:
    size: str
    replays: int
    segments: int
    clicks: int
    links: int
    blobs: int
    seconds: float
    segment_rows_per_s: float
    all_rows_per_s: float
    bytes_on_disk: int


def dataset_dir(size: str, out: Path = DATA_DIR) -> Path:
    return out / size


def _rate(rows: int, started: float) -> str:
    elapsed = time.perf_counter() - started
    return f"loading: {rows:,} segment rows, {rows / elapsed if elapsed else 0.0:,.0f} rows/s"


def _sorted(rows: pa.Table, table: str) -> pa.Table:
    return rows.sort_by([(c, "ascending") for c in SORT_ORDER[table]])


def _spill_summaries(batch: WriteBatch, now: datetime, path: Path) -> None:
    """Compute a chunk's summaries and spill them to `path` in small newest-first row groups:
    each started_at slice of the base write then reads only its own groups."""
    pq.write_table(
        _summaries(batch, now), path, compression="snappy", row_group_size=SUMMARY_ROW_GROUP_ROWS
    )


def _summaries(batch: WriteBatch, now: datetime) -> pa.Table:
    con = duckdb.connect(config=dict(SCAN_CONFIG))
    try:
        for name, rows in batch.tables().items():
            con.register(name, rows)
        con.register("archives", schema.ARCHIVES.empty_table())
        keys = batch.segments.select(["project_id", "replay_id"]).group_by(
            ["project_id", "replay_id"]
        )
        touched = keys.aggregate([]).to_pydict()
        pairs = list(zip(touched["project_id"], touched["replay_id"], strict=True))
        return compute_summaries(con, pairs, now)
    finally:
        con.close()


def _write_base(store: Store, spill: list[Path]) -> None:
    """The base tier, one append per month, each sorted by the compaction sort key."""
    con = duckdb.connect(config=dict(SCAN_CONFIG))
    try:
        files = exp.Array(expressions=[exp.Literal.string(str(p)) for p in spill])
        source = exp.select("*").from_(exp.Table(this=exp.ReadParquet(expressions=[files])))
        months_query = exp.select("month").distinct().from_(source.subquery("s")).order_by("month")
        months = [m for (m,) in con.execute(months_query.sql(dialect=DIALECT)).fetchall()]
        for month in months:
            month_rows = (
                exp.select("*")
                .from_(source.subquery("s"))
                .where(exp.column("month").eq(exp.Literal.string(month)))
            )
            write_sorted_month(
                store.tables["replays"], store.tables["tags"], con, month_rows, month
            )
    finally:
        con.close()


def register_catalog(root: Path) -> str:
    """Projects 1..20 of org `bench` (slug pN, DSN key of 32 chars) and a token; returns it."""
    catalog = Catalog(root)
    for project in range(1, datagen.PROJECTS + 1):
        catalog.add_project(ORG, f"p{project}", project, dsn_key(project))
    token = catalog.add_token(ORG)
    (root / "bench-token.txt").write_text(token)
    return token


def dsn_key(project: int) -> str:
    return f"benchkey{project:024d}"


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


BLOBS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("segment_id", pa.int64()),
        ("data", pa.binary()),
    ]
)


def generate(size: datagen.Size, folder: Path) -> list[Path]:
    """Write every chunk of `size` as Parquet files (one folder per chunk); untimed."""
    shutil.rmtree(folder, ignore_errors=True)
    chunks = []
    total = datagen.chunk_count(size)
    with progress("generating", total=total, unit="chunks") as bar:
        for index, batch in enumerate(datagen.generate_chunks(size)):
            chunk = folder / f"chunk-{index:05d}"
            chunk.mkdir(parents=True)
            for table, rows in batch.tables().items():
                pq.write_table(rows, chunk / f"{table}.parquet", compression="zstd")
            blobs = pa.Table.from_pylist([vars(b) for b in batch.blobs], schema=BLOBS)
            pq.write_table(blobs, chunk / "blobs.parquet", compression="zstd")
            chunks.append(chunk)
            bar.advance()
    return chunks


def read_chunk(chunk: Path) -> WriteBatch:
    """A generated chunk, its raw rows already sorted as `Store.write` appends them."""
    names = ("segments", "clicks", "links")
    tables = {t: _sorted(pq.read_table(chunk / f"{t}.parquet"), t) for t in names}
    blobs = [Blob(**row) for row in pq.read_table(chunk / "blobs.parquet").to_pylist()]
    return WriteBatch(**tables, blobs=blobs)


def load(size: datagen.Size, root: Path) -> LoadResult:
    """Generate `size`, then bulk-load it into a fresh store at root (timed)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    spill_dir = root.parent / f"{root.name}-summaries"
    shutil.rmtree(spill_dir, ignore_errors=True)
    spill_dir.mkdir(parents=True)
    generated = root.parent / f"{root.name}-generated"
    chunks = generate(size, generated)
    store = Store.open(str(root))
    now = datetime.now(UTC)
    counts = {"segments": 0, "clicks": 0, "links": 0, "blobs": 0}
    spill: list[Path] = []
    started = time.perf_counter()
    # Three stages overlap (DuckDB, delta-rs and Parquet reads release the GIL): the next
    # chunk is read and this chunk's summaries computed and spilled on worker threads while
    # the raw rows are appended here.
    with (
        ThreadPoolExecutor(max_workers=2) as pool,
        progress("loading", total=len(chunks), unit="chunks") as bar,
    ):
        upcoming = pool.submit(read_chunk, chunks[0])
        spilling = None
        for index in range(len(chunks)):
            batch = upcoming.result()
            if index + 1 < len(chunks):
                upcoming = pool.submit(read_chunk, chunks[index + 1])
            if spilling is not None:
                spilling.result()
            path = spill_dir / f"chunk-{index:05d}.parquet"
            spilling = pool.submit(_spill_summaries, batch, now, path)
            spill.append(path)
            with store.lock.hold():
                for table, rows in batch.tables().items():
                    append(store.tables[table], rows)
                    counts[table] += rows.num_rows
                # a fresh store: nothing to dedupe the bodies against
                packed = store.blobs.pack(batch.blobs, [], store.now())
                append(store.tables["recordings"], packed)
                counts["blobs"] += packed.num_rows
            bar.advance()
            bar.set_description(_rate(counts["segments"], started))
        if spilling is not None:
            spilling.result()
    sys.stderr.write("  writing the sorted replays base tier...\n")
    with store.lock.hold():
        _write_base(store, spill)
        selector_counts.rebuild(store)  # the selector ranking's counts, from the loaded clicks
        store.publish()
    seconds = time.perf_counter() - started
    shutil.rmtree(spill_dir)
    shutil.rmtree(generated)
    register_catalog(root)
    all_rows = counts["segments"] + counts["clicks"] + counts["links"]
    return LoadResult(
        size=size.name,
        replays=size.replays,
        segments=counts["segments"],
        clicks=counts["clicks"],
        links=counts["links"],
        blobs=counts["blobs"],
        seconds=round(seconds, 2),
        segment_rows_per_s=round(counts["segments"] / seconds),
        all_rows_per_s=round(all_rows / seconds),
        bytes_on_disk=disk_bytes(root),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate and bulk-load a benchmark dataset.")
    parser.add_argument("--size", choices=sorted(datagen.SIZES), default="small")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    root = dataset_dir(args.size, args.out)
    result = load(datagen.SIZES[args.size], root)
    (root / "load.json").write_text(json.dumps(asdict(result), indent=2))
    print(asdict(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def relayout(root: Path) -> float:
    """Rewrite every month of the base tier with the current WriterProperties through the
    product's compaction rewrite (after a layout change); returns the seconds it took."""
    from replaystore.storage.compact import month_rows
    from replaystore.storage.snapshot import file_month

    store = Store.open(str(root))
    started = time.perf_counter()
    with store.lock.hold():
        files = {t: store.latest_files(t) for t in store.tables}
        con = store.scan_connection(files)
        months = sorted({m for f in files["replays"] if (m := file_month(f)) is not None})
        for month in months:
            write_sorted_month(
                store.tables["replays"], store.tables["tags"], con, month_rows(month), month
            )
        store.publish()
    store.compact()
    return time.perf_counter() - started
