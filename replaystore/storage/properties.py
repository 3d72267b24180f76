"""Delta table settings shared by every write path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import BloomFilterProperties, ColumnProperties, WriterProperties

from replaystore.fields.schema import SUMMARY_STATS_COLUMNS
from replaystore.storage.layout import SUMMARY_TABLES

ROW_GROUP_ROWS = 122_880
TARGET_FILE_BYTES = 128 * 1024 * 1024
PARTITION_BY = ["month"]


MONTH_FORMAT = "%Y-%m"


def partition_month(moment: datetime) -> str:
    """The `month` partition key of a moment: its UTC `YYYY-MM` (a naive moment is UTC)."""
    return in_utc(moment).strftime(MONTH_FORMAT)


def partition_months(moments: pa.Array | pa.ChunkedArray) -> set[str]:
    """`partition_month` of every non-null timestamp, vectorised (a UTC-aware column formats in
    UTC; a naive one is UTC, as above)."""
    values = pc.drop_null(moments)
    if len(values) == 0:
        return set()
    return set(pc.unique(pc.strftime(values, format=MONTH_FORMAT)).to_pylist())


def in_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Vacuum keeps files removed less than this long ago (and the Delta log that old), and the
# sweeper keeps temp files that young: longer than any query or write runs. A reader holds a
# manifest's file list for one query; a read-only server re-reads the manifest every few
# seconds. `serve --file-retention-minutes` sets it.
DEFAULT_RETENTION = timedelta(minutes=10)

# One WriterProperties for write_deltalake, merge, delete and optimize: leaving it out loses
# the bloom filter and the row-group size on the files those operations rewrite.
# zstd level 1: raw rows are written on every ingest, and level 3 cost ~20% more encoding
# time (medium, 500k segment rows: 1.99 -> 1.66 s) for slightly smaller files.
WRITER_PROPERTIES = WriterProperties(
    compression="ZSTD",
    compression_level=1,
    max_row_group_size=ROW_GROUP_ROWS,
    column_properties={
        "replay_id": ColumnProperties(
            bloom_filter_properties=BloomFilterProperties(True, fpp=0.01, ndv=ROW_GROUP_ROWS)
        )
    },
)

# The `replays` summary (base and recent tier) is laid out for reading. Its row groups are
# small: the list endpoint's top-N fetches its page by row number (late materialization),
# decoding a 2,048-row vector of each fetched column, and min/max stats on started_at skip
# more. A fast codec instead of zstd, pages of 128 KiB and no dictionary for the always-distinct
# `payload` make that fetch cheaper (medium, interleaved runs: browse SQL 13.0 -> 10.2 ms, a
# fetch by id 9.1 -> 6.5 ms) for ~1.6x the summary's bytes; the raw tables stay zstd.
# Snappy, not LZ4_RAW: every reader of the tables handles it (Spark 4.3 failed on LZ4_RAW
# dictionary pages, issue 13), at the same read cost (benchmarks/results/codecs-small.md:
# browse_7d p50 12.9 ms LZ4_RAW, 10.2 ms Snappy, 13.4 ms zstd; 79.7 / 77.6 / 48.7 MB).
SUMMARY_ROW_GROUP_ROWS = 8_192
SUMMARY_WRITER_PROPERTIES = WriterProperties(
    compression="SNAPPY",
    max_row_group_size=SUMMARY_ROW_GROUP_ROWS,
    data_page_size_limit=128 * 1024,
    column_properties={
        "replay_id": ColumnProperties(
            bloom_filter_properties=BloomFilterProperties(
                True, fpp=0.01, ndv=SUMMARY_ROW_GROUP_ROWS
            )
        ),
        "payload": ColumnProperties(dictionary_enabled=False),
    },
)


def writer_properties(table: str) -> WriterProperties:
    """The WriterProperties of every write to `table`."""
    return SUMMARY_WRITER_PROPERTIES if table in SUMMARY_TABLES else WRITER_PROPERTIES


# Only these columns get min/max stats in the Delta log, so ids and personal data never enter
# `_delta_log`; random ids gain nothing from stats, the bloom filter
# prunes them instead.
STATS_COLUMNS: dict[str, tuple[str, ...]] = {
    "segments": ("project_id", "timestamp", "segment_id"),
    "clicks": ("project_id", "timestamp"),
    "links": ("project_id", "timestamp"),
    "archives": ("project_id", "timestamp"),
    "viewers": ("project_id", "timestamp"),
    "replays": SUMMARY_STATS_COLUMNS,
    "replays_recent": SUMMARY_STATS_COLUMNS,
    "tags": ("project_id", "started_at"),
    "recordings": ("project_id", "written_at"),
    "selectors": ("project_id", "day", "flagged"),
}


# A commit that writes a checkpoint would otherwise delete the log entries before it that are
# older than the log retention, the entries of the version the published manifest names
# included (a store idle for longer than the retention, or a retention of 0): the manifest
# could then not be loaded, nor recovery restore it. Only the vacuum cleans the log, once it
# has published (storage/maintenance.py).
LOG_CLEANUP_OFF = {"delta.enableExpiredLogCleanup": "false"}


def table_configuration(table: str) -> dict[str, str | None]:
    """The Delta table properties a table is created with."""
    return {
        "delta.dataSkippingStatsColumns": ",".join(STATS_COLUMNS[table]),
        "delta.targetFileSize": str(TARGET_FILE_BYTES),
        **LOG_CLEANUP_OFF,
    }
