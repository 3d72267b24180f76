"""The Python side of `browser.mjs`: one headless chromium per test module, driven by commands."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
from pathlib import Path
from typing import Any

WEB_TESTS = Path(__file__).resolve().parent
ANSWER_SECONDS = 90  # a bounded wait for one command, not a timing assertion


class BrowserError(AssertionError):
    pass


class Browser:
    """`call(op, **args)` runs one command of browser.mjs and returns its value."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(WEB_TESTS / "browser.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._answer() == "ready"

    def _answer(self) -> Any:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_SECONDS)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise BrowserError(f"the browser driver did not answer: {stderr[-3000:]}")
        answer = json.loads(line)
        if "error" in answer:
            raise BrowserError(answer["error"])
        return answer["ok"]

    def call(self, op: str, **args: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def eval(self, expr: str) -> Any:
        return self.call("eval", expr=expr)

    def wait_for(self, expr: str, timeout_ms: int = 30_000) -> None:
        self.call("waitFor", expr=expr, timeout=timeout_ms)

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrowserError):
                self.call("close")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
