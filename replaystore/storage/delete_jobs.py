"""Bulk deletion jobs: a durable job table and the runner that works them.

The table `delete_jobs` is its own append-only Delta table (not in the manifest: a job row
is one atomic commit, and readers always want the newest state): every state change of a
job appends its whole row with a higher `seq`; the newest row per `id` is the job.

A run pages through the matching replays 100 at a time, oldest first (first matching
segment, then replay id), and deletes each one with `Store.delete_replay`, exactly as the
`DELETE` route does. Before a page it appends a checkpoint naming the page (`pending`) and
the position before it (`cursor_*`); after a restart, the pending replays that were archived
since that checkpoint are counted and the run goes on from the cursor. Deleted replays lose
their segment rows, so they never match again; already archived replays are never matched
(SPEC: `countDeleted` counts replays the job deleted).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError
from sqlglot import exp

from replaystore.fields.schema import STR_LIST, TS
from replaystore.fields.sql import DIALECT
from replaystore.search import compile_replay_search
from replaystore.storage.properties import WRITER_PROPERTIES, partition_month
from replaystore.storage.store import MAINTENANCE_RUNS
from replaystore.storage.tables import COMMIT

if TYPE_CHECKING:
    from replaystore.storage.store import Store

log = logging.getLogger(__name__)

TABLE = "delete_jobs"
PAGE = 100  # replays per checkpoint (Sentry's page)
POLL_SECONDS = 2.0  # how often the runner looks for jobs another process created
COMPACT_FILES = 64  # the job table is compacted after a job once it has this many files
PENDING, IN_PROGRESS, COMPLETED, FAILED = "pending", "in-progress", "completed", "failed"
ACTIVE = (PENDING, IN_PROGRESS)

JOBS = pa.schema(
    [
        ("id", pa.int64()),
        ("seq", pa.int64()),  # the newest row of a job wins
        ("organization", pa.string()),
        ("project_id", pa.int64()),
        ("range_start", TS),
        ("range_end", TS),
        ("environments", STR_LIST),
        ("query", pa.string()),
        ("user_id", pa.int64()),  # the creator: what `viewed_by_me` means in the query
        ("status", pa.string()),
        ("count_deleted", pa.int64()),
        ("cursor_time", TS),  # the last fully processed position (null: from the start)
        ("cursor_replay", pa.string()),
        ("pending", STR_LIST),  # the page being deleted since `date_updated`
        ("date_created", TS),
        ("date_updated", TS),
    ]
)


@dataclass(frozen=True)
class Job:
    id: int
    organization: str
    project_id: int
    range_start: datetime
    range_end: datetime
    environments: tuple[str, ...]
    query: str
    user_id: int | None = None
    status: str = PENDING
    count_deleted: int = 0
    cursor_time: datetime | None = None
    cursor_replay: str | None = None
    pending: tuple[str, ...] = ()
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))
    date_updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    seq: int = 0


# ---- the table


def _uri(store: Store) -> str:
    return store.layout.table_uri(TABLE)


def _table(store: Store) -> DeltaTable | None:
    try:
        return DeltaTable(_uri(store), storage_options=store.storage_options)
    except TableNotFoundError:
        return None


def all_jobs(store: Store) -> list[Job]:
    """Every job in its newest state, newest job first."""
    dt = _table(store)
    if dt is None:
        return []
    newest: dict[int, dict[str, Any]] = {}
    for row in dt.to_pyarrow_table().to_pylist():
        kept = newest.get(row["id"])
        if kept is None or row["seq"] > kept["seq"]:
            newest[row["id"]] = row
    jobs = [_job(row) for row in newest.values()]
    return sorted(jobs, key=lambda j: j.id, reverse=True)


def get_job(store: Store, job_id: int) -> Job | None:
    return next((j for j in all_jobs(store) if j.id == job_id), None)


def _job(row: dict[str, Any]) -> Job:
    row = dict(row)
    row["environments"] = tuple(row["environments"] or ())
    row["pending"] = tuple(row["pending"] or ())
    return Job(**row)


def _save(store: Store, job: Job) -> Job:
    """Append the job's new state (call with the writer lock held)."""
    rows = pa.Table.from_pylist([_row(job)], schema=JOBS)
    dt = _table(store)
    write_deltalake(
        dt if dt is not None else _uri(store),
        rows,
        mode="append",
        writer_properties=WRITER_PROPERTIES,
        commit_properties=COMMIT,
        storage_options=None if dt is not None else store.storage_options,
    )
    return job


