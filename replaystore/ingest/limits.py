"""What one envelope may cost to decode, and the memory budget all envelopes share.

Every limit is checked while the bytes are produced (decompressed chunk by chunk, JSON values
counted before a document is parsed), so a refused envelope costs about the limit, not its
decompressed size. A refusal is an `IngestError` with a 413 (sizes) or 400 (shapes) status,
counted in `replaystore_ingest_refused_total{reason}`.

The budget: an HTTP request charges what it holds (its body, decompressed bytes, the estimated
size of decoded JSON) to one process-wide `Budget`; when the budget is spent, the next charge
waits for other requests to finish, and past `BUDGET_WAIT` the request is answered 429. So many
expensive requests at once are served a few at a time instead of exhausting the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from prometheus_client import Counter, Gauge

from replaystore.errors import ApiError, IngestError
from replaystore.metrics import REGISTRY

MAX_HEADER_LINE = 64 * 1024  # the envelope header line (read alone for a tunnel's `dsn`)
# JSON values (objects, arrays, scalars) in one document: a real rrweb segment holds about one
# per 7.5 bytes, so 1M is a ~7 MB segment; decoded, a value costs 40-100 bytes of Python.
MAX_JSON_VALUES = 1_000_000
MAX_RRWEB_EVENTS = 100_000  # top-level rrweb events in one segment
MAX_JSON_DEPTH = 1024  # orjson's own nesting limit, reported as ours
COST_PER_VALUE = 100  # bytes of Python objects per decoded JSON value (the worst measured)
INGEST_BUDGET = 256 * 1024 * 1024  # bytes all envelopes being decoded may hold at once
BUDGET_WAIT = 10.0  # seconds a request waits for budget before it is answered 429

REFUSED = Counter(
    "replaystore_ingest_refused_total",
    "Envelopes refused by an ingest limit, by limit.",
    ["reason"],
    registry=REGISTRY,
)
BUDGET_IN_USE = Gauge(
    "replaystore_ingest_budget_bytes",
    "Bytes charged to the ingest budget by the envelopes being decoded now.",
    registry=REGISTRY,
)
BUDGET_REFUSED = Counter(
    "replaystore_ingest_budget_exhausted_total",
    "Envelope requests answered 429 because the ingest budget stayed spent.",
    registry=REGISTRY,
)


def refuse(reason: str, field: str, detail: str, status: int = 400) -> IngestError:
    """The error for a limit hit (and one more in its counter)."""
    REFUSED.labels(reason).inc()
    return IngestError(f"field {field!r}: {detail}", field=field, status=status)


class Budget:
    """Bytes shared by concurrent requests; `hold()` scopes one request's charges."""

    def __init__(self, capacity: int = INGEST_BUDGET, wait: float = BUDGET_WAIT) -> None:
        self.capacity = capacity
        self.wait = wait
        self.used = 0
        self._cond = threading.Condition()

    def _take(self, size: int, deadline: float) -> None:
        with self._cond:
            # One charge larger than the whole budget would wait forever: it waits for an
            # idle process instead.
            need = min(size, self.capacity)
            while self.used and self.used + need > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    BUDGET_REFUSED.inc()
                    raise ApiError("The server is busy decoding other envelopes; retry later.", 429)
                self._cond.wait(left)
            self.used += size
            BUDGET_IN_USE.set(self.used)

    def _give(self, size: int) -> None:
        with self._cond:
            self.used -= size
            BUDGET_IN_USE.set(self.used)
            self._cond.notify_all()

    @contextmanager
    def hold(self, initial: int = 0) -> Iterator[None]:
        """Charges made by `charge()` in this block (and `initial`) are returned at its end."""
        held = _Held(self, time.monotonic() + self.wait)
        token = _CURRENT.set(held)
        try:
            held.charge(initial)
            yield
        finally:
            _CURRENT.reset(token)
            if held.size:
                self._give(held.size)


class _Held:
    def __init__(self, budget: Budget, deadline: float) -> None:
        self.budget = budget
        self.deadline = deadline
        self.size = 0

    def charge(self, size: int) -> None:
        if size > 0:
            self.budget._take(size, self.deadline)
            self.size += size


_CURRENT: ContextVar[_Held | None] = ContextVar("replaystore_ingest_budget", default=None)
GLOBAL_BUDGET = Budget()


def charge(size: int) -> None:
    """Charge `size` bytes to the request being decoded (nothing outside `Budget.hold`)."""
    held = _CURRENT.get()
    if held is not None:
        held.charge(size)


# Below this size a document is not scanned: it cannot hold more than size / 2 + 1 values.
SMALL_DOCUMENT = 64 * 1024


def json_values(text: bytes) -> int:
    """An upper bound on the JSON values in `text` (each but the first follows `[`, `,` or
    `:`; `{` is counted for objects), at the speed of `bytes.count`."""
    if len(text) <= SMALL_DOCUMENT:
        return len(text) // 2 + 1
    return text.count(b"[") + text.count(b"{") + text.count(b",") + text.count(b":") + 1


class ValueCounter:
    """Counts JSON values chunk by chunk and refuses a document past `limit` of them."""

    def __init__(self, field: str, limit: int = MAX_JSON_VALUES) -> None:
        self.field = field
        self.limit = limit
        self.count = 0

    def add(self, chunk: bytes) -> None:
        self.count += json_values(chunk)
        if self.count > self.limit:
            raise refuse(
                "json_values",
                self.field,
                f"more than {self.limit} JSON values: the limit of one document",
                413,
            )


def loads(text: bytes, field: str, *, counted: int | None = None) -> Any:
    """`orjson.loads` of one document within the value and depth limits, its estimated
    decoded size charged to the budget; `counted` is a value count already made."""
    values = json_values(text) if counted is None else counted
    if values > MAX_JSON_VALUES:
        raise refuse(
            "json_values", field, f"more than {MAX_JSON_VALUES} JSON values: the limit", 413
        )
    charge(values * COST_PER_VALUE)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):
            raise refuse(
                "json_depth", field, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            ) from None
        raise
