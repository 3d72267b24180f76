"""`replaystore export`: a store's replays as JSONL (docs/jsonl-format.md) or Parquet.

JSONL: for each replay, one `replay` line (the replay as the API shows it, its segments'
`dateAdded` and its click rows) and one `replay_recording` line per stored recording body,
bytes unchanged; ingesting the file into an empty store gives the same API answers.

Parquet: a folder with one file per table (`segments`, `clicks`, `links`, `archives`,
`replays`, `tags`) plus `recordings` (each segment's rrweb JSON), restricted to the chosen
replays: `duckdb.sql("from 'OUT/replays.parquet'")`, `pandas.read_parquet(...)`, ...
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from replaystore.errors import ReplayStoreError
from replaystore.fields.sql import DIALECT
from replaystore.params import parse_window
from replaystore.query import replays as replay_queries
from replaystore.query.common import Page
from replaystore.query.segments import decompress
from replaystore.transfer.importer import DEFAULT_SINCE, PAGE, _click_line

Progress = Callable[[int], None]
Total = Callable[[int | None], None]
# View -> file name of the Parquet export (the summary's tag index is the `replay_tags` view).
PARQUET_VIEWS = {
    "segments": "segments",
    "clicks": "clicks",
    "links": "links",
    "archives": "archives",
    "replays": "replays",
    "replay_tags": "tags",
}
REPLAYS_PER_QUERY = 200  # replays whose click rows one query reads
RECORDINGS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("segment_id", pa.int32()),
        ("rrweb", pa.string()),  # the segment's rrweb JSON, decompressed
    ]
)


class ExportError(ReplayStoreError):
    """An export was refused (a bad --out, --format or --query)."""


def _chosen(store: Any, query: str, since: str) -> Iterator[dict[str, Any]]:
    """Every replay of the store started within `since` that matches `query`, oldest first."""
    window = parse_window(since, None, None, default_days=90)
    projects = _project_ids(store)
    offset = 0
    while True:
        result = replay_queries.list_replays(
            store.engine,
            project_ids=projects,
            window=window,
            page=Page(offset, PAGE),
            query=query,
            sort="started_at",
        )
        yield from result.items
        if not result.has_more:
            return
        offset += PAGE


def _project_ids(store: Any) -> list[int]:
    select = exp.select("project_id").distinct().from_("replays")
    with store.storage.connect() as con:
        return [row[0] for row in con.sql(select.sql(dialect=DIALECT)).fetchall()]


def _chosen_keys(con: Any, keys: list[tuple[int, str]]) -> None:
    """Register the chosen replays' keys as the relation `chosen` on `con`."""
    chosen = pa.table(
        {
            "project_id": pa.array([k[0] for k in keys], pa.int64()),
            "replay_id": pa.array([k[1] for k in keys], pa.string()),
        }
    )
    con.register("chosen", chosen)


def _of_chosen(view: str) -> exp.Select:
    return (
        exp.select(exp.Star())
        .from_(exp.to_table(view))
        .join(exp.to_table("chosen"), using=["project_id", "replay_id"], join_type="semi")
    )


def _copy_to_parquet(con: Any, select: exp.Select, path: Path) -> int:
    """COPY the rows to a Parquet file (streamed by DuckDB, not held in memory)."""
    copy = exp.Copy(
        this=exp.Subquery(this=select),
        kind=False,
        files=[exp.Literal.string(str(path))],
        params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("PARQUET"))],
    )
    return int(con.execute(copy.sql(dialect=DIALECT)).fetchone()[0])


def _clicks_by_replay(con: Any, keys: list[tuple[int, str]]) -> dict[tuple[int, str], list]:
    """The click rows of the replays `keys`, per replay, oldest first (one query)."""
    _chosen_keys(con, keys)
    select = _of_chosen("clicks").order_by("project_id", "replay_id", "timestamp", "event_hash")
    found: dict[tuple[int, str], list] = {}
    for row in con.sql(select.sql(dialect=DIALECT)).to_arrow_table().to_pylist():
        found.setdefault((row["project_id"], row["replay_id"]), []).append(row)
    con.unregister("chosen")
    return found


def replay_lines(store: Any, replay: dict[str, Any], clicks: list[dict[str, Any]]) -> Iterator[str]:
    """The export lines of one (not archived) replay object of `store`, with its click rows."""
    project_id, replay_id = int(replay["project_id"]), replay["id"]
    segments = store.recording_segments(project_id, replay_id)
    line = {
        "type": "replay",
        "project_id": project_id,
        "replay": {k: value for k, value in replay.items() if k != "has_viewed"},
        "segments": [
            {"segment_id": s["segmentId"], "date_added": s["dateAdded"]} for s in segments
        ],
        "clicks": [_click_line(row) for row in clicks],
    }
    yield orjson.dumps(line).decode()
    for segment in segments:
        body = store.storage.read_blob(project_id, replay_id, segment["segmentId"])
        if body is None:
            continue
        recording = {
            "type": "replay_recording",
            "project_id": project_id,
            "replay_id": replay_id,
            "segment_id": segment["segmentId"],
            "body_b64": base64.b64encode(body).decode(),
        }
        yield orjson.dumps(recording).decode()


