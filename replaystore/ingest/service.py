"""The durable ingest service behind the envelope endpoint: validate, journal, batch, commit.

`submit` validates one envelope, appends it to the journal (fsync, shared by concurrent
submitters) and returns: from then on the envelope survives a crash (SPEC §2). A background
thread groups journaled envelopes into one store commit per `max_delay` seconds or `max_batch`
envelopes, then checkpoints the journal. On start, journaled envelopes that were never
checkpointed are committed again; store writes are idempotent upserts, so a crash between a
commit and its checkpoint is harmless.

Failures: a batch the store refuses is retried one envelope at a time. An envelope that fails
alone, and again right after another envelope's write succeeded, is a poison envelope: it is
set aside in `rejected/` and logged. When every write fails the store itself is down: the
envelopes stay journaled and are retried with exponential backoff.
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

from replaystore.errors import ApiError, IngestError
from replaystore.ingest.assemble import Collector
from replaystore.ingest.envelopes import EnvelopeInput, collect_envelope
from replaystore.ingest.inflate import MAX_DECOMPRESSED
from replaystore.ingest.journal import Journal
from replaystore.storage.batch import WriteBatch

log = logging.getLogger(__name__)

REJECTED_DIR = "rejected"


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
class _Queued:
    seq: int
    envelope: EnvelopeInput
    rows: Collector | None = None  # None for an envelope replayed from the journal


def _batch(group: list[_Queued]) -> WriteBatch:
    """One batch of the group's rows, collecting only envelopes not validated in this process."""
    rows = Collector()
    for queued in group:
        if queued.rows is None:
            rows.absorb(build_rows(queued.envelope))
        else:
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
        recovered = [_Queued(r.seq, decode_envelope(r.payload)) for r in self._journal.pending()]
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
        rows = build_rows(envelope)
        seq = self._journal.append(encode_envelope(envelope))
        with self._cond:
            self._queue.append(_Queued(seq, envelope, rows))
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

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued, then stop; whatever could not be committed stays journaled."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._journal.close()

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
        """Write `group` (retrying, isolating poison envelopes); False if given up on close."""
        delay = self._retry_delay
        while True:
            error = self._write(group)
            if error is None:
                self._mark_done(group)
                return True
            log.warning("ingest: commit of %d envelope(s) failed: %s", len(group), error)
            if len(group) > 1 or isinstance(error, IngestError):
                group = self._isolate(group)
                if not group:
                    return True
            if self._closing:
                return False
            with self._cond:
                self._cond.wait_for(lambda: self._closing, delay)
                # Fresh envelopes join the retry: if they commit, a lone failure is poison.
                group = group + self._pop(self._max_batch - len(group))
            delay = min(delay * 2, self._max_retry_delay)

    def _write(self, group: list[_Queued]) -> Exception | None:
        try:
            batch = _batch(group)
            if not batch.is_empty():
                self._store.write(batch)
        except Exception as error:  # any store fault: the records stay journaled
            return error
        return None

    def _isolate(self, group: list[_Queued]) -> list[_Queued]:
        """Write one by one; reject the poison ones; return those failing with the store down."""
        committed, failed = self._write_each(group)
        if committed and failed:
            # The store works now; it may have been down when these were tried: try again.
            recommitted, failed = self._write_each([q for q, _ in failed])
            committed += recommitted
        self._mark_done(committed)
        poison = [(q, e) for q, e in failed if committed or isinstance(e, IngestError)]
        for queued, error in poison:
            self._reject(queued, error)
        self._mark_done([q for q, _ in poison])
        poisoned = {q.seq for q, _ in poison}
        return [q for q, _ in failed if q.seq not in poisoned]

    def _write_each(
        self, group: list[_Queued]
    ) -> tuple[list[_Queued], list[tuple[_Queued, Exception]]]:
        committed: list[_Queued] = []
        failed: list[tuple[_Queued, Exception]] = []
        for queued in group:
            error = self._write([queued])
            if error is None:
                committed.append(queued)
            else:
                failed.append((queued, error))
        return committed, failed

    def _reject(self, queued: _Queued, error: Exception) -> None:
        log.error(
            "ingest: setting aside envelope %r (seq %d): %s",
            queued.envelope.name,
            queued.seq,
            error,
        )
        self._rejected_dir.mkdir(parents=True, exist_ok=True)
        stem = self._rejected_dir / f"{queued.seq:020d}"
        stem.with_suffix(".envelope").write_bytes(queued.envelope.body)
        meta = orjson.loads(encode_envelope(replace(queued.envelope, body=b"")).split(b"\n")[0])
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
