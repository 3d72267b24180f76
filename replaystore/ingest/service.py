"""The durable ingest service behind the envelope endpoint: validate, journal, batch, commit.

`submit` validates one envelope, appends it to the journal (fsync, shared by concurrent
submitters) and returns: from then on the envelope survives a crash. A background
thread groups journaled envelopes into one store commit per `max_delay` seconds or `max_batch`
envelopes, then checkpoints the journal. On start, journaled envelopes that were never
checkpointed are committed again; store writes are idempotent upserts, so a crash between a
commit and its checkpoint is harmless.

Failures: only an envelope that cannot be parsed is refused, and `submit` decides that before
it returns (before the 200). A store-side failure (a commit conflict, an I/O error, the store
being down) is never a reason to give an acknowledged envelope up: the whole group is written
again, from the start, with exponential backoff, until it commits; meanwhile it stays
journaled, so a restart replays it. The one envelope ever set aside (in `rejected/`, kept on
disk and logged) is one replayed from the journal that this code can no longer parse (it was
journaled by another version).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import orjson
from prometheus_client import Counter, Histogram

from replaystore.errors import ApiError, IngestError
from replaystore.ingest.assemble import Collector
from replaystore.ingest.envelopes import EnvelopeInput, collect_envelope
from replaystore.ingest.inflate import MAX_DECOMPRESSED
from replaystore.ingest.journal import Journal
from replaystore.metrics import REGISTRY
from replaystore.storage.batch import WriteBatch

log = logging.getLogger(__name__)

REJECTED_DIR = "rejected"

ENVELOPES_ACCEPTED = Counter(
    "replaystore_ingest_envelopes_accepted",
    "Envelopes acknowledged (validated and journaled) by the ingest service",
    registry=REGISTRY,
)
ENVELOPES_REFUSED = Counter(
    "replaystore_ingest_envelopes_refused",
    "Envelopes refused before acknowledgement because they cannot be parsed",
    registry=REGISTRY,
)
COMMIT_FAILURES = Counter(
    "replaystore_ingest_commit_failures",
    "Store writes of an ingest group that failed and were retried",
    registry=REGISTRY,
)
VISIBILITY_LAG = Histogram(
    "replaystore_visibility_lag_seconds",
    "Time from an envelope's acknowledgement to its commit being queryable",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)


class BatchWriter(Protocol):
    def write(self, batch: WriteBatch) -> None: ...


def build_rows(envelope: EnvelopeInput) -> Collector:
    """The envelope's rows, or IngestError where `build_batch([envelope])` would raise it.

    Runs build_batch's checks without building Arrow tables, which costs ~10x more; the
    batcher builds its batch from these rows instead of parsing the envelope again.
    """
    received = envelope.received or datetime.now(UTC)
    rows = Collector()
    collect_envelope(envelope, rows, now=received, limit=MAX_DECOMPRESSED)
    return rows


def request_fields(envelope: EnvelopeInput) -> dict[str, object]:
    """Every field of `envelope` but its body, as JSON-ready values."""
    meta: dict[str, object] = {f.name: getattr(envelope, f.name) for f in fields(envelope)}
    del meta["body"]
    meta["received"] = envelope.received.isoformat() if envelope.received else None
    return meta


def encode_envelope(envelope: EnvelopeInput) -> bytes:
    """A journal payload: one JSON line of the request fields, then the body bytes."""
    return orjson.dumps(request_fields(envelope)) + b"\n" + envelope.body


def decode_envelope(payload: bytes) -> EnvelopeInput:
    line, _, body = payload.partition(b"\n")
    meta = orjson.loads(line)
    received = meta.pop("received")
    return EnvelopeInput(
        body=body, received=datetime.fromisoformat(received) if received else None, **meta
    )


@dataclass(frozen=True)
class _Undecodable:
    """A journal record whose payload is not an encoded envelope (kept to be set aside)."""

    payload: bytes
    name: str | None = None


def _decoded(payload: bytes) -> EnvelopeInput | _Undecodable:
    try:
        return decode_envelope(payload)
    except (ValueError, TypeError, KeyError):  # orjson's JSONDecodeError is a ValueError
        return _Undecodable(payload)


@dataclass(frozen=True)
class _Queued:
    seq: int
    envelope: EnvelopeInput | _Undecodable
    rows: Collector | None = None  # None for an envelope replayed from the journal
    acked_at: float | None = None  # time.monotonic() of the acknowledgement in this process


def _batch(group: list[_Queued]) -> WriteBatch:
    """One batch of the group's (already parsed) rows."""
    rows = Collector()
    for queued in group:
        assert queued.rows is not None
        rows.absorb(queued.rows)
    return rows.build()


