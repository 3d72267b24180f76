"""The Python face of a store: open, ingest, query with SQL, compact, delete. Wiring only."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from replaystore.catalog import Catalog
from replaystore.engines import EngineConfig, QueryEngine, compile_search, open_engine
from replaystore.errors import NotFound
from replaystore.ingest import EnvelopeInput, build_batch, parse_jsonl
from replaystore.query import clicks, replays, segments, tags
from replaystore.query.common import Page, Window, replay_id_or_none
from replaystore.query.params import parse_window
from replaystore.storage.batch import WriteBatch
from replaystore.storage.store import Store

FILES_PER_BATCH = 500


class ReplayStore:
    """A replay store in a local folder or at an fsspec URL."""

    def __init__(
        self,
        root: str,
        *,
        storage_options: dict | None = None,
        engine: EngineConfig | str | None = None,
    ) -> None:
        self.root = root
        self._engine_config = engine
        self.storage = Store.open(root, storage_options=storage_options)
        layout = self.storage.layout
        self.catalog = Catalog(layout.root) if layout.is_local else None
        self._engine: QueryEngine | None = None

    @property
    def engine(self) -> QueryEngine:
        """The query engine (`duckdb` unless `open(..., engine="clickhouse")`)."""
        if self._engine is None:
            self._engine = open_engine(self.storage, self._engine_config)
        return self._engine

    def compile_search(self, query: str, dialect: str = "duckdb", *, where_only: bool = False):
        """A search as SQL of `dialect` (duckdb, clickhouse, spark): see engines.compile_search."""
        return compile_search(query, dialect, where_only=where_only)

    # -- ingest --------------------------------------------------------------------------

    def ingest_envelopes(self, envelopes: Iterable[EnvelopeInput | bytes]) -> int:
        """Validate every envelope, then write them in one atomic batch; returns the count."""
        inputs = [e if isinstance(e, EnvelopeInput) else EnvelopeInput(body=e) for e in envelopes]
        self.write(build_batch(inputs))
        return len(inputs)

    def ingest_files(
        self, paths: Iterable[str | os.PathLike[str]], *, project_id: int | None = None
    ) -> int:
        """Ingest `.envelope` files (one envelope each) and `.jsonl` exports; returns the count.

        Files are validated and written in batches of FILES_PER_BATCH; each batch is atomic.
        """
        # Held throughout: no other writer slips in between the batches, and a store held by
        # another writer is refused before any file is read.
        with self.storage.lock.hold():
            return self._ingest_files(paths, project_id)

    def _ingest_files(self, paths: Iterable[str | os.PathLike[str]], project_id: int | None) -> int:
        count = 0
        for chunk in _chunks(sorted(Path(p) for p in paths), FILES_PER_BATCH):
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
        return count

    def write(self, batch: WriteBatch) -> None:
        if not batch.is_empty():
            self.storage.write(batch)

    # -- reading and maintenance ---------------------------------------------------------

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with views replays, segments, clicks, links, archives."""
        return self.storage.connect()

    def sql(self, query: str) -> list[dict]:
        """Run ad-hoc SQL over the views and return the rows as dicts."""
        with self.connect() as con:
            cursor = con.execute(query)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # -- the API's data as plain Python objects (same functions the HTTP routes call) --------

    def list_replays(
        self,
        query: str = "",
        *,
        projects: Iterable[int] | None = None,
        environments: Iterable[str] | None = None,
        sort: str = "-started_at",
        stats_period: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int = 10,
        offset: int = 0,
        fields: Iterable[str] | None = None,
    ) -> list[dict]:
        """Replays as the list route returns them (default window: the last 7 days)."""
        window = parse_window(stats_period, start, end, default_days=7)
        result = replays.list_replays(
            self.engine,
            project_ids=self._projects(projects),
            window=window,
            page=Page(offset, limit),
            query=query,
            sort=sort,
            environments=list(environments) if environments is not None else None,
            fields=list(fields) if fields is not None else None,
        )
        return result.items

    def get_replay(self, replay_id: str, *, projects: Iterable[int] | None = None) -> dict | None:
        """One replay (archived shape if deleted), searched over the 90-day retention."""
        key = replay_id_or_none(replay_id)
        if key is None:
            return None
        window = parse_window(None, None, None, default_days=RETENTION_DAYS)
        return replays.get_replay(
            self.engine, key, project_ids=self._projects(projects), window=window
        )

    def recording_segments(self, project_id: int, replay_id: str) -> list[dict]:
        """Segment metadata (`replayId`, `segmentId`, `projectId`, `dateAdded`) by segment id."""
        return segments.list_segments(
            self.engine, project_id, _key(replay_id), window=_retention()
        ).items

    def recording(self, project_id: int, replay_id: str, segment_id: int) -> bytes:
        """One segment's rrweb JSON (decompressed); `[]` if its body is missing."""
        return segments.segment_json(self.storage, project_id, _key(replay_id), segment_id)

    def clicks(self, project_id: int, replay_id: str, query: str = "") -> list[dict]:
        """The replay's clicks (`node_id`, `timestamp`) matching a click search."""
        return clicks.list_clicks(
            self.engine, project_id, _key(replay_id), window=_retention(), query=query
        ).items

    def tag_keys(self, *, projects: Iterable[int] | None = None, stats_period: str = "7d"):
        window = parse_window(stats_period, None, None, default_days=7)
        return tags.tag_keys(self.engine, project_ids=self._projects(projects), window=window).items

    def tag_values(
        self, key: str, *, projects: Iterable[int] | None = None, stats_period: str = "7d"
    ) -> list[dict]:
        window = parse_window(stats_period, None, None, default_days=7)
        return tags.tag_values(
            self.engine, key, project_ids=self._projects(projects), window=window
        ).items

    def _projects(self, projects: Iterable[int] | None) -> list[int]:
        if projects is not None:
            return list(projects)
        stored = self.sql("SELECT DISTINCT project_id FROM replays")
        return [row["project_id"] for row in stored]

    def compact(self):
        return self.storage.compact()

    def delete_replay(self, project_id: int, replay_id: str) -> bool:
        return self.storage.delete_replay(project_id, replay_id)


RETENTION_DAYS = 90


def _retention() -> Window:
    return parse_window(None, None, None, default_days=RETENTION_DAYS)


def _key(replay_id: str) -> str:
    key = replay_id_or_none(replay_id)
    if key is None:
        raise NotFound(f"{replay_id!r} is not a replay id")
    return key


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def open(
    root: str | os.PathLike[str],
    *,
    storage_options: dict | None = None,
    engine: EngineConfig | str | None = None,
) -> ReplayStore:
    """Open (creating if needed) the store at a local folder or fsspec URL; `engine` picks
    the query engine (`duckdb`, the default, or `clickhouse`, or an EngineConfig)."""
    return ReplayStore(os.fspath(root), storage_options=storage_options, engine=engine)
