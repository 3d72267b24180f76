"""Readers on every route, envelope ingest and compaction runs at the same time.

Compaction runs inside the serving process, beside its ingest, as the store's one writer does
it (another process may not write a store a server holds).

No request fails, and every read is consistent: a replay's segments are always a gap-free
prefix 0..n-1 (each poster sends them in order and waits for the 200), the segment list of a
replay lies between the `count_segments` read just before and just after it, and no count
ever goes backwards. REPLAYSTORE_CONCURRENCY_SECONDS sets the length (default 30).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from replaystore.server import make_app
from replaystore.storage.store import Store
from tests.conftest import ORG, build_store, serving
from tests.robustness.envelopes import assemble, valid_envelope
from tests.robustness.wire import Wire, query_string

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("concurrency")]

SECONDS = float(os.environ.get("REPLAYSTORE_CONCURRENCY_SECONDS", "30"))
PATH = "/api/0/projects/acme/web/replays"
ORG_PATH = "/api/0/organizations/acme"


class Shared:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, int] = {}  # replay id -> segments acknowledged
        self.errors: list[object] = []
        self.reads = 0
        self.stop = threading.Event()

    def fail(self, what: object) -> None:
        with self.lock:
            self.errors.append(what)


def _poster(wire: Wire, shared: Shared, rng: random.Random) -> None:
    # Enough replays that each keeps under one page (100) of segments.
    replays = [f"{rng.getrandbits(128):032x}" for _ in range(25)]
    while not shared.stop.is_set():
        replay_id = rng.choice(replays)
        segment_id = shared.acked.get(replay_id, 0)
        headers, event, recording = valid_envelope(rng, replay_id=replay_id, segment_id=segment_id)
        answer = wire.request(
            "POST", "/api/1/envelope/?sentry_key=webkey", body=assemble(headers, event, recording)
        )
        if answer.status != 200:
            shared.fail(("post", answer.status, answer.body[:200]))
            continue
        with shared.lock:
            shared.acked[replay_id] = segment_id + 1


def _count(wire: Wire, replay_id: str) -> int | None:
    answer = wire.get(f"{PATH}/{replay_id}/")
    return answer.json()["data"]["count_segments"] if answer.status == 200 else None


def _reader(wire: Wire, shared: Shared, rng: random.Random) -> None:
    seen: dict[str, int] = {}  # this reader's last count per replay: never goes backwards

    def saw(replay_id: str, count: int | None) -> None:
        if count is None:
            return
        if count < seen.get(replay_id, 0):
            shared.fail(("count went backwards", replay_id, seen[replay_id], count))
        seen[replay_id] = max(count, seen.get(replay_id, 0))

    checks: list[Callable[[str], None]] = []

    def consistent(replay_id: str) -> None:
        before = _count(wire, replay_id)
        answer = wire.get(f"{PATH}/{replay_id}/recording-segments/?per_page=100")
        after = _count(wire, replay_id)
        ids = [row["segmentId"] for row in answer.json()["data"]]
        if ids != list(range(len(ids))):
            shared.fail(("segments not a prefix", replay_id, ids))
        if before is not None and not (before <= len(ids) or len(ids) == 100):
            shared.fail(("list shorter than an earlier count", replay_id, before, len(ids)))
        if after is not None and len(ids) > after:
            shared.fail(("list longer than a later count", replay_id, len(ids), after))
        saw(replay_id, before)
        saw(replay_id, after)

    def listed(replay_id: str) -> None:
        pairs = [("statsPeriod", "1d"), ("per_page", "100"), ("query", "environment:fuzz")]
        q = query_string(pairs)
        answer = wire.get(f"{ORG_PATH}/replays/?{q}")
        if answer.status != 200:
            shared.fail(("list", answer.status, answer.body[:200]))
            return
        for row in answer.json()["data"]:
            saw(row["id"], row["count_segments"])

    def others(replay_id: str) -> None:
        for path in (
            f"{PATH}/{replay_id}/clicks/",
            f"{PATH}/{replay_id}/recording-segments/0/?download",
            f"{PATH}/{replay_id}/recording-segments/?download",
            f"{ORG_PATH}/replays/{replay_id}/",
            f"{ORG_PATH}/tags/?statsPeriod=1d",
            f"{ORG_PATH}/tags/plan/values/?statsPeriod=1d",
            f"{PATH}/tags/environment/values/?statsPeriod=1d",
            f"{PATH}/tags/",
        ):
            answer = wire.get(path)
            if answer.status not in (200, 404):
                shared.fail((path, answer.status, answer.body[:200]))

    checks.extend((consistent, listed, others))
    while not shared.stop.is_set():
        with shared.lock:
            replays = [r for r, n in shared.acked.items() if n > 0]
        if not replays:
            time.sleep(0.05)
            continue
        try:
            rng.choice(checks)(rng.choice(replays))
        except Exception as error:
            shared.fail(("reader", repr(error)))
        with shared.lock:
            shared.reads += 1


def _compactor(store: Store, shared: Shared) -> int:
    runs = 0
    while not shared.stop.is_set():
        try:
            store.compact()
        except Exception as error:
            shared.fail(("compact", repr(error)))
        runs += 1
    return runs


def test_readers_ingest_and_compaction_at_once(tmp_path: Path) -> None:
    store = build_store(tmp_path / "data")
    shared = Shared()
    compactions = [0]
    app = make_app(str(store.path))
    with serving(app) as base:
        wire = Wire(base, store.tokens[ORG])
        threads = [
            threading.Thread(target=_poster, args=(wire, shared, random.Random(i)))
            for i in range(2)
        ] + [
            threading.Thread(target=_reader, args=(wire, shared, random.Random(10 + i)))
            for i in range(3)
        ]
        threads.append(
            threading.Thread(
                target=lambda: compactions.__setitem__(0, _compactor(app.store, shared))
            )
        )
        for thread in threads:
            thread.daemon = True
            thread.start()
        time.sleep(SECONDS)
        shared.stop.set()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(t.is_alive() for t in threads)
        assert shared.errors == [], shared.errors[:10]
        # Quiet now: every acknowledged segment is counted and listed.
        for replay_id, acked in shared.acked.items():
            for _ in range(300):
                if _count(wire, replay_id) == acked:
                    break
                time.sleep(0.1)
            assert _count(wire, replay_id) == acked, replay_id
    posted = sum(shared.acked.values())
    runs = compactions[0]
    print(f"concurrency: {SECONDS:.0f}s, {shared.reads} reads, {posted} posted, {runs} compactions")
    assert shared.reads > 0 and compactions[0] > 0 and sum(shared.acked.values()) > 0
