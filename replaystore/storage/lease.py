"""The writer lease on object storage: one object taken by conditional put, renewed, expiring.

The lease is `writer-lease.json` in the store's root, holding the holder's details (as the
local lock file does), a random lease id and its time to live. Rules (issue 13):

- take it with `If-None-Match: *` when there is none;
- a lease whose last write (the server's `Last-Modified`) is older than its time to live, by
  the server's own clock (the `Date` of the same answer), has expired: take it over with
  `If-Match` its ETag, so of two writers racing for it exactly one wins;
- a live lease of someone else: StoreLocked naming the holder, the same error as the local lock;
- the holder renews it every third of its time to live with `If-Match` its own last ETag; a
  renewal that finds another ETag means the lease was taken over: the lease is lost, and
  every later publish of this writer is refused (`check`, which renews first when the last
  renewal is older than half the time to live: a writer that was paused past its lease
  finds out before it publishes, not after);
- release deletes it with `If-Match`, so a lease taken over meanwhile is left alone.

Judging expiry by the server's clock alone means writers' clocks need not agree.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import asdict
from datetime import timedelta

import orjson

from replaystore.errors import ReplayStoreError
from replaystore.storage.lock import Holder, StoreLocked
from replaystore.storage.objectstore import PreconditionFailed, StorageConfig, Versioned

log = logging.getLogger(__name__)

LEASE_FILE = "writer-lease.json"
# A crashed writer's lease is free after this long; the holder renews it every third of it.
LEASE_SECONDS = 30.0
LEASE_ENV = "REPLAYSTORE_LEASE_SECONDS"  # tests shorten it


class LeaseLost(ReplayStoreError):
    """This writer's lease was taken over (it could not renew it in time): it must stop."""

    status = 503


def lease_seconds() -> float:
    text = os.environ.get(LEASE_ENV)
    try:
        return max(1.0, float(text)) if text else LEASE_SECONDS
    except ValueError:
        return LEASE_SECONDS


class ObjectLease:
    """A `Lease` (see lock.py) on an object store; see the module docstring."""

    def __init__(self, config: StorageConfig, root: str, ttl: float | None = None) -> None:
        self.config = config
        self.root = root
        self.path = f"{root}/{LEASE_FILE}"
        self.ttl = ttl if ttl is not None else lease_seconds()
        self._etag: str | None = None
        self._body = b""
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewing = threading.Lock()
        self._confirmed = 0.0  # time.monotonic() of the last put that proved the lease ours

    # -- the Lease protocol ----------------------------------------------------------------

    def acquire(self, holder: Holder) -> None:
        body = orjson.dumps(
            {"holder": asdict(holder), "lease": uuid.uuid4().hex, "ttl_seconds": self.ttl}
        )
        current = self.config.get(self.path)
        try:
            if current is None:
                taken = self.config.put(self.path, body)
            elif _expired(current):
                taken = self.config.put(self.path, body, if_match=current.etag)
                log.warning(
                    "took over the expired writer lease of %s",
                    _describe(current),
                )
            else:
                raise StoreLocked(self.root, _holder(current.data))
        except PreconditionFailed:
            # Another writer took it between our read and our put.
            now = self.config.get(self.path)
            raise StoreLocked(self.root, _holder(now.data) if now else None) from None
        self._etag, self._body, self._lost = taken.etag, body, None
        self._confirmed = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._renew_loop, name="replaystore-lease", daemon=True
        )
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.ttl)
        etag, self._etag = self._etag, None
        if etag is None or self._lost:
            return
        try:
            self.config.delete(self.path, if_match=etag)
        except PreconditionFailed:
            log.warning("the writer lease of %s was taken over before its release", self.root)
        except OSError as error:
            log.warning("could not delete the writer lease of %s: %s", self.root, error)

    def holder(self) -> Holder | None:
        current = self.config.get(self.path)
        return _holder(current.data) if current is not None else None

    # -- renewal ---------------------------------------------------------------------------

    def check(self) -> None:
        """Raise LeaseLost when this writer no longer holds its lease (renewing it first when
        the last renewal is older than half its time to live)."""
        if not self._lost and time.monotonic() - self._confirmed > self.ttl / 2:
            self.renew()
        if self._lost:
            raise LeaseLost(
                f"this writer lost its lease on the store at {self.root} ({self._lost}); "
                "it must stop: restart it to take the store again"
            )

    def renew(self) -> None:
        """Extend the lease now (a put `If-Match` our own last ETag)."""
        with self._renewing:
            if self._etag is None or self._lost:
                return
            started = time.monotonic()
            try:
                self._etag = self.config.put(self.path, self._body, if_match=self._etag).etag
                self._confirmed = started
            except PreconditionFailed:
                now = self.config.get(self.path)
                by = _describe(now) if now else "nobody (it was deleted)"
                self._lost = f"taken over by {by}"
                log.error("writer lease of %s lost: %s", self.root, self._lost)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
                if self._lost:
                    return
            except Exception as error:  # storage unreachable: retry; lost once past the ttl
                log.warning("could not renew the writer lease of %s: %s", self.root, error)
                if time.monotonic() - self._confirmed > self.ttl:
                    self._lost = f"not renewed for {self.ttl:.0f} s: {error}"
                    log.error("writer lease of %s lost: %s", self.root, self._lost)
                    return


def _expired(current: Versioned) -> bool:
    try:
        ttl = float(orjson.loads(current.data).get("ttl_seconds", LEASE_SECONDS))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        ttl = LEASE_SECONDS  # unreadable: treat it as a lease of the default length
    return current.server_time - current.modified > timedelta(seconds=ttl)


def _holder(data: bytes) -> Holder | None:
    try:
        raw = orjson.loads(data).get("holder")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return Holder.from_json(orjson.dumps(raw)) if isinstance(raw, dict) else None


def _describe(current: Versioned) -> str:
    holder = _holder(current.data)
    return holder.describe() if holder else "an unknown writer"
