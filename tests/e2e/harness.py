"""A real replaystore server (the CLI, as a subprocess) and a static page server for e2e tests."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

E2E_DIR = Path(__file__).resolve().parent
DIST_DIR = E2E_DIR / "dist"  # the bundle setup.sh builds
PAGE_DIR = E2E_DIR / "page"
# The `replaystore` console script, or its entry point where the script is not installed.
SCRIPT = Path(sys.executable).with_name("replaystore")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "replaystore.cli"]
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class Server:
    """`replaystore serve --no-auth` on 127.0.0.1 over `data`, restartable on the same port."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"server-{self.port}.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            command = [*CLI, "serve", "--data", str(self.data), "--host", "127.0.0.1"]
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port), "--no-auth"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait_until_responds()

    def _wait_until_responds(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            with contextlib.suppress(OSError):
                request(f"{self.base}/api/0/openapi.json")
                return
            time.sleep(0.1)
        raise AssertionError(
            f"server did not answer in {STARTUP_SECONDS} s: {self.log.read_text()}"
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

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
