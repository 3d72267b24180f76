"""Recording segments of one replay: metadata from the `segments` view, bodies from the blobs."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

from sqlglot import exp

from replaystore.fields.shape import iso
from replaystore.query.common import (
    FULL_PAGE,
    Executor,
    Page,
    Paged,
    Window,
    conjunction,
    paged,
)

log = logging.getLogger(__name__)
# zlib.decompressobj(wbits=32 + 15) accepts both zlib and gzip headers.
_AUTO_WBITS = 47


class BlobReader(Protocol):
    def read_blob(self, project_id: int, replay_id: str, segment_id: int) -> bytes | None: ...


def _replay_rows(project_id: int, replay_id: str) -> exp.Expression:
    return exp.and_(
        exp.column("project_id").eq(exp.convert(project_id)),
        exp.column("replay_id").eq(exp.convert(replay_id)),
    )


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "replayId": row["replay_id"],
        "segmentId": row["segment_id"],
        "projectId": str(row["project_id"]),
        "dateAdded": iso(row.get("received") or row.get("timestamp")),
    }


def _segment_select(project_id: int, replay_id: str, window: Window) -> exp.Select:
    """Segment rows of a replay that is not archived: one query, not an archive check first."""
    archived = exp.select("replay_id").from_("archives").where(_replay_rows(project_id, replay_id))
    where = conjunction(
        [
            _replay_rows(project_id, replay_id),
            exp.column("segment_id").is_(exp.null()).not_(),
            window.widened().condition("timestamp"),
            window.widened().month_condition(),  # a segment's month is its timestamp's
            exp.Exists(this=archived).not_(),
        ]
    )
    columns = ["project_id", "replay_id", "segment_id", "timestamp", "received"]
    return exp.select(*columns).from_("segments").where(where)


def list_segments(
    engine: Executor, project_id: int, replay_id: str, *, window: Window, page: Page = FULL_PAGE
) -> Paged:
    """Metadata (`replayId`, `segmentId`, `projectId`, `dateAdded`) by segment id, paged."""
    select = _segment_select(project_id, replay_id, window).order_by("segment_id")
    result = paged(engine.execute(page.apply(select)), page)
    return Paged([_metadata(row) for row in result.items], result.has_more)


def get_segment(
    engine: Executor, project_id: int, replay_id: str, segment_id: int, *, window: Window
) -> dict[str, Any] | None:
    """One segment's metadata, or None if it is unknown or its replay was deleted."""
    where = exp.column("segment_id").eq(exp.convert(segment_id))
    rows = engine.execute(_segment_select(project_id, replay_id, window).where(where).limit(1))
    return _metadata(rows[0]) if rows else None


DOWNLOAD_CHUNK = 256 * 1024  # bytes of rrweb JSON produced at a time by a download


def decompressed_chunks(body: bytes) -> Iterator[bytes]:
    """The rrweb JSON of a stored body, at most `DOWNLOAD_CHUNK` bytes at a time: zlib or gzip
    streams inflated as they are sent, plain JSON as is; memory does not grow with the size a
    body inflates to. Raises zlib.error on a corrupt body (possibly after some chunks)."""
    if body.lstrip()[:1] == b"[":
        yield body
        return
    inflater = zlib.decompressobj(_AUTO_WBITS)
    pending = body
    while pending and not inflater.eof:
        chunk = inflater.decompress(pending, DOWNLOAD_CHUNK)
        pending = inflater.unconsumed_tail
        if chunk:
            yield chunk
        elif not pending:
            break


def decompress(body: bytes) -> bytes:
    """The rrweb JSON of a stored body, whole (see `decompressed_chunks`)."""
    return b"".join(decompressed_chunks(body))


def segment_chunks(
    blobs: BlobReader, project_id: int, replay_id: str, segment_id: int
) -> Iterator[bytes]:
    """One segment's rrweb JSON in chunks; `[]` for a missing blob or one unreadable from the
    start. A body found corrupt after its first chunk ends where it broke: the status
    line is sent by then."""
    body = blobs.read_blob(project_id, replay_id, segment_id)
    if body is None:
        yield b"[]"
        return
    sent = False
    try:
        for chunk in decompressed_chunks(body):
            sent = True
            yield chunk
    except zlib.error:
        log.warning("unreadable recording %s/%s/%s", project_id, replay_id, segment_id)
    if not sent:
        yield b"[]"


def segment_json(blobs: BlobReader, project_id: int, replay_id: str, segment_id: int) -> bytes:
    """The decompressed body of one segment; `[]` for a missing or unreadable blob."""
    body = blobs.read_blob(project_id, replay_id, segment_id)
    if body is None:
        return b"[]"
    try:
        return decompress(body)
    except zlib.error:
        log.warning("unreadable recording %s/%s/%s", project_id, replay_id, segment_id)
        return b"[]"


def stream_segments(
    blobs: BlobReader, project_id: int, replay_id: str, segment_ids: list[int]
) -> Iterator[bytes]:
    """One JSON array holding each segment's rrweb array, produced chunk by chunk."""
    yield b"["
    for index, segment_id in enumerate(segment_ids):
        if index:
            yield b","
        yield from segment_chunks(blobs, project_id, replay_id, segment_id)
    yield b"]"
