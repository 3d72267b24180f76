"""`replaystore import`: copy replays from any Replays API server into a store.

For each page of `/organizations/{org}/replays/` (cursor-paged, oldest first, over a window
pinned when the run starts), each replay the store does not already show the same way is
fetched — its recording segments (metadata and `download`, paged), its clicks — by a bounded
pool of threads and stored as `replay` + `replay_recording` lines (docs/jsonl-format.md).
A replay already stored with fewer segments gets only its new segments (and their clicks);
one shown the same is skipped, which makes a second run copy only what is new. A replay
deleted at the source (listed archived) is deleted in the store too.
"""

from __future__ import annotations

import base64
import secrets
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from replaystore.ingest import values as v
from replaystore.ingest.clicks import extract_clicks
from replaystore.ingest.jsonl import parse_jsonl
from replaystore.params import parse_window
from replaystore.transfer import state as states
from replaystore.transfer.client import Client, TransferError, data_of
from replaystore.transfer.segments import fetch_segments

PAGE = 100  # the largest page every route allows
DEFAULT_CONCURRENCY = 4
DEFAULT_SINCE = "90d"
REPLAYS_PER_WRITE = 25  # replays written in one atomic batch
# Attributes that depend on who asks, not on the replay.
PER_VIEWER = ("has_viewed",)
TIMES = ("started_at", "finished_at")

Progress = Callable[[int], None]
Total = Callable[[int | None], None]


@dataclass
class ImportResult:
    """What one run did."""

    listed: int = 0  # replays the source listed in the window
    copied: int = 0  # replays new to the store
    updated: int = 0  # replays that gained segments or other rows
    unchanged: int = 0  # replays the store already showed the same way
    deleted: int = 0  # replays deleted at the source since they were copied: deleted here
    archived: int = 0  # other archived (deleted) replays at the source: nothing to copy
    skipped: int = 0  # listed although of a project not chosen
    segments: int = 0  # recording segments copied
    requests: int = 0
    rate_limited: int = 0  # 429 answers waited out
    resumed: bool = False  # this run went on from an interrupted one
    state_path: str = ""

    def __str__(self) -> str:
        return ("resumed: " if self.resumed else "") + (
            f"imported {self.copied} new and {self.updated} updated replays "
            f"({self.segments} segments), {self.deleted} deleted; {self.unchanged} unchanged, "
            f"{self.archived} archived at the source, {self.listed} listed; "
            f"{self.requests} requests, {self.rate_limited} rate-limited"
        )


@dataclass(frozen=True)
class _Project:
    id: int
    slug: str


def comparable(replay: Mapping[str, Any]) -> dict[str, Any]:
    """A replay object without per-viewer attributes, timestamps as instants."""
    out = {k: value for k, value in replay.items() if k not in PER_VIEWER}
    for name in TIMES:
        if isinstance(out.get(name), str):
            out[name] = v.timestamp(out[name], name)
    return out


