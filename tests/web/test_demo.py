"""`replaystore demo` ends by printing the list and a replay to watch, and both pages work."""

from __future__ import annotations

import contextlib
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from replaystore.demo import CAPTURE_PROJECT, CAPTURE_REPLAY
from tests.e2e.harness import poll, request
from tests.server_process import CLI, STARTUP_SECONDS, free_port

pytestmark = pytest.mark.slow


def _printed_urls(process: subprocess.Popen[str]) -> list[str]:
    """The URLs of the demo's output, read until its last line ("Watch one: ...")."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x) for x in process.stdout or ()], daemon=True
    ).start()
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and not any(line.startswith("Watch") for line in seen):
        with contextlib.suppress(queue.Empty):
            seen.append(lines.get(timeout=1))
    return re.findall(r"http://\S+", "".join(seen))


def _answers(url: str) -> bool:
    try:
        return request(url).status == 200
    except OSError:
        return False


def test_demo_prints_the_list_and_the_capture_replay(tmp_path: Path) -> None:
    port = free_port()
    args = ["demo", "--data", str(tmp_path / "demo"), "--port", str(port), "--replays", "20"]
    process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, text=True)
    try:
        urls = _printed_urls(process)
        base = f"http://127.0.0.1:{port}"
        listed, watched = urls[-2], urls[-1]
        assert listed.startswith(f"{base}/?")
        assert watched.startswith(f"{base}/replays/{CAPTURE_PROJECT[1]}/{CAPTURE_REPLAY}/")
        assert poll(lambda: _answers(listed)), "the demo server never answered"
        for url in (listed, watched):
            answer = request(url)
            assert answer.status == 200 and b'content="none"' in answer.body
        api = f"{base}/api/0/projects/{CAPTURE_PROJECT[0]}/{CAPTURE_PROJECT[1]}/replays/"
        assert request(f"{api}{CAPTURE_REPLAY}/").json()["data"]["id"] == CAPTURE_REPLAY
    finally:
        process.terminate()
        process.wait(timeout=30)
