"""A raw HTTP client for fuzzing: exact request targets and bodies, a timeout on every call.

`requests` re-quotes URLs and refuses some bytes; `http.client` sends the target we built.
Every call has a socket timeout, so a hung server fails the test instead of hanging it.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

TIMEOUT = 60.0  # seconds: generous for 2 shared cores, but a hang still ends


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def segment(value: str) -> str:
    """A path segment, percent-encoded byte for byte (lone surrogates become invalid UTF-8)."""
    return urllib.parse.quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")


def query_string(pairs: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{segment(k)}={segment(v)}" for k, v in pairs)


def target(path: str, pairs: Sequence[tuple[str, str]] = ()) -> str:
    return f"{path}?{query_string(pairs)}" if pairs else path


class Wire:
    """One keep-alive connection per thread to a server on 127.0.0.1."""

    def __init__(self, base: str, token: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.token = token
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            self._local.con = con
        return con

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        bearer = token if token is not None else self.token
        if bearer and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {bearer}"
        for attempt in range(2):
            con = self._connection()
            try:
                con.request(method, path, body=body, headers=sent)
                response = con.getresponse()
                data = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                # The server may close an idle keep-alive connection; one fresh retry.
                con.close()
                self._local.con = None
                if attempt:
                    raise
                continue
            except Exception:
                # Any other failure leaves the connection mid-exchange: never reuse it, or one
                # bad answer would fail every later case of this thread.
                con.close()
                self._local.con = None
                raise
            if response.getheader("connection", "").lower() == "close":
                con.close()
                self._local.con = None
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)


def check_answer(answer: Answer, what: object = "") -> None:
    """What every answer to client input must be: no 5xx, errors as `{"detail": "..."}`."""
    assert answer.status < 500, (what, answer.status, answer.body[:300])
    if answer.status >= 400:
        detail = orjson.loads(answer.body).get("detail")
        assert isinstance(detail, str) and detail, (what, answer.status, answer.body[:300])
    elif answer.headers.get("content-type") == "application/json":
        orjson.loads(answer.body)
