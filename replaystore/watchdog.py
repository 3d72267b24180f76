"""One daemon thread that runs callbacks at deadlines, for per-query time caps.

A `threading.Timer` per query starts an OS thread and waits for it to run: ~0.2 ms on an
idle machine, 3 ms per query on the busy 2-core benchmark box (profile of the default list).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Watchdog:
    """`schedule(delay, callback)` runs callback once after delay seconds unless cancelled."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._pending: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, callback: Callable[[], None]) -> int:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
                self._thread.start()
            token = next(self._tokens)
            heapq.heappush(self._heap, (time.monotonic() + delay, token, callback))
            self._pending.add(token)
            self._cond.notify()
            return token

    def cancel(self, token: int) -> None:
        with self._cond:
            self._pending.discard(token)

    def _next_due(self) -> Callable[[], None]:
        """Wait (lock held) for the earliest callback that is still pending and due."""
        while True:
            while self._heap and self._heap[0][1] not in self._pending:
                heapq.heappop(self._heap)  # cancelled: dropped
            if not self._heap:
                self._cond.wait()
                continue
            due, token, callback = self._heap[0]
            wait = due - time.monotonic()
            if wait <= 0:
                heapq.heappop(self._heap)
                self._pending.discard(token)
                return callback
            self._cond.wait(wait)

    def _run(self) -> None:
        while True:
            with self._cond:
                callback = self._next_due()
            # A failing callback must not stop the other deadlines.
            with contextlib.suppress(Exception):
                callback()
