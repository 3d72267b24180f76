"""A real replaystore server (the CLI, as a subprocess) and a static page server for e2e tests."""

from __future__ import annotations

import contextlib
import functools
import http.server
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.server_process import CLI, ServerProcess

E2E_DIR = Path(__file__).resolve().parent
DIST_DIR = E2E_DIR / "dist"  # the bundle setup.sh builds
PAGE_DIR = E2E_DIR / "page"


def cli(*args: str) -> str:
    """Run the replaystore CLI; its stdout, or a failure naming its stderr."""
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"replaystore {' '.join(args)}: {done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def request(url: str, *, method: str = "GET", body: bytes | None = None) -> Response:
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return Response(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


class Server(ServerProcess):
    """`replaystore serve --no-auth` on 127.0.0.1 over `data`, with JSON helpers."""

    def get(self, path: str) -> Response:
        return request(self.base + path)

    def get_json(self, path: str) -> Any:
        answer = self.get(path)
        assert answer.status == 200, (path, answer.status, answer.body[:500])
        return answer.json()


@contextlib.contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """Serve `folder` on a free 127.0.0.1 port in a thread; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def poll(check, *, attempts: int = 200, pause: float = 0.1):
    """Call `check` until it returns a truthy value; the last value otherwise (no time asserted)."""
    value = None
    for _ in range(attempts):
        value = check()
        if value:
            return value
        time.sleep(pause)
    return value
