"""Background maintenance inside the writer: the store kept as an LSM tree.

Every ingest commit adds one small file per table and month (a level-0 "part", as a
ClickHouse MergeTree insert does) and one summary file to the recent tier. A thread owned by
the writer checks the tables every `check_every` seconds and runs, in order:

1. **merge** (Delta OPTIMIZE, size-tiered): in a (table, month) with `max_small_files` files
   below `small_file_bytes`, or with two or more such files the oldest of which is
   `small_file_age` old, every file below `level1_bytes` is bin-packed into `level1_bytes`
   files; with `max_level1_files` files below the table's target size, they are bin-packed
   into target-size files. Live data files per (table, month) therefore stay below
   `max_small_files + max_level1_files` plus one per target size of data (stated in
   `file_bound`), whatever the uptime.
2. **fold** the recent tier into the sorted summary base when it holds `fold_rows` rows, or
   at a quiet moment (no ingest commit for `quiet_seconds`) once its oldest file is
   `fold_age` old. Only the base rows from the oldest `started_at` the tier touches on are
   rewritten (a continuous stream touches the last minutes, not the whole month); a month
   whose base has more than `max_base_files` files is rewritten whole.
3. **retention**: replays that started more than `retention_days` ago are removed physically
   (`storage/retention.py`).
4. **vacuum** (every `vacuum_every` seconds): files a table removed more than
   `file_retention` ago are deleted, and the Delta log past the same age is cleaned after
   each checkpoint. The rule for readers: a reader keeps a manifest for at most one query,
   and a query never lasts `file_retention`; files it reads outlive their removal by that much.

Heavy work happens outside the writer lock; the lock is taken only to publish (and, for the
fold, to cut the folded rows out of the tier), so ingest commits wait a moment at most. The
vacuum is the exception: it runs under the lock between two publishes, so it never deletes a
file or log entry of the version the manifest names. Each
run logs one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from prometheus_client import Gauge
from sqlglot import exp

from replaystore.metrics import REGISTRY
from replaystore.storage import selector_counts
from replaystore.storage.compact import (
    compact_raw,
    fold_plan,
    month_rows,
    set_file_retention,
    sweep,
    tier_rows,
    vacuum_table,
    write_sorted_month,
)
from replaystore.storage.layout import ALL_TABLES, RAW_TABLES
from replaystore.storage.properties import (
    DEFAULT_RETENTION,
    SUMMARY_WRITER_PROPERTIES,
    TARGET_FILE_BYTES,
    writer_properties,
)
from replaystore.storage.store import MAINTENANCE_RUNS, SCAN_CONFIG
from replaystore.storage.tables import COMMIT, append, retry_on_conflict
from replaystore.storage.views import register_views

if TYPE_CHECKING:
    from replaystore.storage.store import Store

log = logging.getLogger(__name__)
RUNS = MAINTENANCE_RUNS  # one counter for compact and every background task

# written by every commit: merged by size
MERGED_TABLES = (*RAW_TABLES, "replays_recent", "recordings", "selectors")
FOLDED = ("replays", "tags")  # written only by the fold

LIVE_FILES = Gauge(
    "replaystore_live_files",
    "Data files in the latest version of each table.",
    ["table"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class MaintenanceSettings:
    check_every: float = 1.0
    small_file_bytes: int = 1 << 20
    level1_bytes: int = 16 << 20
    max_small_files: int = 12
    small_file_age: float = 30.0
    max_level1_files: int = 8
    fold_rows: int = 8_000
    fold_age: float = 60.0
    quiet_seconds: float = 2.0
    max_base_files: int = 24
    selector_fold_rows: int = 20_000  # selector count deltas summed at a quiet moment
    retention_days: int | None = 90
    retention_every: float = 3600.0
    file_retention: timedelta = DEFAULT_RETENTION
    vacuum_every: float = 60.0

    def file_bound(self, data_bytes: int) -> int:
        """Most live files one (table, month) holds with `data_bytes` of data in it."""
        return self.max_small_files + self.max_level1_files + data_bytes // TARGET_FILE_BYTES


@dataclass(frozen=True)
class FileInfo:
    size: int
    modified: float  # seconds since the epoch
    rows: int


@dataclass
class RunReport:
    """What one maintenance run did (logged as one line)."""

    merged: dict[str, int] = field(default_factory=dict)  # "table/month" -> files replaced
    packs_merged: int = 0  # recording packs merged into bigger ones
    folded_rows: int = 0
    fold_months: list[str] = field(default_factory=list)
    expired: int = 0
    vacuumed: int = 0
    seconds: float = 0.0

    def did_something(self) -> bool:
        return bool(
            self.merged or self.packs_merged or self.folded_rows or self.expired or self.vacuumed
        )

    def line(self) -> str:
        merged = ",".join(f"{k}:{v}" for k, v in sorted(self.merged.items())) or "-"
        folds = ",".join(self.fold_months) or "-"
        return (
            f"maintenance: merged {merged}; {self.packs_merged} packs merged; "
            f"folded {self.folded_rows} rows ({folds}); "
            f"expired {self.expired} replays; vacuumed {self.vacuumed} files; "
            f"{self.seconds:.2f}s"
        )


class Maintenance:
    """The background maintenance thread of one writer's store."""

    def __init__(self, store: Store, settings: MaintenanceSettings | None = None) -> None:
        self.store = store
        self.settings = settings or MaintenanceSettings()
        # Its own table objects: a DeltaTable is not to be used by two threads at once, and
        # the writer's objects belong to whoever holds the lock (the fold's, while held).
        self._tables = {
            t: DeltaTable(store.layout.table_uri(t), storage_options=store.storage_options)
            for t in ALL_TABLES
        }
        self._con: duckdb.DuckDBPyConnection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_vacuum = time.monotonic()
        self._last_retention: float | None = None  # first run: at once
        self._configured = False
        self._superseded: set[str] = set()  # packs merged away, deleted by the blob vacuum

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Maintenance:
        self._thread = threading.Thread(
            target=self._loop, name="replaystore-maintenance", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the task under way (its commits are published or left unpublished,
        which the next open undoes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.check_every):
            try:
                self.run_once()
            except Exception:
                RUNS.labels("run", "failed").inc()
                log.exception("maintenance: run failed; retrying at the next check")

    # -- one run ---------------------------------------------------------------------------

    def run_once(self, *, force_vacuum: bool = False) -> RunReport:
        """Check every trigger once and run what is due."""
        started = time.perf_counter()
        report = RunReport()
        if not self._configured:
            self._configure()
        for table in MERGED_TABLES:
            report.merged.update(self._merge(table))
        report.packs_merged = self._run("packs", self._merge_packs) or 0
        self._fold(report)
        self._run("selectors", self._fold_selectors)
        now = time.monotonic()
        if self.settings.retention_days is not None and (
            self._last_retention is None
            or now - self._last_retention >= self.settings.retention_every
        ):
            self._last_retention = now
            report.expired = self._run("retention", self._expire) or 0
        if force_vacuum or now - self._last_vacuum >= self.settings.vacuum_every:
            self._last_vacuum = now
            report.vacuumed = self._run("vacuum", self._vacuum) or 0
        self._count_files()
        report.seconds = time.perf_counter() - started
        if report.did_something():
            log.info(report.line())
        return report

    def _run(self, task: str, work: Callable[[], int]) -> int | None:
        try:
            result = work()
        except CommitFailedError as error:
            # Lost a race with an ingest commit (a click replacement, a deletion): next time.
            RUNS.labels(task, "conflict").inc()
            log.info("maintenance: %s gave way to a concurrent commit: %s", task, error)
            return None
        RUNS.labels(task, "done").inc()
        return result

    def _configure(self) -> None:
        """Give every table the file and log retention of the settings (once per process)."""
        with self.store.lock.hold():
            self.store.refresh()
            for dt in self.store.tables.values():
                set_file_retention(dt, self.settings.file_retention)
            self.store.publish()
        self._configured = True

    # -- merging small files ---------------------------------------------------------------

    def files(self, table: str) -> dict[str, list[FileInfo]]:
        """The table's live files per month, from its latest version."""
        dt = self._tables[table]
        dt.update_incremental()
        return files_by_month(dt)

    def _merge(self, table: str) -> dict[str, int]:
        merged: dict[str, int] = {}
        s = self.settings
        props = writer_properties(table)
        for month, infos in self.files(table).items():
            small = [f for f in infos if f.size < s.small_file_bytes]
            oldest = min((f.modified for f in small), default=time.time())
            level0_due = len(small) >= s.max_small_files or (
                len(small) >= 2 and time.time() - oldest >= s.small_file_age
            )
            level1 = [f for f in infos if f.size < TARGET_FILE_BYTES]
            target = None
            if len(level1) >= s.max_level1_files + s.max_small_files:
                target = TARGET_FILE_BYTES
            elif level0_due:
                target = s.level1_bytes
            if target is None:
                continue
            done = self._run(
                "merge",
                lambda month=month, target=target: compact_raw(
                    self._tables[table], target=target, month=month, writer_properties=props
                ),
            )
            if done:
                merged[f"{table}/{month}"] = done
                self._publish()
        return merged

    def _merge_packs(self) -> int:
        """Merge each month folder's small recording packs when there are `max_small_files`
        of them, or two or more with the oldest `small_file_age` old."""
        s = self.settings
        now = time.time()
        merged = 0
        for packs in self.store.blobs.small_packs().values():
            candidates = [(p, t) for p, t in packs if p not in self._superseded]
            oldest = min((t for _, t in candidates), default=now)
            due = len(candidates) >= s.max_small_files or (
                len(candidates) >= 2 and now - oldest >= s.small_file_age
            )
            if not due:
                continue
            names = [p for p, _ in candidates]
            store = self.store
            # Under the lock: small packs are a few MB, and a deletion must not purge a
            # replay while its bytes are being copied into a new pack.
            with store.lock.hold():
                store.refresh(("recordings",))
                index = store.latest_files("recordings")
                moved = store.blobs.merge_packs(index, names, store.now())
                append(store.tables["recordings"], moved)
                store.publish()
            self._superseded.update(names)
            merged += len(names)
        return merged

    def _publish(self) -> None:
        with self.store.lock.hold():
            self.store.refresh()
            self.store.publish()

    # -- folding the recent tier -----------------------------------------------------------

    def _fold_due(self) -> tuple[bool, set[str]]:
        """Whether the tier should be folded now, and the base months to rewrite whole."""
        s = self.settings
        tier = [f for infos in self.files("replays_recent").values() for f in infos]
        base = self.files("replays")
        crowded = {m for m, infos in base.items() if len(infos) > s.max_base_files}
        if not tier:
            return bool(crowded), crowded
        rows = sum(f.rows for f in tier)
        age = time.time() - min(f.modified for f in tier)
        quiet = time.monotonic() - self.store.last_write >= s.quiet_seconds
        return rows >= s.fold_rows or (quiet and age >= s.fold_age) or bool(crowded), crowded

    def _fold(self, report: RunReport) -> None:
        due, whole = self._fold_due()
        if not due:
            return
        store = self.store
        with store.lock.hold():
            store.refresh()
            store.hold(FOLDED)
            files = {
                "replays": store.latest_files("replays"),
                "replays_recent": store.latest_files("replays_recent"),
            }
        try:
            con = self._connection(files)
            folded = tier_rows(con)
            watermark = _watermark(con)
            plan: dict[str, datetime | None] = dict(fold_plan(con))
            plan.update(dict.fromkeys(whole))
            for month, since in sorted(plan.items()):
                write_sorted_month(
                    store.tables["replays"],
                    store.tables["tags"],
                    con,
                    month_rows(month, since),
                    month,
                    since,
                )
            with store.lock.hold():
                if watermark is not None:
                    _cut_tier(store.tables["replays_recent"], watermark)
                store.release(FOLDED)
                store.refresh()
                store.publish()
        except BaseException:
            with store.lock.hold():
                store.release(FOLDED, failed=True)
            RUNS.labels("fold", "failed").inc()
            raise
        RUNS.labels("fold", "done").inc()
        report.folded_rows = folded
        report.fold_months = [
            m if plan[m] is None else f"{m} from {plan[m]:%d %H:%M}" for m in plan
        ]

    def _fold_selectors(self) -> int:
        """At a quiet moment, sum the selector counts' deltas once enough have piled up
        (storage/selector_counts.py; compaction folds them into the totals for good)."""
        if time.monotonic() - self.store.last_write < self.settings.quiet_seconds:
            return 0
        with self.store.lock.hold():
            self.store.refresh()
            if selector_counts.unfolded_rows(self.store) < self.settings.selector_fold_rows:
                return 0
            months = selector_counts.fold_deltas(self.store)
            self.store.publish()
        return months

    def _connection(self, files: dict[str, list[str]]) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = self.store.duckdb(SCAN_CONFIG)
        register_views(self._con, files)
        return self._con

    # -- retention and vacuum --------------------------------------------------------------

    def _expire(self) -> int:
        from replaystore.storage.retention import expire

        assert self.settings.retention_days is not None
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
        return expire(self.store, cutoff)

    def _vacuum(self) -> int:
        # Under the lock, and published on both sides: a vacuum must never delete a file or a
        # log entry of the version the manifest names, or a kill before the next publish
        # leaves a manifest that cannot be loaded (or recovery cannot restore). With the
        # manifest at the latest version, everything vacuum deletes was removed before it;
        # the log is cleaned only once the manifest names the vacuum's own last commit, and
        # the cleanup keeps every entry from the last checkpoint on.
        retention = self.settings.file_retention
        removed = 0
        store = self.store
        with store.lock.hold():
            store.refresh()
            store.publish()
            for dt in self._tables.values():
                dt.update_incremental()
                removed += vacuum_table(dt, retention)
            store.refresh()
            store.publish()
            for dt in self._tables.values():
                dt.update_incremental()
                dt.cleanup_metadata()
            index = self._tables["recordings"]
            index.update_incremental()
            removed += store.blobs.vacuum(index.file_uris(), retention)
            live = set(store.blobs.small_packs_names())
            self._superseded &= live
            removed += sweep(store, retention)
        return removed

    def _count_files(self) -> None:
        for table, dt in self._tables.items():
            dt.update_incremental()
            LIVE_FILES.labels(table).set(len(dt.file_uris()))


def files_by_month(dt: DeltaTable) -> dict[str, list[FileInfo]]:
    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return {}
    months = actions.column("partition.month").to_pylist()
    sizes = actions.column("size_bytes").to_pylist()
    modified = actions.column("modification_time").cast(pa.int64()).to_pylist()
    rows = actions.column("num_records").to_pylist()
    by_month: dict[str, list[FileInfo]] = {}
    for month, size, mtime, count in zip(months, sizes, modified, rows, strict=True):
        # modification_time is in milliseconds (a timestamp[ms] cast to int)
        by_month.setdefault(month, []).append(FileInfo(size, mtime / 1000, count or 0))
    return by_month


def _watermark(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest `updated_at` in the tier files being folded: every later tier row came
    from a later commit (the store's write times only increase)."""
    query = exp.select(exp.Max(this=exp.column("updated_at"))).from_("replays_recent")
    return con.execute(query.sql(dialect="duckdb")).fetchall()[0][0]


def _cut_tier(recent: DeltaTable, watermark: datetime) -> None:
    """Remove the folded rows from the tier (call with the writer lock held)."""
    stamp = watermark.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    predicate = exp.LTE(this=exp.column("updated_at"), expression=exp.Literal.string(stamp))
    retry_on_conflict(
        lambda: recent.delete(
            predicate.sql(),
            writer_properties=SUMMARY_WRITER_PROPERTIES,
            commit_properties=COMMIT,
        )
    )