def _row(job: Job) -> dict[str, Any]:
    row = asdict(job)
    row["environments"] = list(job.environments)
    row["pending"] = list(job.pending)
    return row


def _update(store: Store, job: Job, **changes: Any) -> Job:
    return _save(store, replace(job, seq=job.seq + 1, date_updated=store.now(), **changes))


def create_job(
    store: Store,
    *,
    organization: str,
    project_id: int,
    range_start: datetime,
    range_end: datetime,
    environments: tuple[str, ...] = (),
    query: str = "",
    user_id: int | None = None,
) -> Job:
    """Validate the query, store a new `pending` job and return it (the writer lock is taken,
    so a read-only store refuses: ReadOnly)."""
    compile_replay_search(
        query, viewer=user_id
    )  # a bad search is a 400 now, not a failed job later
    with store.lock.hold():
        next_id = max((j.id for j in all_jobs(store)), default=0) + 1
        now = store.now()
        job = Job(
            id=next_id,
            organization=organization,
            project_id=project_id,
            range_start=range_start,
            range_end=range_end,
            environments=tuple(environments),
            query=query,
            user_id=user_id,
            date_created=now,
            date_updated=now,
        )
        return _save(store, job)


def delete_matching(
    store: Store,
    project_id: int,
    *,
    range_start: datetime,
    range_end: datetime,
    query: str = "",
    environments: tuple[str, ...] = (),
    organization: str = "",
) -> Job:
    """Create a deletion job and run it here to completion (the CLI's and the Python store's
    bulk delete); the job is durable, so a run cut short resumes in the next writer."""
    job = create_job(
        store,
        organization=organization,
        project_id=project_id,
        range_start=range_start,
        range_end=range_end,
        environments=environments,
        query=query,
    )
    return run_job(store, job)


def _compact_table(store: Store) -> None:
    """Bin-pack the job table once its state rows spread over many small files (each state
    change is a file: reading every job reads them all)."""
    dt = _table(store)
    if dt is None or len(dt.file_uris()) < COMPACT_FILES:
        return
    with store.lock.hold():
        dt.optimize.compact(writer_properties=WRITER_PROPERTIES, commit_properties=COMMIT)


# ---- running a job


class Stopped(Exception):
    """The runner was asked to stop between two replays; the job resumes from its checkpoint."""


# Jobs being worked in this process: the writer lock keeps other processes out, this keeps a
# second thread (the runner beside a Python caller of `delete_matching`) from the same job.
_RUNNING: set[tuple[str, int]] = set()
_RUNNING_LOCK = threading.Lock()


def run_job(store: Store, job: Job, stop: threading.Event | None = None) -> Job:
    """Work the job until it is completed or failed (Stopped leaves it to resume); a job that
    another thread of this process is working is left to it (returned as it is)."""
    key = (store.layout.root, job.id)
    with _RUNNING_LOCK:
        if key in _RUNNING or job.status not in ACTIVE:
            return job
        _RUNNING.add(key)
    try:
        # The newest state: the job may have moved on since the caller read it.
        return _work(store, get_job(store, job.id) or job, stop)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(key)


def _work(store: Store, job: Job, stop: threading.Event | None) -> Job:
    if job.status not in ACTIVE:
        return job
    try:
        with store.lock.hold():
            job = _update(store, job, status=IN_PROGRESS, count_deleted=_resumed_count(store, job))
        while True:
            page = _match(store, job)
            with store.lock.hold():
                job = _update(store, job, pending=tuple(r for _, r in page))
            deleted = 0
            for _, replay_id in page:
                if stop is not None and stop.is_set():
                    raise Stopped()
                deleted += store.delete_replay(job.project_id, replay_id)
            cursor = page[-1] if page else (job.cursor_time, job.cursor_replay)
            done = len(page) < PAGE
            if done:  # counted before the job shows `completed`, so a reader sees both
                _ran(replace(job, count_deleted=job.count_deleted + deleted), "done")
            with store.lock.hold():
                job = _update(
                    store,
                    job,
                    status=COMPLETED if done else IN_PROGRESS,
                    count_deleted=job.count_deleted + deleted,
                    cursor_time=cursor[0],
                    cursor_replay=cursor[1],
                    pending=(),
                )
            if done:
                _compact_table(store)
                return job
    except Stopped:
        log.info("delete job %d: stopped, resumes from its checkpoint", job.id)
        return job
    except Exception:
        log.exception("delete job %d failed", job.id)
        _ran(job, "failed")
        with store.lock.hold():
            return _update(store, job, status=FAILED)


