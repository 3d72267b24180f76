"""`replaystore serve` and `replaystore compact` as real subprocesses, killable with SIGKILL."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.server_process import ServerProcess, spawn_cli

__all__ = ["ServerProcess", "compact_process"]


def compact_process(data: Path) -> subprocess.Popen[bytes]:
    return spawn_cli(["compact", "--data", str(data)], data.parent / "compact.log")
