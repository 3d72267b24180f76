"""The Python face of a store: open, ingest, query with SQL, compact, delete. Wiring only."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from replaystore.catalog import Catalog
from replaystore.ingest import EnvelopeInput, build_batch, parse_jsonl
from replaystore.storage.batch import WriteBatch
from replaystore.storage.store import Store

FILES_PER_BATCH = 500


class ReplayStore:
    """A replay store in a local folder or at an fsspec URL."""

    def __init__(self, root: str, *, storage_options: dict | None = None) -> None:
        self.root = root
        self.storage = Store.open(root, storage_options=storage_options)
        self.catalog = Catalog(root) if "://" not in root else None

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

    def compact(self):
        return self.storage.compact()

    def delete_replay(self, project_id: int, replay_id: str) -> bool:
        return self.storage.delete_replay(project_id, replay_id)


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def open(root: str | os.PathLike[str], *, storage_options: dict | None = None) -> ReplayStore:
    """Open (creating if needed) the store at a local folder or fsspec URL."""
    return ReplayStore(os.fspath(root), storage_options=storage_options)
