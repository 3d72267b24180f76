"""HTTP-agnostic request handling: parameters, scope, paging, errors -> query functions.

A `Request` is what a route matched (method, path parameters, query multi-dict, headers,
body); a `Response` is a status, headers and a body (bytes, or an iterator when streamed).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from replaystore import job_params as jobs
from replaystore.catalog import Catalog, Project
from replaystore.errors import ApiError, NotFound, ReplayStoreError
from replaystore.ingest import EnvelopeInput, dsn_public_key, envelope_headers
from replaystore.ingest.limits import GLOBAL_BUDGET
from replaystore.params import (
    LIST_DAYS,
    LIST_LIMIT,
    RETENTION_DAYS,
    parse_fields,
    parse_page,
    parse_window,
)
from replaystore.query import (
    clicks,
    data_source,
    events,
    replay_count,
    replays,
    segments,
    selectors,
    tags,
    viewed_by,
)
from replaystore.query.common import (
    MAX_PAGE,
    Executor,
    Page,
    Paged,
    replay_id_or_none,
    segment_id_or_none,
)
from replaystore.storage import delete_jobs
from replaystore.storage.viewers import record_view

JSON = "application/json"
INTERNAL_ERROR = "An internal error occurred. The error has been logged."
REPLAY_NOT_FOUND = "Replay not found."
SEGMENT_NOT_FOUND = "Replay recording segment not found."
UNKNOWN_ORG = (
    "Organization {org!r} is not in this store's catalog. Replays are served once their "
    "project is registered: replaystore project add --data DIR --org {org} --slug SLUG "
    "--id PROJECT_ID --dsn-key KEY"
)
_SENTRY_KEY = re.compile(r"sentry_key\s*=\s*([^,\s]+)")
# The one search events-meta answers: the ids of a replay's events, as Sentry's UI sends them.
_EVENT_IDS = re.compile(r"^\s*id:(?:\[([^\]]*)\]|([^\s\[\],]+))\s*$")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    url: str = ""  # the configured public URL (or nothing: relative) + path, for Link headers
    remote_addr: str | None = None  # the client: waitress applies trusted proxy headers
    user_id: int | None = None  # the user the bearer token acts as, if any

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def args(self, name: str) -> list[str]:
        return [v for v in self.query.get(name, ()) if v != ""]


@dataclass
class Response:
    status: int
    body: bytes | Iterable[bytes] = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = JSON


def json_response(
    data: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()
) -> Response:
    return Response(status, orjson.dumps(data), list(headers))


def error_response(error: ReplayStoreError) -> Response:
    return json_response({"detail": error.detail}, error.status)


class Ingest(Protocol):
    def submit(self, envelope: EnvelopeInput) -> None: ...


class Store(Protocol):
    def delete_replay(self, project_id: int, replay_id: str) -> bool: ...

    def read_blob(self, project_id: int, replay_id: str, segment_id: int) -> bytes | None: ...


def link_header(req: Request, page: Page, has_more: bool) -> tuple[str, str]:
    """Sentry's `Link` header: previous and next cursors over offsets."""
    kept = [(k, v) for k, vs in req.query.items() if k != "cursor" for v in vs]

    def link(offset: int, is_prev: int, rel: str, results: bool) -> str:
        cursor = f"0:{offset}:{is_prev}"
        query = urllib.parse.urlencode([*kept, ("cursor", cursor)], safe=":")
        flag = "true" if results else "false"
        return f'<{req.url}?{query}>; rel="{rel}"; results="{flag}"; cursor="{cursor}"'

    previous = link(max(0, page.offset - page.limit), 1, "previous", page.offset > 0)
    following = link(page.offset + page.limit, 0, "next", has_more)
    return ("Link", f"{previous}, {following}")


def _page(req: Request, default_limit: int) -> Page:
    return parse_page(
        limit=req.arg("limit"),
        offset=req.arg("offset"),
        per_page=req.arg("per_page"),
        cursor=req.arg("cursor"),
        default_limit=default_limit,
    )


def _window(req: Request, default_days: int) -> Any:
    return parse_window(
        req.arg("statsPeriod"), req.arg("start"), req.arg("end"), default_days=default_days
    )


