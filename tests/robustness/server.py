"""`replaystore serve` and `replaystore compact` as real subprocesses, killable with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.robustness.wire import Wire

CLI = [sys.executable, "-m", "replaystore.cli"]
STARTUP_ATTEMPTS = 600  # x 0.1 s: a bounded wait, not a timing assertion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*CLI, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


class ServerProcess:
    """`replaystore serve --no-auth` over `data` on a fixed free port, restartable."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["serve", "--data", str(self.data), "--host", "127.0.0.1"]
        self.process = _spawn([*args, "--port", str(self.port), "--no-auth"], self.log)
        wire = Wire(self.base)
        for _ in range(STARTUP_ATTEMPTS):
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if wire.get("/api/0/openapi.json").status == 200:
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


def compact_process(data: Path) -> subprocess.Popen[bytes]:
    return _spawn(["compact", "--data", str(data)], data.parent / "compact.log")