def _same(held: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether the store shows the source's replay the same way, on the attributes the store
    has (a source may have more: they are not kept, so they cannot tell a change)."""
    return comparable(held) == comparable({k: item.get(k) for k in held})


def _click_line(row: Mapping[str, Any]) -> dict[str, Any]:
    names = ("segment_id", "node_id", "tag", "id", "class", "text", "role", "alt", "testid")
    out = {name: row[name] for name in names}
    out.update(
        {name: row[name] for name in ("aria_label", "title", "component_name", "is_dead")},
        is_rage=row["is_rage"],
        timestamp=v.aware_utc(row["timestamp"]).isoformat(),
    )
    return out


def _click_keys(items: Iterable[Mapping[str, Any]]) -> set[tuple[int, int]]:
    keys = set()
    for item in items:
        moment = item.get("timestamp")
        seconds = v.timestamp(moment, "timestamp").timestamp()
        keys.add((item.get("node_id"), int(seconds)))
    return keys


class Importer:
    """One run of an import into an open `ReplayStore` (hold its writer lock around `run`)."""

    def __init__(
        self,
        store: Any,
        client: Client,
        org: str,
        *,
        projects: list[str] | None = None,
        since: str = DEFAULT_SINCE,
        concurrency: int = DEFAULT_CONCURRENCY,
        state_path: Path | None = None,
        on_progress: Progress | None = None,
        on_total: Total | None = None,
        page_size: int = PAGE,
    ) -> None:
        if concurrency < 1:
            raise TransferError("--concurrency must be at least 1")
        if not 1 <= page_size <= PAGE:
            raise TransferError(f"page_size must be 1..{PAGE}")
        self.page_size = page_size
        self.store = store
        self.client = client
        self.org = org
        self.wanted = projects
        self.since = since
        self.concurrency = concurrency
        layout = store.storage.layout
        self.state_path = state_path or states.default_path(
            str(layout.root), layout.is_local, client.root, org
        )
        self.on_progress = on_progress or (lambda n: None)
        self.on_total = on_total or (lambda n: None)
        self.result = ImportResult(state_path=str(self.state_path))
        self.projects: dict[int, _Project] = {}

    # -- setup ---------------------------------------------------------------------------

    def _source_projects(self) -> dict[int, _Project]:
        found: dict[int, _Project] = {}
        for answer, _ in self.client.pages(f"/organizations/{self.org}/projects/", []):
            for item in data_of(answer):
                found[int(item["id"])] = _Project(int(item["id"]), str(item["slug"]))
        if self.wanted is None:
            return found
        by_slug = {p.slug: p for p in found.values()}
        missing = [slug for slug in self.wanted if slug not in by_slug]
        if missing:
            raise TransferError(
                f"no project {missing[0]!r} in organization {self.org!r} at the source"
            )
        return {by_slug[s].id: by_slug[s] for s in self.wanted}

    def _register(self) -> None:
        """The source's projects in the store's catalog, slugs and ids as the source has them."""
        catalog = self.store.catalog
        if catalog is None:
            return
        for project in self.projects.values():
            known = catalog.project_by_id(project.id)
            if known is None or (known.org, known.slug) != (self.org, project.slug):
                catalog.add_project(self.org, project.slug, project.id, secrets.token_hex(16))

    def _state(self) -> states.ImportState:
        window = parse_window(self.since, None, None, default_days=90)
        fresh = states.ImportState(
            source=self.client.root,
            org=self.org,
            projects=sorted(self.projects),
            since=self.since,
            start=window.start.isoformat(),
            end=window.end.isoformat(),
        )
        held = states.load(self.state_path)
        if held is not None and held.same_run(fresh):
            self.result.resumed = True
            return held
        return fresh

    # -- the run -------------------------------------------------------------------------

    def run(self) -> ImportResult:
        self.projects = self._source_projects()
        self._register()
        state = self._state()
        states.save(self.state_path, state)
        params = [
            *(("project", str(pid)) for pid in sorted(self.projects)),
            ("start", state.start),
            ("end", state.end),
            ("sort", "started_at"),
            ("per_page", str(self.page_size)),
        ]
        path = f"/organizations/{self.org}/replays/"
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="import") as pool:
            for answer, following in self.client.pages(path, params, state.cursor):
                items = data_of(answer)
                self.result.listed += len(items)
                self.on_total(self.result.listed if following is None else None)
                self._page(pool, items)
                state.cursor = following
                states.save(self.state_path, state)
        state.complete = True
        states.save(self.state_path, state)
        counters = self.client.counters
        self.result.requests, self.result.rate_limited = counters.requests, counters.rate_limited
        return self.result

    def _page(self, pool: ThreadPoolExecutor, items: list[dict[str, Any]]) -> None:
        """Fetch the page's changed replays on the pool, writing them as they arrive."""
        pending: set[Future[tuple[str, list[str], int]]] = set()
        done: list[tuple[str, list[str], int]] = []
        try:
            for item in items:
                job = self._job(item)
                if job is None:
                    self.on_progress(1)
                    continue
                pending.add(pool.submit(*job))
                while len(pending) >= self.concurrency * 2:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    done.extend(f.result() for f in finished)
                    done = self._write_some(done, REPLAYS_PER_WRITE)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                done.extend(f.result() for f in finished)
                done = self._write_some(done, REPLAYS_PER_WRITE)
            self._write_some(done, 1)
        finally:
            for future in pending:
                future.cancel()

    def _write_some(
        self, done: list[tuple[str, list[str], int]], at_least: int
    ) -> list[tuple[str, list[str], int]]:
        if len(done) < at_least or not done:
            return done
        lines = [line for _, replay_lines, _ in done for line in replay_lines]
        self.store.write(parse_jsonl(lines, name="import"))
        for kind, _, segments in done:
            setattr(self.result, kind, getattr(self.result, kind) + 1)
            self.result.segments += segments
        self.on_progress(len(done))
        return []

    def _job(self, item: dict[str, Any]) -> tuple[Callable[..., Any], ...] | None:
        """The fetch to run for a listed replay, or None when there is nothing to copy."""
        project = self.projects.get(int(item["project_id"]))
        if project is None:  # a source that does not filter by `project` as asked
            self.result.skipped += 1
            return None
        held = self.store.get_replay(item["id"], projects=[project.id])
        if item.get("is_archived"):
            # Deleted at the source: deleted here too (its data is gone there, nothing to copy).
            if held is not None and not held.get("is_archived"):
                self.store.storage.delete_replay(project.id, held["id"])
                self.result.deleted += 1
            else:
                self.result.archived += 1
            return None
        # Deleted here: it stays deleted (a DELETE's archive marker is final).
        if held is not None and (held.get("is_archived") or _same(held, item)):
            self.result.unchanged += 1
            return None
        stored = {
            s["segmentId"]: s
            for s in (self.store.recording_segments(project.id, item["id"]) if held else [])
        }
        return (self._fetch, project, item, held, stored)

    # -- one replay (on a pool thread) ---------------------------------------------------

    def _fetch(
        self,
        project: _Project,
        item: dict[str, Any],
        held: dict[str, Any] | None,
        stored: dict[int, Any],
    ) -> tuple[str, list[str], int]:
        base = f"/projects/{self.org}/{project.slug}/replays/{item['id']}"
        segments, bodies = fetch_segments(self.client, base, stored)
        clicked = set()
        for clicks in self.client.data_pages(f"{base}/clicks/", [("per_page", str(PAGE))]):
            clicked |= _click_keys(clicks)
        return self._lines(project, item, held, segments, bodies, clicked)

    def _lines(
        self,
        project: _Project,
        item: dict[str, Any],
        held: dict[str, Any] | None,
        segments: list[dict[str, Any]],
        bodies: dict[int, bytes],
        clicked: set[tuple[int, int]],
    ) -> tuple[str, list[str], int]:
        replay = dict(item)
        if held is not None:
            # Segment rows already stored keep their urls; the new ones add the rest (urls
            # are concatenated in segment order, every other list is a set).
            known = held.get("urls") or []
            urls = replay.get("urls") or []
            replay["urls"] = urls[len(known) :] if urls[: len(known)] == known else urls
        clicks = []
        recordings = []
        for segment in segments:
            number = segment["segmentId"]
            body = bodies[number]
            events = orjson.loads(body)
            for row in extract_clicks(events if isinstance(events, list) else [], item["id"]):
                if (row["node_id"], int(row["timestamp"].timestamp())) in clicked:
                    clicks.append(_click_line({**row, "segment_id": number}))
            encoded = base64.b64encode(zlib.compress(body)).decode()
            recordings.append(
                {
                    "type": "replay_recording",
                    "project_id": project.id,
                    "replay_id": item["id"],
                    "segment_id": number,
                    "body_b64": encoded,
                }
            )
        line = {
            "type": "replay",
            "project_id": project.id,
            "replay": replay,
            "segments": [
                {"segment_id": s["segmentId"], "date_added": s["dateAdded"]} for s in segments
            ],
            "clicks": clicks,
        }
        lines = [orjson.dumps(x).decode() for x in (line, *recordings)]
        return ("copied" if held is None else "updated", lines, len(segments))


def import_from(
    data: str,
    source: str,
    org: str,
    token: str | None = None,
    *,
    projects: list[str] | None = None,
    since: str = DEFAULT_SINCE,
    concurrency: int = DEFAULT_CONCURRENCY,
    state_path: str | Path | None = None,
    on_progress: Progress | None = None,
    on_total: Total | None = None,
    page_size: int = PAGE,
) -> ImportResult:
    """Copy the replays of `org` at the Replays API server `source` (its root URL, e.g.
    `https://sentry.io`) into the store at `data`; see the module doc. `projects` are slugs
    (default: every project of `org`), `since` a period like `90d`, `concurrency` the replays
    fetched at once, `state_path` the resume file (default: `import-state/` in the store),
    `page_size` the list's page (1..100). `on_progress(n)` is called as replays are done,
    `on_total(n)` once the total is known.

    Raises `ReplayStoreError` (a `TransferError` for the source's refusals) on bad input.
    """
    import replaystore

    store = replaystore.open(data)
    client = Client(source, token)
    importer = Importer(
        store,
        client,
        org,
        projects=projects,
        since=since,
        concurrency=concurrency,
        state_path=Path(state_path) if state_path is not None else None,
        on_progress=on_progress,
        on_total=on_total,
        page_size=page_size,
    )
    try:
        with store.storage.lock.hold():
            return importer.run()
    except (KeyError, TypeError, AttributeError) as error:
        # A source answering another shape than the Replays API's (not a store fault).
        raise TransferError(f"the source answered an unexpected shape: {error!r}") from None
