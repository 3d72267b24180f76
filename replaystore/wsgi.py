"""The WSGI app: one routing table -> `api`, bearer auth, CORS for ingest, bounded bodies.

It is handed a built `Api`; `server.py` assembles one from a store and serves it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from replaystore.api import (
    INTERNAL_ERROR,
    Api,
    Request,
    Response,
    error_response,
    json_response,
)
from replaystore.errors import ApiError, NotFound, ReplayStoreError
from replaystore.metrics import REGISTRY
from replaystore.server_limits import MAX_BODY
from replaystore.web import pages
from replaystore.writer import Writer

log = logging.getLogger(__name__)
# The Link header repeats the request URL twice: bound it so answers stay parseable.
MAX_QUERY_STRING = 16 * 1024
MAX_HOST = 255
_CHUNK = 64 * 1024
RETRY_AFTER = 1  # seconds, on a 429 (the SDK waits that long before sending again)
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, OPTIONS"),
    (
        "Access-Control-Allow-Headers",
        "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, "
        "content-type, authentication, authorization, content-encoding, transfer-encoding",
    ),
    ("Access-Control-Expose-Headers", "x-sentry-error, x-sentry-rate-limits, retry-after"),
    ("Access-Control-Max-Age", "3600"),
)
_PARAM = {"segment_id": r"\d+", "project_id": r"\d{1,15}", "job_id": r"\d{1,18}"}


Handler = Callable[["WsgiApp", Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler  # called with the app and the request
    auth: bool = True  # bearer token required (the /api/0 routes)
    cors: bool = False

    @property
    def name(self) -> str:
        """The handler's name: the `route` label of the request metrics."""
        return self.handler.__name__

    def pattern(self) -> re.Pattern[str]:
        def group(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"(?P<{name}>{_PARAM.get(name, '[^/]+')})"

        body = re.sub(r"\{(\w+)\}", group, self.template.rstrip("/"))
        return re.compile(f"^{body}/?$")


REQUEST_SECONDS = Histogram(
    "replaystore_request_seconds",
    "Time to answer a request (queries included), by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route and path parameters of a request; NotFound, or 405 naming the allowed methods."""
    allowed: list[str] = []
    for route, pattern in COMPILED:
        found = pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        allowed.append(route.method)
    if allowed:
        raise MethodNotAllowed(method, sorted(set(allowed)))
    raise NotFound()


class MethodNotAllowed(ApiError):
    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f'Method "{method}" not allowed.', 405)
        self.allow = ", ".join(allowed)


def _read_body(environ: Environ) -> bytes:
    """The request body, refusing more than MAX_BODY bytes whatever Content-Length says."""
    stream = environ.get("wsgi.input")
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(f"Request body too large: the limit is {MAX_BODY} bytes", 413)
    if stream is None:
        return b""
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(_CHUNK, MAX_BODY + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(f"Request body too large: the limit is {MAX_BODY} bytes", 413)
    return b"".join(chunks)


def _query(environ: Environ) -> dict[str, list[str]]:
    raw = environ.get("QUERY_STRING", "")
    if len(raw) > MAX_QUERY_STRING:
        raise ApiError(
            f"Request URL too long: the query string may hold at most {MAX_QUERY_STRING} "
            "characters.",
            414,
        )
    parsed = urllib.parse.parse_qs(raw, keep_blank_values=True, max_num_fields=1000)
    if any("\x00" in v for vs in parsed.values() for v in vs) or any("\x00" in k for k in parsed):
        raise ApiError("Invalid query string: NUL characters are not allowed.")
    return parsed


def _headers(environ: Environ) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _path(environ: Environ) -> str:
    # PEP 3333 hands PATH_INFO over as latin-1 text of the raw bytes.
    raw = environ.get("PATH_INFO", "").encode("latin-1", "replace")
    return raw.decode("utf-8", "replace")


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class WsgiApp:
    """The WSGI callable over one data folder."""

    def __init__(
        self,
        api: Api,
        *,
        auth: bool = True,
        public_url: str | None = None,
        writer: Writer | None = None,
    ) -> None:
        self.api = api
        self.store = api.store
        self.catalog = api.catalog
        self.engine = api.engine
        self.auth = auth
        # Link headers start with the operator's public URL, or are relative: never the
        # request's Host, which a client chooses.
        self.public_url = (public_url or "").rstrip("/")
        self.writer = writer  # drained and released by close()

    @property
    def replayed(self) -> int:
        """Journal entries replayed at start (0 for a read-only app)."""
        return self.writer.replayed if self.writer is not None else 0

    def close(self) -> None:
        """Drain the journal into the tables and release the store (a writing app)."""
        if self.writer is not None:
            self.writer.close()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = _path(environ)
        extra: list[tuple[str, str]] = []
        try:
            route, params = match(method, path)
            if route.cors:
                extra.extend(CORS_HEADERS)
            response = self._dispatch(route, self._request(environ, method, path, params))
        except MethodNotAllowed as error:
            response = error_response(error)
            response.headers.append(("Allow", error.allow))
        except ReplayStoreError as error:
            response = error_response(error)
            if error.status == 429:
                response.headers.append(("Retry-After", str(RETRY_AFTER)))
        except RecursionError:
            response = error_response(ApiError("The request is too deeply nested."))
        except Exception:
            log.exception("internal error on %s %s", method, path)
            response = json_response({"detail": INTERNAL_ERROR}, 500)
        return self._send(response, extra, start_response)

    def _request(self, environ: Environ, method: str, path: str, params: dict) -> Request:
        host = environ.get("HTTP_HOST") or ""
        if len(host) > MAX_HOST:
            raise ApiError(f"Invalid Host header: longer than {MAX_HOST} characters.")
        return Request(
            method=method,
            path=path,
            params=params,
            query=_query(environ),
            headers=_headers(environ),
            body=_read_body(environ) if method in ("POST", "PUT", "PATCH") else b"",
            url=f"{self.public_url}{urllib.parse.quote(path)}",
            remote_addr=environ.get("REMOTE_ADDR"),
        )

    def _dispatch(self, route: Route, req: Request) -> Response:
        with REQUEST_SECONDS.labels(route=route.name).time():
            if route.auth and self.auth:
                req = self._authorize(req)
            return route.handler(self, req)

    def _authorize(self, req: Request) -> Request:
        """The request with the token's user, once the token is known to grant its org."""
        token = _bearer(req.headers)
        org = self.catalog.org_for_token(token) if token else None
        if org is None:
            raise ApiError(
                "Invalid token" if token else "Authentication credentials were not provided.", 401
            )
        # Another organization's routes answer 404, never revealing they exist.
        if org != req.params.get("org", org):
            raise NotFound()
        user = self.catalog.user_for_token(token) if token else None
        return dataclasses.replace(req, user_id=user.id if user else None)

    def organizations(self, req: Request) -> Response:
        """The organizations this request may read: the token's, or every one without auth."""
        token = _bearer(req.headers)
        orgs = self.catalog.organizations() if not self.auth else [self._token_org(token)]
        return json_response([{"slug": org, "name": org} for org in sorted(orgs)])

    def _token_org(self, token: str | None) -> str:
        org = self.catalog.org_for_token(token) if token else None
        if org is None:  # _authorize ran first; the catalog may have lost the token since
            raise ApiError("Invalid token", 401)
        return org

    def openapi(self, req: Request) -> Response:
        document = resources.files("replaystore").joinpath("openapi.json").read_bytes()
        return Response(200, document)

    def preflight(self, req: Request) -> Response:
        return Response(200, b"", content_type=None)

    def healthz(self, req: Request) -> Response:
        # The app answers only once built: the store open, recovered, its journal replaying.
        return json_response({"status": "ok"})

    def metrics(self, req: Request) -> Response:
        self.store.snapshot()  # refreshes the files-per-table gauges
        return Response(200, generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

    def _send(
        self, response: Response, extra: list[tuple[str, str]], start_response: StartResponse
    ) -> Iterable[bytes]:
        headers = list(response.headers) + extra
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        status = f"{response.status} {_REASONS.get(response.status, 'Status')}"
        if isinstance(response.body, bytes):
            headers.append(("Content-Length", str(len(response.body))))
            start_response(status, headers)
            return [response.body]
        start_response(status, headers)
        return _guarded(response.body)


def _api(method: Callable[[Api, Request], Response]) -> Handler:
    """A route to an `Api` method."""

    def handler(app: WsgiApp, req: Request) -> Response:
        return method(app.api, req)

    handler.__name__ = method.__name__
    return handler


def _page(name: str) -> Handler:
    """A route to one of the web pages (web/pages.py)."""

    def handler(app: WsgiApp, req: Request) -> Response:
        return pages.page(name, req, auth=app.auth)

    handler.__name__ = name
    return handler


def static(app: WsgiApp, req: Request) -> Response:
    return pages.static(req)


ORG = "/api/0/organizations/{org}"
PROJECT = "/api/0/projects/{org}/{project}/replays"
# Every route once: the seed's routes plus Sentry's org-wide and ingest routes.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/0/openapi.json", WsgiApp.openapi, auth=False),
    Route("GET", "/healthz", WsgiApp.healthz, auth=False),
    Route("GET", "/metrics", WsgiApp.metrics, auth=False),
    Route("GET", f"{ORG}/replays/", _api(Api.list_replays)),
    Route("GET", f"{ORG}/replays/{{replay_id}}/", _api(Api.org_replay)),
    Route("GET", f"{ORG}/tags/", _api(Api.org_tag_keys)),
    Route("GET", f"{ORG}/tags/{{key}}/values/", _api(Api.org_tag_values)),
    Route("GET", f"{PROJECT}/tags/", _api(Api.project_tag_keys)),
    Route("GET", f"{PROJECT}/tags/{{key}}/values/", _api(Api.project_tag_values)),
    Route("GET", f"{PROJECT}/{{replay_id}}/", _api(Api.project_replay)),
    Route("DELETE", f"{PROJECT}/{{replay_id}}/", _api(Api.delete_replay)),
    Route("GET", f"{PROJECT}/{{replay_id}}/recording-segments/", _api(Api.recording_segments)),
    Route(
        "GET",
        f"{PROJECT}/{{replay_id}}/recording-segments/{{segment_id}}/",
        _api(Api.recording_segment),
    ),
    Route("GET", f"{PROJECT}/{{replay_id}}/clicks/", _api(Api.clicks)),
    # Viewed-by and bulk deletion jobs.
    Route("GET", f"{PROJECT}/{{replay_id}}/viewed-by/", _api(Api.viewed_by)),
    Route("POST", f"{PROJECT}/{{replay_id}}/viewed-by/", _api(Api.record_view)),
    Route("GET", f"{PROJECT}/jobs/delete/", _api(Api.delete_jobs)),
    Route("POST", f"{PROJECT}/jobs/delete/", _api(Api.create_delete_job)),
    Route("GET", f"{PROJECT}/jobs/delete/{{job_id}}/", _api(Api.delete_job)),
    Route("POST", "/api/{project_id}/envelope/", _api(Api.envelope), auth=False, cors=True),
    Route("OPTIONS", "/api/{project_id}/envelope/", WsgiApp.preflight, auth=False, cors=True),
    # What the web pages read besides the replay routes (Sentry's routes of the same names).
    Route("GET", "/api/0/organizations/", WsgiApp.organizations),
    Route("GET", f"{ORG}/projects/", _api(Api.org_projects)),
    Route("GET", f"{ORG}/replays-events-meta/", _api(Api.replays_events_meta)),
    # Sentry's other replay routes.
    Route("GET", f"{ORG}/replay-selectors/", _api(Api.replay_selectors)),
    Route("GET", f"{ORG}/replay-count/", _api(Api.replay_count)),
    # The web pages: HTML shells without data, and their bundled scripts.
    Route("GET", "/", _page("page_list"), auth=False),
    Route("GET", "/replays/{project}/{replay_id}/", _page("page_player"), auth=False),
    Route("GET", "/selectors/", _page("page_selectors"), auth=False),
    Route("GET", "/static/{name}", static, auth=False),
)
COMPILED: tuple[tuple[Route, re.Pattern[str]], ...] = tuple((r, r.pattern()) for r in ROUTES)


def _guarded(body: Iterable[bytes]) -> Iterator[bytes]:
    """A streamed body; a failure mid-stream can only be logged (the status is sent)."""
    try:
        yield from body
    except Exception:
        log.exception("internal error while streaming a response")


_REASONS = {
    200: "OK",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    414: "URI Too Long",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