class IngestService:
    """Durable, batched envelope ingest into `store`, journaled in `journal_dir`."""

    def __init__(
        self,
        store: BatchWriter,
        journal_dir: str | Path,
        *,
        max_batch: int = 500,
        max_delay: float = 0.2,
        retry_delay: float = 0.05,
        max_retry_delay: float = 5.0,
    ) -> None:
        self._store = store
        self._journal = Journal(journal_dir)
        self._rejected_dir = Path(journal_dir) / REJECTED_DIR
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._cond = threading.Condition()
        recovered = [_Queued(r.seq, _decoded(r.payload)) for r in self._journal.pending()]
        self.replayed = len(recovered)  # journaled envelopes found uncommitted at start
        if recovered:
            log.info("ingest: replaying %d journaled envelope(s)", len(recovered))
        self._queue: deque[_Queued] = deque(recovered)
        self._done_through = self._journal.checkpoint
        self._last_seq = max((q.seq for q in recovered), default=self._done_through)
        self._due_at: float | None = 0.0 if recovered else None
        self._urgent = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="replaystore-ingest", daemon=True)
        self._thread.start()

    # -- the request side -----------------------------------------------------------------

    def submit(self, envelope: EnvelopeInput) -> None:
        """Validate and journal one envelope; durable and bound for the store on return.

        Raises IngestError for an envelope that can never be stored (nothing is journaled).
        """
        if self._closing:
            raise ApiError("ingest is shutting down", 503)
        if envelope.received is None:
            # Fixed now so a replay after a crash stores the same received time.
            envelope = replace(envelope, received=datetime.now(UTC))
        try:
            rows = build_rows(envelope)
        except IngestError:
            ENVELOPES_REFUSED.inc()
            raise
        seq = self._journal.append(encode_envelope(envelope))
        ENVELOPES_ACCEPTED.inc()
        with self._cond:
            self._queue.append(_Queued(seq, envelope, rows, time.monotonic()))
            self._last_seq = max(self._last_seq, seq)
            if self._due_at is None:
                self._due_at = time.monotonic() + self._max_delay
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed (or rejected); False on timeout."""
        with self._cond:
            target = self._last_seq
            self._urgent += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._done_through >= target, timeout)
            finally:
                self._urgent -= 1

    def close(self, timeout: float | None = None) -> bool:
        """Commit what is queued, then stop; whatever could not be committed stays journaled.
        False when the batcher was still writing at the timeout."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._journal.close()
        return True

    def __enter__(self) -> IngestService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the batcher thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            group = self._take()
            if group is None:
                return
            try:
                committed = self._commit(group)
            except Exception:
                log.exception("ingest: batcher failed; the group goes back in the queue")
                committed = False
                with self._cond:
                    self._queue.extendleft(reversed(group))
                    self._due_at = 0.0
                    self._cond.wait_for(lambda: self._closing, self._max_retry_delay)
            if not committed and self._closing:
                log.warning("ingest: stopping with uncommitted envelopes left in the journal")
                return

    def _take(self) -> list[_Queued] | None:
        """The next group to commit, once it is due; None when closing with nothing queued."""
        with self._cond:
            while True:
                if self._queue:
                    wait = (self._due_at or 0.0) - time.monotonic()
                    full = len(self._queue) >= self._max_batch
                    if full or self._closing or self._urgent or wait <= 0:
                        break
                    self._cond.wait(wait)
                elif self._closing:
                    return None
                else:
                    self._cond.wait()
            group = self._pop(self._max_batch)
            # A backlog left behind is already due.
            self._due_at = 0.0 if self._queue else None
            return group

    def _pop(self, count: int) -> list[_Queued]:
        return [self._queue.popleft() for _ in range(min(count, len(self._queue)))]

    def _commit(self, group: list[_Queued]) -> bool:
        """Write `group` whole, retrying store failures with backoff until it commits; False
        when given up because the service is closing (the group stays journaled)."""
        group = self._parsed(group)
        delay = self._retry_delay
        attempt = 0
        while group:
            error = self._write(group)
            if error is None:
                self._mark_done(group)
                now = time.monotonic()
                for queued in group:
                    if queued.acked_at is not None:
                        VISIBILITY_LAG.observe(now - queued.acked_at)
                return True
            attempt += 1
            COMMIT_FAILURES.inc()
            if self._closing and attempt > 1:
                return False  # tried again after the close began: leave it to the next start
            log.warning(
                "ingest: commit of %d envelope(s) failed (attempt %d), retrying in %.2f s: %s",
                len(group),
                attempt,
                delay,
                error,
            )
            with self._cond:
                self._cond.wait_for(lambda: self._closing, delay)
            delay = min(delay * 2, self._max_retry_delay)
        return True

    def _parsed(self, group: list[_Queued]) -> list[_Queued]:
        """The group with rows for every envelope replayed from the journal; one this code
        cannot parse any more is set aside (it was acknowledged by another version)."""
        parsed: list[_Queued] = []
        unparseable: list[_Queued] = []
        for queued in group:
            if queued.rows is not None:
                parsed.append(queued)
                continue
            try:
                envelope = queued.envelope
                if isinstance(envelope, _Undecodable):
                    raise IngestError(f"journal record {queued.seq} is not an envelope record")
                parsed.append(replace(queued, rows=build_rows(envelope)))
            except IngestError as error:
                self._reject(queued, error)
                unparseable.append(queued)
        self._mark_done(unparseable)
        return parsed

    def _write(self, group: list[_Queued]) -> Exception | None:
        try:
            batch = _batch(group)
            if not batch.is_empty():
                self._store.write(batch)
        except Exception as error:  # any store fault: the records stay journaled
            return error
        return None

    def _reject(self, queued: _Queued, error: Exception) -> None:
        log.error(
            "ingest: setting aside envelope %r (seq %d): %s",
            queued.envelope.name,
            queued.seq,
            error,
        )
        self._rejected_dir.mkdir(parents=True, exist_ok=True)
        stem = self._rejected_dir / f"{queued.seq:020d}"
        envelope = queued.envelope
        if isinstance(envelope, _Undecodable):
            stem.with_suffix(".envelope").write_bytes(envelope.payload)
            meta: dict[str, object] = {"name": None}
        else:
            stem.with_suffix(".envelope").write_bytes(envelope.body)
            meta = request_fields(envelope)
        meta["error"] = f"{type(error).__name__}: {error}"
        stem.with_suffix(".json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))

    def _mark_done(self, queued: Iterable[_Queued]) -> None:
        seqs = [q.seq for q in queued]
        if not seqs:
            return
        try:
            done_through = self._journal.commit(seqs)
        except OSError:
            # Committed all the same; a lost checkpoint only means a harmless replay later.
            log.exception("ingest: could not checkpoint the journal")
            done_through = self._journal.checkpoint
        with self._cond:
            self._done_through = max(self._done_through, done_through)
            self._cond.notify_all()
