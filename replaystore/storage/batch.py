"""What ingest hands to storage: validated rows of every raw table plus recording blobs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from replaystore.fields import schema


@dataclass(frozen=True)
class Blob:
    """One recording segment body, exactly as received (zlib stream or plain rrweb JSON)."""

    project_id: int
    replay_id: str
    segment_id: int
    data: bytes


def _empty(table_schema: pa.Schema) -> pa.Table:
    return table_schema.empty_table()


@dataclass
class WriteBatch:
    """Rows conforming to `schema.SEGMENTS`, `schema.CLICKS`, `schema.LINKS`, and blobs.

    Ingest guarantees every row is valid and that the batch holds no duplicate keys;
    storage guarantees rows whose key is already stored are not written again.
    """

    segments: pa.Table = field(default_factory=lambda: _empty(schema.SEGMENTS))
    clicks: pa.Table = field(default_factory=lambda: _empty(schema.CLICKS))
    links: pa.Table = field(default_factory=lambda: _empty(schema.LINKS))
    blobs: list[Blob] = field(default_factory=list)

    def tables(self) -> dict[str, pa.Table]:
        return {"segments": self.segments, "clicks": self.clicks, "links": self.links}

    def is_empty(self) -> bool:
        return not self.blobs and all(t.num_rows == 0 for t in self.tables().values())
