"""A small client of a Replays API server: bearer token, cursor pages, 429 and retries."""

from __future__ import annotations

import email.utils
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

import orjson

from replaystore.errors import ReplayStoreError

MAX_ATTEMPTS = 8  # per request, 429s and 5xx answers together
CONNECT_ATTEMPTS = 3  # a server that does not answer at all is given up on sooner
MAX_WAIT = 120.0  # seconds: the longest Retry-After honoured as given
BACKOFF = 0.5  # seconds before the first retry of a failure without Retry-After
TIMEOUT = 60.0  # seconds a silent connection is given
USER_AGENT = "replaystore-import"
_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[a-z]+="[^"]*")*)')
_LINK_PARAM = re.compile(r'([a-z]+)="([^"]*)"')


class TransferError(ReplayStoreError):
    """The source refused or failed a request (after the retries), or answered nonsense."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise TransferError(
                f"the source answered something that is not JSON: {self.body[:80]!r}"
            ) from None


def next_cursor(link: str | None) -> str | None:
    """The cursor of a Sentry `Link` header's `rel="next"` part when it says `results="true"`."""
    for _, params in _LINK.findall(link or ""):
        found = dict(_LINK_PARAM.findall(params))
        if found.get("rel") == "next":
            return found.get("cursor") if found.get("results") == "true" else None
    return None


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_WAIT)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC).timestamp()
    return min(max(0.0, when.timestamp() - current), MAX_WAIT)


@dataclass
class Counters:
    """What the client did, for the import's report (thread-safe increments)."""

    requests: int = 0
    rate_limited: int = 0
    retried: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class Client:
    """GETs under `{root}/api/0` with `Authorization: Bearer TOKEN`; safe from many threads."""

    def __init__(
        self,
        root: str,
        token: str | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = MAX_ATTEMPTS,
    ) -> None:
        parsed = urllib.parse.urlsplit(root)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise TransferError(f"--from must be an http(s) URL of a server's root, got {root!r}")
        self.root = root.rstrip("/")
        self.token = token
        self.sleep = sleep
        self.attempts = attempts
        self.counters = Counters()

    def url(self, path: str, params: list[tuple[str, str]] | None = None) -> str:
        query = urllib.parse.urlencode(params or [], safe=":")
        return f"{self.root}/api/0{path}" + (f"?{query}" if query else "")

    @overload
    def get(self, path: str, params: list[tuple[str, str]] | None = None) -> Answer: ...

    @overload
    def get(
        self, path: str, params: list[tuple[str, str]] | None = None, *, missing_ok: bool
    ) -> Answer | None: ...

    def get(
        self, path: str, params: list[tuple[str, str]] | None = None, *, missing_ok: bool = False
    ) -> Answer | None:
        """One GET, retried on 429 (after `Retry-After`), 5xx and connection failures; with
        `missing_ok`, None for a 404."""
        url = self.url(path, params)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        wait = BACKOFF
        for attempt in range(1, self.attempts + 1):
            self.counters.add("requests")
            try:
                request = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                    return Answer(answer.status, answer.read(), dict(answer.headers.items()))
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read()
                if status == 404 and missing_ok:
                    return None
                if status != 429 and status < 500:
                    raise TransferError(_refusal(url, status, body)) from None
                delay = retry_after(error.headers.get("Retry-After"))
                if status == 429:
                    self.counters.add("rate_limited")
                problem = f"{status} from {url}"
            except (urllib.error.URLError, OSError) as error:
                delay, problem = None, f"{url}: {getattr(error, 'reason', error)}"
                if attempt >= min(CONNECT_ATTEMPTS, self.attempts):
                    raise TransferError(f"the source does not answer: {problem}") from None
            if attempt == self.attempts:
                raise TransferError(f"gave up after {attempt} attempts: {problem}")
            self.counters.add("retried")
            self.sleep(delay if delay is not None else wait)
            wait = min(wait * 2, MAX_WAIT)
        raise AssertionError("unreachable")

    def pages(
        self, path: str, params: list[tuple[str, str]], cursor: str | None = None
    ) -> Iterator[tuple[Answer, str | None]]:
        """Each page of a cursor-paged route with the cursor of the page after it (or None)."""
        while True:
            answer = self.get(path, [*params, *([("cursor", cursor)] if cursor else [])])
            cursor = next_cursor(answer.headers.get("Link") or answer.headers.get("link"))
            yield answer, cursor
            if cursor is None:
                return

    def data_pages(self, path: str, params: list[tuple[str, str]]) -> Iterator[list[Any]]:
        """The `data` list of every page."""
        for answer, _ in self.pages(path, params):
            yield data_of(answer)


def data_of(answer: Answer) -> list[Any]:
    """The results of one page: its `data` list (or the body, where a route sends a bare list)."""
    body = answer.json()
    data = body.get("data") if isinstance(body, dict) else body
    if not isinstance(data, list):
        raise TransferError(f"expected a list of results, got {str(body)[:80]}")
    return data


def _refusal(url: str, status: int, body: bytes) -> str:
    try:
        detail = orjson.loads(body).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    hint = {401: " (check --token)", 403: " (the token lacks access)", 404: " (check --org)"}
    return f"the source answered {status} for {url}: {detail or body[:120]!r}{hint.get(status, '')}"
