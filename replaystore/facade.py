"""The Python face of a store: open, ingest, query, compact, delete. Wiring only.

The snapshot rule: a `ReplayStore` reads one published snapshot of the store — the one
current when it was opened, or at its last `refresh()`, or right after its own write
(`ingest_*`, `delete_replay`, `compact`). Every read between two of those moments
(`sql`, `list_replays`, `iter_replays`, `get_replay`, ...) sees the same data, however much
another process (a `replaystore serve`, an ingest) writes meanwhile; `refresh()` moves it
to the newest snapshot. Connections from `connect()` stay on the snapshot they were opened at.
The writer keeps replaced files for `--file-retention-minutes` (10 by default); a snapshot
held longer than that on a store that is being written to may lose files, and a read then
raises `StaleSnapshot` until `refresh()`.
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from replaystore.catalog import Catalog
from replaystore.engines import EngineConfig, QueryEngine, compile_search, open_engine
from replaystore.errors import (
    ApiError,
    IngestError,
    NotFound,
    QueryLimitError,
    SqlError,
    StaleSnapshot,
    StoreClosed,
)
from replaystore.ingest import EnvelopeInput, build_batch, parse_jsonl
from replaystore.params import (
    LIST_DAYS,
    LIST_LIMIT,
    RETENTION_DAYS,
    parse_fields,
    parse_page,
    parse_window,
)
from replaystore.query import clicks, replay_count, replays, segments, selectors, tags
from replaystore.query.common import MAX_PAGE, Page, Paged, Window, replay_id_or_none
from replaystore.results import SqlResult
from replaystore.storage.batch import WriteBatch
from replaystore.storage.snapshot import Snapshot
from replaystore.storage.store import SCAN_CONFIG, Store
from replaystore.storage.views import register_views, snapshot_files

FILES_PER_BATCH = 500
INGESTED_SUFFIXES = (".envelope", ".jsonl")

PathArg = str | os.PathLike[str]
Params = list[Any] | tuple[Any, ...] | dict[str, Any] | None
Progress = Callable[[int], None]
Period = str | int | timedelta | None  # "30d", or seconds
Moment = str | datetime | None  # ISO 8601, or a datetime (naive means UTC)


class ReplayStore:
    """A replay store in a local folder or at a URL (`file://`, `s3://`, any fsspec URL).

    Open one with `replaystore.open(...)`; use it as a context manager or call `close()`.
    Reads follow the snapshot rule of this module's docstring.
    """

    def __init__(
        self,
        root: str,
        *,
        storage_options: dict | None = None,
        create: bool = True,
        read_only: bool = False,
        engine: EngineConfig | str | None = None,
    ) -> None:
        self.root = root
        self._engine_config = engine
        self.storage = Store.open(
            root, storage_options=storage_options, create=create, read_only=read_only
        )
        layout = self.storage.layout
        self.catalog = Catalog(layout.root, config=self.storage.config)
        self._snapshot: Snapshot = self.storage.snapshot()
        self._engine: QueryEngine | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._con_seq: int | None = None
        self._con_lock = threading.Lock()
        self._closed = False

    # -- lifetime and snapshot -----------------------------------------------------------

    def __enter__(self) -> ReplayStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the store's DuckDB connections; any later call raises StoreClosed."""
        self._closed = True
        with self._con_lock:
            if self._con is not None:
                self._con.close()
                self._con = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    @property
    def closed(self) -> bool:
        """True once `close()` was called."""
        return self._closed

    def refresh(self) -> ReplayStore:
        """Move to the store's newest published snapshot (see the snapshot rule); returns self."""
        self._open()
        self._snapshot = self.storage.snapshot()
        return self

    @property
    def snapshot_seq(self) -> int:
        """The sequence number of the snapshot this store reads (grows with every write)."""
        return self._snapshot.seq

    @property
    def engine(self) -> QueryEngine:
        """The query engine the endpoint functions run on, reading this store's snapshot
        (`duckdb` unless `open(..., engine="clickhouse")`)."""
        self._open()
        if self._engine is None:
            engine = open_engine(_Pinned(self), self._engine_config)  # type: ignore[arg-type]
            self._engine = _Guarded(engine, self.storage.layout.root)  # type: ignore[assignment]
        return self._engine

    def _open(self) -> None:
        if self._closed:
            raise StoreClosed(f"the store at {self.root} was closed")

    def compile_search(
        self, query: str, dialect: str = "duckdb", *, where_only: bool = False
    ) -> str:
        """A search as SQL of `dialect` (duckdb, clickhouse, spark): see engines.compile_search."""
        return compile_search(query, dialect, where_only=where_only)

    # -- ingest --------------------------------------------------------------------------

    def ingest_envelopes(self, envelopes: Iterable[EnvelopeInput | bytes]) -> int:
        """Validate every envelope, then write them in one atomic batch; returns the count.

        Each item is an envelope's bytes or an `EnvelopeInput` (bytes plus project id, user
        agent, client IP). IngestError names the first bad item; nothing is written then.
        """
        self._open()
        if isinstance(envelopes, bytes | EnvelopeInput):
            envelopes = [envelopes]
        inputs = [e if isinstance(e, EnvelopeInput) else EnvelopeInput(body=e) for e in envelopes]
        self.write(build_batch(inputs))
        return len(inputs)

    def ingest_files(
        self,
        paths: PathArg | Iterable[PathArg],
        *,
        project_id: int | None = None,
        on_progress: Progress | None = None,
    ) -> int:
        """Ingest `.envelope` files (one envelope each) and `.jsonl` exports; returns the count.

        `paths` is one path or several, as strings or `Path`s; a folder stands for every
        `.envelope` and `.jsonl` file under it. Every path is checked before anything is read
        (IngestError for a missing one). Files are validated and written in batches of
        FILES_PER_BATCH, each batch atomic; `on_progress(n)` is called after each batch with
        the number of files it held.
        """
        self._open()
        files = expand_paths(paths)
        # Held throughout: no other writer slips in between the batches, and a store held by
        # another writer is refused before any file is read.
        with self.storage.lock.hold():
            return self._ingest_files(files, project_id, on_progress)

    def _ingest_files(
        self, files: list[Path], project_id: int | None, on_progress: Progress | None
    ) -> int:
        count = 0
        for chunk in _chunks(files, FILES_PER_BATCH):
            envelopes = [p for p in chunk if p.suffix != ".jsonl"]
            exports = [p for p in chunk if p.suffix == ".jsonl"]
            for export in exports:
                with builtins.open(export, "rb") as lines:
                    self.write(parse_jsonl(lines, name=str(export)))
            if envelopes:
                inputs = [
                    EnvelopeInput(body=p.read_bytes(), project_id=project_id, name=str(p))
                    for p in envelopes
                ]
                self.write(build_batch(inputs))
            count += len(chunk)
            if on_progress is not None:
                on_progress(len(chunk))
        return count

    def write(self, batch: WriteBatch) -> None:
        """Write one batch of rows atomically, then read the snapshot it published."""
        self._open()
        if not batch.is_empty():
            self.storage.write(batch)
            self.refresh()

    # -- SQL -----------------------------------------------------------------------------

    def sql(self, query: str, params: Params = None) -> SqlResult:
        """Run DuckDB SQL over the views `replays`, `segments`, `clicks`, `links`, `archives`,
        `replay_tags`; returns the rows (`.arrow()`, `.df()`, `.pl()`, or row dicts).

        Values go in `params`, never into the text: `?` or `$1` with a list, `$name` with a
        dict. A query DuckDB refuses raises SqlError with DuckDB's message.

        >>> store.sql("SELECT count(*) AS n FROM replays WHERE count_errors > ?", [0]).df()
        ... # doctest: +SKIP
        """
        if not isinstance(query, str):
            raise SqlError(f"the query must be a string, not {type(query).__name__}")
        with self._con_lock:
            con = self._connection()
            try:
                relation = con.sql(query, params=params)
                table = relation.to_arrow_table() if relation is not None else pa.table({})
            except duckdb.IOException as error:
                raise _stale(error, self.storage.layout.root) from error
            except duckdb.OutOfMemoryException as error:
                raise QueryLimitError(f"The query ran out of memory: {error}") from None
            except duckdb.Error as error:
                raise SqlError(str(error)) from None
        return SqlResult(table)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection whose views read this store's snapshot, and stay on it.

        The caller owns it (close it, or use it in `with`); it does not follow `refresh()`.
        """
        self._open()
        con = duckdb.connect(config=dict(SCAN_CONFIG))
        register_views(con, snapshot_files(self._snapshot))
        return con

    def _connection(self) -> duckdb.DuckDBPyConnection:
        self._open()
        if self._con is None:
            self._con = duckdb.connect(config=dict(SCAN_CONFIG))
        if self._con_seq != self._snapshot.seq:
            register_views(self._con, snapshot_files(self._snapshot))
            self._con_seq = self._snapshot.seq
        return self._con

    # -- the API's data as plain Python objects (same functions the HTTP routes call) --------

    def list_replays(
        self,
        query: str = "",
        *,
        projects: int | Iterable[int] | None = None,
        environments: str | Iterable[str] | None = None,
        sort: str = replays.DEFAULT_SORT,
        stats_period: Period = None,
        start: Moment = None,
        end: Moment = None,
        limit: int = LIST_LIMIT,
        offset: int = 0,
        fields: str | Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """One page of replays as the list route returns them (default window: the last LIST_DAYS).

        `query` is the search language, `sort` a sortable field (`-` for descending), the
        window `stats_period` ("30d") or `start`/`end` (ISO 8601), `fields` the attributes to
        keep. Bad values raise the HTTP API's 400 errors (SearchError, ApiError).
        """
        window = _window(stats_period, start, end, days=LIST_DAYS)
        page = _page(limit, offset)
        return self._list_page(query, projects, environments, sort, window, fields, page).items

    def iter_replays(
        self,
        query: str = "",
        *,
        projects: int | Iterable[int] | None = None,
        environments: str | Iterable[str] | None = None,
        sort: str = replays.DEFAULT_SORT,
        stats_period: Period = None,
        start: Moment = None,
        end: Moment = None,
        fields: str | Iterable[str] | None = None,
        page_size: int = MAX_PAGE,
    ) -> Iterator[dict[str, Any]]:
        """Every replay `list_replays` would page through, following the pages lazily.

        The window is fixed when the first page is read and all pages come from the same
        snapshot, so no replay is skipped or repeated while others write.
        """
        window = _window(stats_period, start, end, days=LIST_DAYS)
        offset = 0
        while True:
            result = self._list_page(
                query, projects, environments, sort, window, fields, _page(page_size, offset)
            )
            yield from result.items
            if not result.has_more:
                return
            offset += page_size

    def _list_page(
        self,
        query: str,
        projects: int | Iterable[int] | None,
        environments: str | Iterable[str] | None,
        sort: str,
        window: Window,
        fields: str | Iterable[str] | None,
        page: Page,
    ) -> Paged:
        return replays.list_replays(
            self.engine,
            project_ids=self._projects(projects),
            window=window,
            page=page,
            query=_text(query, "query"),
            sort=_text(sort, "sort"),
            environments=_strings(environments),
            fields=parse_fields(_strings(fields) or []),
        )

    def get_replay(
        self,
        replay_id: str,
        *,
        projects: int | Iterable[int] | None = None,
        fields: str | Iterable[str] | None = None,
    ) -> dict[str, Any] | None:
        """One replay (the archived shape if deleted) over the 90-day retention, or None."""
        key = replay_id_or_none(replay_id) if isinstance(replay_id, str) else None
        if key is None:
            return None
        return replays.get_replay(
            self.engine,
            key,
            project_ids=self._projects(projects),
            window=_retention(),
            fields=parse_fields(_strings(fields) or []),
        )

    def recording_segments(self, project_id: int, replay_id: str) -> list[dict[str, Any]]:
        """Every segment's metadata (`replayId`, `segmentId`, `projectId`, `dateAdded`)."""
        key = _key(replay_id)
        return _all_pages(
            lambda page: segments.list_segments(
                self.engine, project_id, key, window=_retention(), page=page
            )
        )

    def recording(self, project_id: int, replay_id: str, segment_id: int) -> bytes:
        """One segment's rrweb JSON (decompressed); `[]` if its body is missing."""
        self._open()
        return segments.segment_json(self.storage, project_id, _key(replay_id), segment_id)

    def clicks(self, project_id: int, replay_id: str, query: str = "") -> list[dict[str, Any]]:
        """Every click of the replay (`node_id`, `timestamp`) matching a click search."""
        key = _key(replay_id)
        return _all_pages(
            lambda page: clicks.list_clicks(
                self.engine, project_id, key, window=_retention(), page=page, query=query
            )
        )

    def tag_keys(
        self,
        *,
        projects: int | Iterable[int] | None = None,
        stats_period: Period = None,
        start: Moment = None,
        end: Moment = None,
    ) -> list[dict[str, Any]]:
        """Tag keys (`key`, `name`, `totalValues`) of the window's replays, most used first."""
        window = _window(stats_period, start, end, days=LIST_DAYS)
        return tags.tag_keys(self.engine, project_ids=self._projects(projects), window=window).items

    def tag_values(
        self,
        key: str,
        *,
        projects: int | Iterable[int] | None = None,
        stats_period: Period = None,
        start: Moment = None,
        end: Moment = None,
    ) -> list[dict[str, Any]]:
        """Values of one tag key (`value`, `count`, `firstSeen`, `lastSeen`), newest first."""
        window = _window(stats_period, start, end, days=LIST_DAYS)
        return tags.tag_values(
            self.engine, _text(key, "key"), project_ids=self._projects(projects), window=window
        ).items

    def project_ids(self) -> list[int]:
        """The project ids that have replays in this store's snapshot."""
        return [row["project_id"] for row in self.sql(_PROJECT_IDS)]

    # -- Sentry's other replay routes ------------------------------------------

    def selectors(
        self,
        *,
        projects: int | Iterable[int] | None = None,
        stats_period: Period = None,
        query: str = "",
        sort: str = selectors.DEFAULT_SORT,
        environments: Iterable[str] = (),
        limit: int = MAX_PAGE,
    ) -> list[dict[str, Any]]:
        """Elements ranked by their dead/rage clicks, as `replay-selectors` answers them."""
        window = _window(stats_period, None, None, days=RETENTION_DAYS)
        return selectors.list_selectors(
            self.engine,
            project_ids=self._projects(projects),
            window=window,
            page=Page(0, limit),
            query=query,
            sort=sort,
            environments=list(environments),
        ).items

    def replay_counts(
        self,
        query: str,
        *,
        projects: int | Iterable[int] | None = None,
        stats_period: Period = None,
        return_ids: bool = False,
        issue_resolver: replay_count.IssueResolver | None = None,
    ) -> dict[str, Any]:
        """`replay-count`: existing replays per `replay_id:[...]`, `transaction:[...]` or
        `issue.id:[...]` (the last through `issue_resolver`: issue id -> event ids)."""
        window = _window(stats_period, None, None, days=RETENTION_DAYS)
        return dict(
            replay_count.replay_counts(
                self.engine,
                query,
                project_ids=self._projects(projects),
                window=window,
                return_ids=return_ids,
                resolver=issue_resolver,
            )
        )

    def _projects(self, projects: int | Iterable[int] | None) -> list[int]:
        if projects is None:
            return self.project_ids()
        chosen = [projects] if isinstance(projects, int | str) else list(projects)
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in chosen):
            raise ApiError("Invalid project parameter. Values must be numbers.")
        return chosen

    # -- maintenance ---------------------------------------------------------------------

    def compact(self) -> Any:
        """Fold recent rows into the sorted files and merge small files; returns a summary."""
        self._open()
        result = self.storage.compact()
        self.refresh()
        return result

    def delete_replay(self, project_id: int, replay_id: str) -> bool:
        """Purge a replay's data, leaving its archive marker; False if already deleted."""
        self._open()
        deleted = self.storage.delete_replay(project_id, _key(replay_id))
        self.refresh()
        return deleted

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"snapshot {self._snapshot.seq}"
        return f"<ReplayStore {self.root} ({state})>"

    def delete_replays(
        self,
        project_id: int,
        *,
        start: datetime | str,
        end: datetime | str,
        query: str = "",
        environments: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Delete every replay of the project with a segment in `[start, end)` (and one of
        `environments`, when given) that matches `query` (the replay list's search), each
        exactly as `delete_replay` does: a bulk deletion job run to completion here.
        Returns the job as the API shows it; `countDeleted` is how many were deleted."""
        from replaystore.job_params import job_object, parse_range
        from replaystore.storage.delete_jobs import delete_matching

        self._open()
        range_start, range_end = parse_range(start, end)
        project = self.catalog.project_by_id(project_id) if self.catalog else None
        job = delete_matching(
            self.storage,
            project_id,
            range_start=range_start,
            range_end=range_end,
            query=query or "",
            environments=tuple(dict.fromkeys(environments)),
            organization=project.org if project else "",
        )
        self.refresh()
        return job_object(job)


_PROJECT_IDS = "SELECT DISTINCT project_id FROM replays ORDER BY project_id"


class _Pinned:
    """What the engine reads through: the facade's store, at the facade's snapshot."""

    def __init__(self, facade: ReplayStore) -> None:
        self._facade = facade

    def snapshot(self) -> Snapshot:
        return self._facade._snapshot

    def __getattr__(self, name: str) -> Any:
        return getattr(self._facade.storage, name)


class _Guarded:
    """An engine whose queries report a vacuumed snapshot as StaleSnapshot (any engine: the
    endpoint functions only call `execute`)."""

    def __init__(self, engine: Any, root: str) -> None:
        self._engine = engine
        self._root = root

    def execute(self, query: Any, params: Any = None) -> list[dict[str, Any]]:
        try:
            return self._engine.execute(query, params)
        except duckdb.IOException as error:
            raise _stale(error, self._root) from error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def expand_paths(paths: PathArg | Iterable[PathArg]) -> list[Path]:
    """The files a user means: one path or many; a folder is every `.envelope` and `.jsonl`
    under it. Sorted, so batches are the same on every run; IngestError for a missing path."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.suffix in INGESTED_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise IngestError(f"no such file or folder: {path}", item=str(path))
    return sorted(files)


def _stale(error: duckdb.IOException, root: str) -> StaleSnapshot | SqlError:
    """StaleSnapshot when a file of the store itself is gone; any other I/O error (a file the
    query names, say) is the query's own."""
    text = str(error)
    missing = "No files found" in text or "No such file" in text or "not found" in text
    if missing and root.removeprefix("file://") in text:
        return StaleSnapshot(
            "files of this store's snapshot were removed by maintenance: call store.refresh()"
        )
    return SqlError(text)


def _page(limit: int, offset: int) -> Page:
    """Paging as the HTTP API checks it (limit 1..100, offset >= 0), with its error texts."""
    return parse_page(
        limit=str(limit), offset=str(offset), per_page=None, cursor=None, default_limit=10
    )


def _all_pages(fetch: Callable[[Page], Paged]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        result = fetch(Page(offset, MAX_PAGE))
        items.extend(result.items)
        if not result.has_more:
            return items
        offset += MAX_PAGE


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ApiError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _strings(values: str | Iterable[str] | None) -> list[str] | None:
    """One string or several: a lone string is one value, never its characters."""
    if values is None:
        return None
    return [values] if isinstance(values, str) else list(values)


def _window(period: Period, start: Moment, end: Moment, *, days: int) -> Window:
    return parse_window(_period(period), _moment(start), _moment(end), default_days=days)


def _period(value: Period) -> str | None:
    """`stats_period` as the API's text: "30d", or seconds as an int or a timedelta."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, timedelta):
        return str(int(value.total_seconds()))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ApiError(f"Invalid statsPeriod: {value!r}: use text such as '30d', or seconds")


def _moment(value: Moment) -> str | None:
    """`start`/`end` as ISO 8601 text: a string, or a datetime (naive means UTC)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    raise ApiError(f"Invalid date {value!r}: use an ISO 8601 string or a datetime")


def _retention() -> Window:
    return parse_window(None, None, None, default_days=RETENTION_DAYS)


def _key(replay_id: str) -> str:
    key = replay_id_or_none(replay_id) if isinstance(replay_id, str) else None
    if key is None:
        raise NotFound(f"{replay_id!r} is not a replay id")
    return key


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def open(
    root: PathArg,
    *,
    storage_options: dict | None = None,
    create: bool = True,
    read_only: bool = False,
    engine: EngineConfig | str | None = None,
) -> ReplayStore:
    """Open the store at a local folder (str or Path) or a URL (`file://`, `s3://bucket/p`).

    A missing store is created unless `create=False` or `read_only=True` (then
    StoreNotFound, a ReplayStoreError). `read_only` never takes the writer lock: use it to
    read a store a `replaystore serve` is writing. On `s3://` the settings come from the
    `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    `AWS_REGION`, `AWS_ALLOW_HTTP`); `storage_options` (the same names) override them, for
    deltalake and for the fsspec filesystem built from them alike (docs/deployment.md).
    `engine` picks the query engine (`duckdb`, the default, `clickhouse`, or an EngineConfig).
    """
    return ReplayStore(
        os.fspath(root),
        storage_options=storage_options,
        create=create,
        read_only=read_only,
        engine=engine,
    )
