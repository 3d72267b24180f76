"""The block cache of immutable data files on object storage: exact bytes at any range,
bounded memory, only Delta data files cached, and a warm query served from the cache."""

from __future__ import annotations

import os

from replaystore.storage.objectstore import StorageConfig
from replaystore.storage.readcache import BLOCK, BlockLru, CachedS3FileSystem, immutable
from replaystore.storage.store import Store
from tests.conftest import fixture_batch


def test_only_delta_data_files_are_cached() -> None:
    assert immutable("replays/s/tables/replays/month=2026-11/part-0001.parquet")
    for path in ("replays/s/manifest.json", "replays/s/catalog.json",
                 "replays/s/tables/replays/_delta_log/00000000000000000001.json",
                 "replays/s/tables/replays/_delta_log/00000000000000000010.checkpoint.parquet",
                 "replays/s/blobs/packs/month=2026-11/abc.pack"):  # fmt: skip
        assert not immutable(path), path


def test_the_lru_stays_within_its_budget() -> None:
    lru = BlockLru(3 * 10)
    for n in range(5):
        lru.put(("f", n), bytes(10))
    assert lru.used == 30
    assert lru.get(("f", 0)) is None and lru.get(("f", 4)) == bytes(10)


def test_ranges_across_blocks_are_exact(s3_url: str) -> None:
    fs = StorageConfig.for_root(s3_url).fs
    assert isinstance(fs, CachedS3FileSystem)
    data = os.urandom(2 * BLOCK + 12345)
    path = f"{s3_url}/tables/t/month=2026-11/part-1.parquet"
    fs.pipe_file(path, data)
    for start, stop in (
        (0, 10),
        (BLOCK - 5, BLOCK + 5),
        (BLOCK, 2 * BLOCK + 12345),
        (7, 2 * BLOCK + 100),
    ):
        with fs.open(path, "rb") as f:
            f.seek(start)
            assert f.read(stop - start) == data[start:stop]
    with fs.open(path, "rb") as f:  # all three blocks are cached now: no request needed
        f.seek(BLOCK - 5)
        assert f.read(10) == data[BLOCK - 5 : BLOCK + 5]
        assert (f.cache.hit_count, f.cache.miss_count) == (2, 0)


def test_a_warm_query_reads_its_data_files_from_the_cache(s3_url: str) -> None:
    Store.open(s3_url).write(fixture_batch())
    reader = Store.open(s3_url, read_only=True)
    cache = reader.config.fs.read_cache
    con = reader.connect()
    query = "SELECT count(*), max(started_at) FROM replays"
    first = con.execute(query).fetchall()
    used = cache.used
    assert used > 0
    assert con.execute(query).fetchall() == first
    assert cache.used == used  # nothing new fetched