def _ran(job: Job, outcome: str) -> None:
    MAINTENANCE_RUNS.labels(task="delete-job", outcome=outcome).inc()
    log.info(
        "delete job %d of project %d: %s, %d replays deleted",
        job.id,
        job.project_id,
        "completed" if outcome == "done" else "failed",
        job.count_deleted,
    )


def _resumed_count(store: Store, job: Job) -> int:
    """The checkpoint's count plus the replays of its page archived since it was written."""
    if not job.pending:
        return job.count_deleted
    con = store.connect()
    try:
        query = (
            exp.select(exp.Count(this=exp.Distinct(expressions=[exp.column("replay_id")])))
            .from_("archives")
            .where(
                exp.and_(
                    exp.column("project_id").eq(exp.convert(job.project_id)),
                    exp.column("replay_id").isin(*(exp.Literal.string(r) for r in job.pending)),
                    exp.column("timestamp") >= exp.convert(job.date_updated),
                )
            )
        )
        ((archived,),) = con.execute(query.sql(dialect=DIALECT)).fetchall()
    finally:
        con.close()
    return job.count_deleted + int(archived)


def match_query(job: Job) -> exp.Select:
    """The next page of the job's replays: segment rows in the range (and environments) of
    replays whose summary matches the search and is not archived, after the cursor."""
    rows = exp.and_(
        exp.column("project_id").eq(exp.convert(job.project_id)),
        exp.column("timestamp") >= exp.convert(job.range_start),
        exp.column("timestamp") < exp.convert(job.range_end),
        exp.column("month") >= exp.Literal.string(partition_month(job.range_start)),
        exp.column("month") <= exp.Literal.string(partition_month(job.range_end)),
    )
    if job.environments:
        rows = exp.and_(
            rows, exp.column("environment").isin(*(exp.convert(e) for e in job.environments))
        )
    segments = (
        exp.select("replay_id", exp.alias_(exp.Min(this=exp.column("timestamp")), "first"))
        .from_("segments")
        .where(rows)
        .group_by("replay_id")
    )
    summary = (
        exp.select("replay_id")
        .from_("replays")
        .where(
            exp.and_(
                exp.column("project_id").eq(exp.convert(job.project_id)),
                exp.Coalesce(this=exp.column("is_archived"), expressions=[exp.false()]).not_(),
                compile_replay_search(job.query, viewer=job.user_id),
            )
        )
    )
    where: exp.Expression = exp.In(this=exp.column("replay_id"), query=summary.subquery())
    if job.cursor_time is not None:
        after = exp.or_(
            exp.column("first") > exp.convert(job.cursor_time),
            exp.and_(
                exp.column("first").eq(exp.convert(job.cursor_time)),
                exp.column("replay_id") > exp.Literal.string(job.cursor_replay or ""),
            ),
        )
        where = exp.and_(where, after)
    return (
        exp.select("first", "replay_id")
        .from_(segments.subquery("m"))
        .where(where)
        .order_by("first", "replay_id")
        .limit(PAGE)
    )


def _match(store: Store, job: Job) -> list[tuple[datetime, str]]:
    con: duckdb.DuckDBPyConnection = store.connect()
    try:
        rows = con.sql(match_query(job).sql(dialect=DIALECT)).fetchall()
    finally:
        con.close()
    return [(first.astimezone(UTC), str(replay_id)) for first, replay_id in rows]


def run_active(store: Store, stop: threading.Event | None = None) -> int:
    """Work every pending or in-progress job, oldest first; returns how many ran."""
    ran = 0
    for job in sorted((j for j in all_jobs(store) if j.status in ACTIVE), key=lambda j: j.id):
        if stop is not None and stop.is_set():
            break
        run_job(store, job, stop)
        ran += 1
    return ran


class DeleteJobRunner:
    """The writer's background task that runs deletion jobs (writer.BackgroundTask): at start
    it resumes what a stopped or crashed writer left, then it runs each new job."""

    def __init__(self, store: Store, poll: float = POLL_SECONDS) -> None:
        self.store = store
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DeleteJobRunner:
        self._thread = threading.Thread(target=self._loop, name="delete-jobs", daemon=True)
        self._thread.start()
        return self

    def wake(self, job_id: int | None = None) -> None:
        """A job was created: run it now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_active(self.store, self._stop)
            except Exception:
                log.exception("delete jobs: a run failed; trying again")
            self._wake.wait(self.poll)
            self._wake.clear()