def _open_store(data: str) -> Any:
    """The store at `data`, read beside any writer; never created (StoreNotFound)."""
    import replaystore

    return replaystore.open(data, create=False, read_only=True)


def write_jsonl(
    store: Any,
    handle: TextIO,
    *,
    query: str = "",
    since: str = DEFAULT_SINCE,
    on_progress: Progress | None = None,
    on_total: Total | None = None,
) -> int:
    """Write the export lines of the chosen replays of an open store to `handle`."""
    # Deleted replays are left out: nothing of them is left to export.
    chosen = [r for r in _chosen(store, query, since) if not r.get("is_archived")]
    if on_total:
        on_total(len(chosen))
    with store.storage.connect() as con:
        for start in range(0, len(chosen), REPLAYS_PER_QUERY):
            group = chosen[start : start + REPLAYS_PER_QUERY]
            clicks = _clicks_by_replay(con, [(int(r["project_id"]), r["id"]) for r in group])
            for replay in group:
                key = (int(replay["project_id"]), replay["id"])
                for line in replay_lines(store, replay, clicks.get(key, [])):
                    handle.write(line + "\n")
                if on_progress:
                    on_progress(1)
    return len(chosen)


def export_jsonl(
    data: str,
    out: str | os.PathLike[str] | TextIO,
    *,
    query: str = "",
    since: str = DEFAULT_SINCE,
    on_progress: Progress | None = None,
    on_total: Total | None = None,
) -> int:
    """Write the replays of the store at `data` started within `since` that match `query` as
    JSONL (docs/jsonl-format.md) to the file `out` (or an open text file); returns how many.
    Archived replays are left out. A file is replaced only once the export is complete."""
    store = _open_store(data)
    if not isinstance(out, str | os.PathLike):
        return write_jsonl(
            store, out, query=query, since=since, on_progress=on_progress, on_total=on_total
        )
    target = Path(out)
    if target.is_dir():
        raise ExportError(f"--out {str(out)!r} is a folder; JSONL goes into a file")
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            count = write_jsonl(
                store, handle, query=query, since=since, on_progress=on_progress, on_total=on_total
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def export_parquet(
    data: str,
    out: str | os.PathLike[str],
    *,
    query: str = "",
    since: str = DEFAULT_SINCE,
    on_progress: Progress | None = None,
) -> dict[str, int]:
    """Write one Parquet file per table of the chosen replays into the folder `out` (created;
    files of the same names replaced); returns the rows written per file."""
    store = _open_store(data)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"--out {str(out)!r} is a file; Parquet goes into a folder")
    folder.mkdir(parents=True, exist_ok=True)
    keys = [(int(r["project_id"]), r["id"]) for r in _chosen(store, query, since)]
    written: dict[str, int] = {}
    with store.storage.connect() as con:
        _chosen_keys(con, keys)
        for view, name in PARQUET_VIEWS.items():
            written[name] = _replace(
                folder / f"{name}.parquet",
                lambda p, v=view: _copy_to_parquet(con, _of_chosen(v), p),
            )
            if on_progress:
                on_progress(1)
        stored = _of_chosen("segments").where(exp.column("has_blob"))
        segments = con.sql(stored.sql(dialect=DIALECT)).to_arrow_table()
    keys_of = segments.select(["project_id", "replay_id", "segment_id"]).to_pylist()
    path = folder / "recordings.parquet"
    written["recordings"] = _replace(path, lambda p: _write_recordings(store, keys_of, p))
    if on_progress:
        on_progress(1)
    return written


def _replace(path: Path, write: Callable[[Path], int]) -> int:
    """Write `path` through a temporary file, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        count = write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


RECORDINGS_PER_GROUP = 500


def _write_recordings(store: Any, keys: list[dict[str, Any]], path: Path) -> int:
    count = 0
    with pq.ParquetWriter(path, RECORDINGS) as writer:
        for start in range(0, max(len(keys), 1), RECORDINGS_PER_GROUP):
            rows = []
            for key in keys[start : start + RECORDINGS_PER_GROUP]:
                body = store.storage.read_blob(
                    key["project_id"], key["replay_id"], key["segment_id"]
                )
                if body is not None:
                    rows.append({**key, "rrweb": decompress(body).decode("utf-8", "replace")})
            writer.write_table(pa.Table.from_pylist(rows, schema=RECORDINGS))
            count += len(rows)
    return count


PARQUET_FILES = (*PARQUET_VIEWS.values(), "recordings")