def _paged(req: Request, page: Page, result: Paged, wrap: bool = True) -> Response:
    body = {"data": result.items} if wrap else result.items
    return json_response(body, headers=[link_header(req, page, result.has_more)])


def _replay_id(req: Request) -> str:
    replay_id = replay_id_or_none(req.params["replay_id"])
    if replay_id is None:
        raise NotFound(REPLAY_NOT_FOUND)
    return replay_id


_TRUE = frozenset({"t", "y", "yes", "true", "on", "1"})  # DRF's BooleanField spellings
_FALSE = frozenset({"f", "n", "no", "false", "off", "0"})


def _required(req: Request, name: str) -> str:
    """A required text parameter, with DRF's texts (naming the parameter)."""
    value = req.arg(name)
    if value is None:
        raise ApiError(f"{name}: This field is required.")
    if not value.strip():
        raise ApiError(f"{name}: This field may not be blank.")
    return value


def _boolean(req: Request, name: str) -> bool:
    value = req.arg(name)
    if value is None or value == "":
        return False
    if value.lower() in _TRUE or value.lower() in _FALSE:
        return value.lower() in _TRUE
    raise ApiError(f"{name}: Must be a valid boolean.")


class Api:
    """One method per route; each takes a `Request` and returns a `Response`."""

    def __init__(
        self,
        store: Store,
        engine: Executor,
        catalog: Catalog,
        ingest: Ingest,
        issue_resolver: replay_count.IssueResolver | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.catalog = catalog
        self.ingest = ingest
        self.issue_resolver = issue_resolver  # issue id -> event ids, for replay-count
        # Called with a new deletion job's id: the writer's job runner starts it (wsgi.py).
        self.job_started: Callable[[int], None] = lambda job_id: None

    # -- scope ---------------------------------------------------------------------------

    def _org_projects(self, req: Request) -> list[Project]:
        org = req.params["org"]
        if org not in self.catalog.organizations():
            # Reached only without auth or with a token of this very org (another org's
            # token is refused before, revealing nothing): say how to register it (issue 16).
            raise NotFound(UNKNOWN_ORG.format(org=org))
        return self.catalog.projects(org)

    def _project(self, req: Request) -> Project:
        self._org_projects(req)
        project = self.catalog.project(req.params["org"], req.params["project"])
        if project is None:
            raise NotFound()
        return project

    def _selected(self, req: Request) -> list[int]:
        """`project` ids (-1 = all) and `projectSlug`s, each one of the organization."""
        projects = self._org_projects(req)
        by_id = {p.id: p for p in projects}
        by_slug = {p.slug: p for p in projects}
        chosen: set[int] = set()
        for value in req.args("project"):
            if not re.fullmatch(r"-?\d{1,18}", value):
                raise ApiError("Invalid project parameter. Values must be numbers.")
            if int(value) == -1:
                chosen |= set(by_id)
            elif int(value) in by_id:
                chosen.add(int(value))
            else:
                raise ApiError(f"You do not have access to project {int(value)}", 403)
        for slug in req.args("projectSlug"):
            if slug not in by_slug:
                raise ApiError(f"You do not have access to project {slug}", 403)
            chosen.add(by_slug[slug].id)
        return sorted(chosen) if chosen or req.args("project") else sorted(by_id)

    # -- replays -------------------------------------------------------------------------

    def list_replays(self, req: Request) -> Response:
        project_ids = self._selected(req)
        page = _page(req, default_limit=LIST_LIMIT)
        sort = req.arg("sort") or req.arg("sortBy") or req.arg("orderBy") or replays.DEFAULT_SORT
        result = replays.list_replays(
            self.engine,
            project_ids=project_ids,
            window=_window(req, LIST_DAYS),
            page=page,
            query=req.arg("query") or "",
            sort=sort,
            environments=req.args("environment"),
            fields=parse_fields(req.args("field")),
            viewer=self._viewer(req),
        )
        response = _paged(req, page, result)
        preferred = req.headers.get(data_source.PREFERENCE_HEADER)
        source = data_source.data_source(req.arg("query") or "", sort, preferred)
        response.headers.append((data_source.HEADER, source))
        return response

    def _fetch(self, req: Request, project_ids: list[int]) -> Response:
        replay_id = _replay_id(req)
        found = replays.get_replay(
            self.engine,
            replay_id,
            project_ids=project_ids,
            window=_window(req, RETENTION_DAYS),
            fields=parse_fields(req.args("field")),
            viewer=self._viewer(req),
        )
        if found is None:
            raise NotFound(REPLAY_NOT_FOUND)
        return json_response({"data": found})

    def org_replay(self, req: Request) -> Response:
        return self._fetch(req, [p.id for p in self._org_projects(req)])

    def project_replay(self, req: Request) -> Response:
        return self._fetch(req, [self._project(req).id])

    def delete_replay(self, req: Request) -> Response:
        project = self._project(req)
        if not replays.delete_replay(self.store, project.id, _replay_id(req)):
            raise NotFound(REPLAY_NOT_FOUND)
        return Response(204, b"", content_type=None)

    # -- recording segments and clicks ---------------------------------------------------

    def recording_segments(self, req: Request) -> Response:
        project, replay_id = self._project(req), _replay_id(req)
        page = _page(req, default_limit=MAX_PAGE)
        window = _window(req, RETENTION_DAYS)
        result = segments.list_segments(
            self.engine, project.id, replay_id, window=window, page=page
        )
        if "download" not in req.query:
            return _paged(req, page, result)
        ids = [item["segmentId"] for item in result.items]
        body = segments.stream_segments(self.store, project.id, replay_id, ids)
        return Response(200, body, [link_header(req, page, result.has_more)])

    def recording_segment(self, req: Request) -> Response:
        project, replay_id = self._project(req), _replay_id(req)
        segment_id = segment_id_or_none(req.params["segment_id"])
        if segment_id is None:  # beyond the stored integer range: no such segment
            raise NotFound(SEGMENT_NOT_FOUND)
        window = _window(req, RETENTION_DAYS)
        found = segments.get_segment(self.engine, project.id, replay_id, segment_id, window=window)
        if found is None:
            raise NotFound(SEGMENT_NOT_FOUND)
        if "download" not in req.query:
            return json_response({"data": found})
        data = segments.segment_chunks(self.store, project.id, replay_id, segment_id)
        filename = f"replay-{replay_id}-segment-{segment_id}.json"
        disposition = ("Content-Disposition", f'attachment; filename="{filename}"')
        return Response(200, data, [disposition], content_type="application/octet-stream")

    def clicks(self, req: Request) -> Response:
        project, replay_id = self._project(req), _replay_id(req)
        page = _page(req, default_limit=MAX_PAGE)
        result = clicks.list_clicks(
            self.engine,
            project.id,
            replay_id,
            window=_window(req, RETENTION_DAYS),
            page=page,
            query=req.arg("query") or "",
        )
        return _paged(req, page, result)

    # -- tags ----------------------------------------------------------------------------

    def _tag_keys(self, req: Request, project_ids: list[int]) -> Response:
        page = _page(req, default_limit=MAX_PAGE)
        result = tags.tag_keys(
            self.engine,
            project_ids=project_ids,
            window=_window(req, LIST_DAYS),
            page=page,
            environments=req.args("environment"),
        )
        return _paged(req, page, result, wrap=False)

    def _tag_values(self, req: Request, project_ids: list[int]) -> Response:
        page = _page(req, default_limit=MAX_PAGE)
        result = tags.tag_values(
            self.engine,
            req.params["key"],
            project_ids=project_ids,
            window=_window(req, LIST_DAYS),
            page=page,
            environments=req.args("environment"),
            query=req.arg("query") or "",
            sort=req.arg("sort") or "-last_seen",
        )
        return _paged(req, page, result, wrap=False)

    def project_tag_keys(self, req: Request) -> Response:
        return self._tag_keys(req, [self._project(req).id])

    def project_tag_values(self, req: Request) -> Response:
        return self._tag_values(req, [self._project(req).id])

    def org_tag_keys(self, req: Request) -> Response:
        dataset = req.arg("dataset")
        if dataset is not None and dataset != "replays":
            raise ApiError("Invalid dataset parameter")
        return self._tag_keys(req, self._selected(req))

    def org_tag_values(self, req: Request) -> Response:
        return self._tag_values(req, self._selected(req))

    # -- Sentry's other replay routes ------------------------------------------

    def replay_selectors(self, req: Request) -> Response:
        """The dead/rage click selector ranking; `sortBy`/`orderBy` are ignored."""
        project_ids = self._selected(req)
        page = _page(req, default_limit=MAX_PAGE)
        result = selectors.list_selectors(
            self.engine,
            project_ids=project_ids,
            window=_window(req, RETENTION_DAYS),
            page=page,
            query=req.arg("query") or "",
            sort=req.arg("sort") or selectors.DEFAULT_SORT,
            environments=req.args("environment"),
        )
        return _paged(req, page, result)

    def replay_count(self, req: Request) -> Response:
        """Existing replays per issue, transaction or replay id; no `data` wrapper."""
        project_ids = self._selected(req)
        # Sentry answers {} before validating when nothing could match.
        org_ids = [p.id for p in self._org_projects(req)]
        if not project_ids or not replay_count.has_replays(self.engine, org_ids):
            return json_response({})
        query = _required(req, "query")
        source = req.arg("data_source")
        if source is not None and source not in replay_count.DATA_SOURCES:
            raise ApiError(f'data_source: "{source}" is not a valid choice.')
        return_ids = _boolean(req, "returnIds")
        window = _window(req, RETENTION_DAYS)
        chosen = replay_count.selection(query)
        if source == "spans" and len(chosen.values) > 1:
            raise ApiError("The spans data source only supports a single value")
        counts = replay_count.replay_counts(
            self.engine,
            query,
            project_ids=project_ids,
            window=window,
            return_ids=return_ids,
            resolver=self.issue_resolver,
        )
        return json_response(counts)

    # -- the organization's projects and linked events (what the web pages need) ---------

    def org_projects(self, req: Request) -> Response:
        """Sentry's project list of an organization: `id` (a string), `slug`, `name`."""
        projects = sorted(self._org_projects(req), key=lambda p: p.slug)
        return json_response([{"id": str(p.id), "slug": p.slug, "name": p.slug} for p in projects])

    def replays_events_meta(self, req: Request) -> Response:
        """Linked events by id (`query=id:[...]`), for a replay's timeline."""
        found = _EVENT_IDS.match(req.arg("query") or "")
        if found is None:
            raise ApiError("Invalid query: replays-events-meta accepts only `id:[ID, ...]`.")
        listed = found.group(1) if found.group(1) is not None else found.group(2)
        ids = {replay_id_or_none(value.strip()) for value in listed.split(",")} - {None}
        projects = self._org_projects(req)
        chosen = set(self._selected(req))
        page = _page(req, default_limit=MAX_PAGE)
        result = events.events_meta(
            self.engine,
            sorted(i for i in ids if i),
            project_slugs={p.id: p.slug for p in projects if p.id in chosen},
            window=_window(req, RETENTION_DAYS),
            page=page,
        )
        return _paged(req, page, result)

    # -- viewed-by and bulk deletion jobs (logic in query/viewed_by.py, job_params.py) --

    def _viewer(self, req: Request) -> int | None:
        """The requesting user for `has_viewed` and `viewed_by_me`; None while the snapshot
        holds no view at all (the answers are the same, and the list runs no views query)."""
        if req.user_id is None:
            return None
        snapshot = getattr(self.store, "snapshot", None)
        return req.user_id if snapshot is None or snapshot().files.get("viewers") else None

    def viewed_by(self, req: Request) -> Response:
        """`{"data": {"viewed_by": [user, ...]}}`: the organization's users who viewed it."""
        project, replay_id = self._project(req), _replay_id(req)
        window = _window(req, RETENTION_DAYS)
        if viewed_by.find_replay(self.engine, project.id, replay_id, window) is None:
            raise NotFound(REPLAY_NOT_FOUND)
        members = {user.id: user for user in self.catalog.org_users(project.org)}
        ids = viewed_by.viewer_ids(self.engine, project.id, replay_id)
        users = [viewed_by.user_object(members[i]) for i in ids if i in members]
        return json_response({"data": {"viewed_by": users}})

    def record_view(self, req: Request) -> Response:
        """204 once the token's user is recorded as a viewer."""
        if req.user_id is None:
            raise ApiError(viewed_by.NO_USER)
        project, replay_id = self._project(req), _replay_id(req)
        window = _window(req, RETENTION_DAYS)
        found = viewed_by.find_replay(self.engine, project.id, replay_id, window)
        if found is None:
            raise NotFound(REPLAY_NOT_FOUND)
        if not found["is_archived"]:  # a deleted replay's views are purged, none are added
            record_view(self.store, project.id, replay_id, req.user_id, found["started_at"])
        return Response(204, b"", content_type=None)

    def delete_jobs(self, req: Request) -> Response:
        project = self._project(req)
        size, number = jobs.parse_list_page(req.arg("per_page"), req.arg("cursor"))
        mine = [j for j in delete_jobs.all_jobs(self.store) if j.project_id == project.id]
        items, link = jobs.list_page(mine, size, number, req.url, req.query)
        return json_response({"data": items}, headers=[("Link", link)])

    def create_delete_job(self, req: Request) -> Response:
        """201 `{"data": job}` with the job `pending`; the writer's runner then works it."""
        project = self._project(req)
        try:
            given = jobs.parse_create(req.body)
        except jobs.JobInvalid as error:
            return json_response({"detail": error.detail, **error.errors}, 400)
        job = delete_jobs.create_job(
            self.store,
            organization=project.org,
            project_id=project.id,
            range_start=given["rangeStart"],
            range_end=given["rangeEnd"],
            environments=given["environments"],
            query=given["query"],
            user_id=req.user_id,
        )
        self.job_started(job.id)
        return json_response({"data": jobs.job_object(job)}, 201)

    def delete_job(self, req: Request) -> Response:
        project, job_id = self._project(req), int(req.params["job_id"])
        return json_response(
            {"data": jobs.one_job(delete_jobs.all_jobs(self.store), project.id, job_id)}
        )

    # -- envelope ingest -----------------------------------------------------------------

    def _request_key(self, req: Request) -> str | None:
        """The DSN public key the request itself carries (query string or auth header)."""
        sources = [req.arg("sentry_key")]
        for header in ("x-sentry-auth", "authorization"):
            value = req.headers.get(header, "")
            if value.lower().startswith("sentry "):
                match = _SENTRY_KEY.search(value)
                sources.append(match.group(1) if match else "")
        given = [s for s in sources if s is not None]
        if len(given) > 1:
            raise ApiError("multiple authorization payloads requested", 401)
        return given[0] if given else None

    def _project_for_key(self, key: str | None, project_id: int) -> Project:
        if not key:
            raise ApiError("missing authorization information", 401)
        if not key.isascii():
            raise ApiError("invalid api key", 401)
        project = self.catalog.project_for_dsn_key(key)
        if project is None:
            raise ApiError("invalid api key", 401)
        if project.id != project_id:
            raise ApiError("project id mismatch: the DSN key is not of this project", 403)
        return project

    def envelope(self, req: Request) -> Response:
        """Ingest one envelope. The key is checked before the body is decompressed: from the
        request when it has one, else (a tunnel) from the `dsn` of the header line alone."""
        project_id = int(req.params["project_id"])
        encoding = req.headers.get("content-encoding")
        key = self._request_key(req)
        headers = None
        if key is None:
            headers = envelope_headers(req.body, encoding)
            key = dsn_public_key(headers.get("dsn"))
        self._project_for_key(key, project_id)
        with GLOBAL_BUDGET.hold(len(req.body)):
            self.ingest.submit(
                EnvelopeInput(
                    body=req.body,
                    project_id=project_id,
                    client_ip=req.remote_addr,
                    user_agent=req.headers.get("user-agent"),
                    content_encoding=encoding,
                    received=datetime.now(UTC),
                    name="envelope",
                    live=True,
                )
            )
        event_id = (headers or envelope_headers(req.body, encoding)).get("event_id")
        return json_response(
            {"id": replay_id_or_none(event_id) if isinstance(event_id, str) else None}
        )
