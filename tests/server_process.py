"""`replaystore serve` (and other CLI commands) as real, killable subprocesses for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# The `replaystore` console script, or its entry point where the script is not installed.
SCRIPT = Path(sys.executable).with_name("replaystore")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "replaystore.cli"]
STARTUP_SECONDS = 60  # a bounded wait, not a timing assertion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_cli(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start `replaystore ARGS` with its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [*CLI, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except urllib.error.HTTPError:
        return True  # it answered, which is all startup needs
    except OSError:
        return False


class ServerProcess:
    """`replaystore serve --no-auth` (or with auth) over `data` on 127.0.0.1, restartable on the
    same port."""

    def __init__(
        self, data: Path | str, extra: tuple[str, ...] = (), *, auth: bool = False
    ) -> None:
        self.data = data
        self.extra = extra  # more `serve` arguments, e.g. ("--read-only",)
        self.auth = auth
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        folder = Path(str(data).removeprefix("file://"))
        self.log = folder.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["serve", "--data", str(self.data), "--host", "127.0.0.1"]
        auth = [] if self.auth else ["--no-auth"]
        self.process = spawn_cli([*args, "--port", str(self.port), *auth, *self.extra], self.log)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            if _answers(f"{self.base}/api/0/openapi.json"):
                return
            time.sleep(0.1)
        raise AssertionError(f"server never answered: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
