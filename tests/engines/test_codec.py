"""Issue 13: the summary's Parquet files use a codec every reader of the tables handles
(Spark 4.3 failed on LZ4_RAW dictionary pages); the raw tables keep zstd."""

from __future__ import annotations

import pyarrow.parquet as pq

from tests.engines.conftest import write_state

EVERY_READER = {"SNAPPY", "ZSTD", "GZIP"}  # DuckDB, ClickHouse, Spark, Trino all read these


def test_every_data_file_uses_a_codec_every_reader_handles(tmp_path) -> None:
    store = write_state(str(tmp_path / "store"), "rewritten")
    snapshot = store.snapshot()
    codecs: dict[str, set[str]] = {}
    for table in ("segments", "clicks", "replays", "replays_recent", "tags"):
        for uri in snapshot.files[table]:
            meta = pq.ParquetFile(uri).metadata
            for group in range(meta.num_row_groups):
                for column in range(meta.num_columns):
                    codec = meta.row_group(group).column(column).compression
                    codecs.setdefault(table, set()).add(codec)
    assert codecs["replays"] == codecs["replays_recent"] == {"SNAPPY"}
    assert codecs["segments"] == codecs["tags"] == {"ZSTD"}
    assert set().union(*codecs.values()) <= EVERY_READER
