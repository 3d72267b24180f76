"""Crash safety: `replaystore serve` is SIGKILLed at random moments while several threads post
envelopes, and `replaystore compact` runs (between two servers: one writer at a time) are
SIGKILLed mid-way; after each kill the server is restarted. In the end every acknowledged (200)
segment is served exactly once, and the store opens cleanly with no duplicate rows.

The seed of the random moments is printed; REPLAYSTORE_CRASH_SEED replays a run.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from replaystore.catalog import Catalog
from replaystore.storage.store import Store
from tests.robustness.envelopes import assemble, valid_envelope
from tests.robustness.server import ServerProcess, compact_process
from tests.robustness.wire import Wire

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("crash")]

SERVER_KILLS = 8
POSTERS = 3
REPLAYS_PER_POSTER = 4
PATH = "/api/0/projects/acme/web/replays"


class Poster(threading.Thread):
    """Posts the next segment of its replays in turn until stopped; records the 200s."""

    def __init__(self, base: str, rng: random.Random, acked: dict[str, set[int]]) -> None:
        super().__init__(daemon=True)
        self.wire = Wire(base)
        self.rng = rng
        self.acked = acked
        self.replays = [f"{rng.getrandbits(128):032x}" for _ in range(REPLAYS_PER_POSTER)]
        self.next_segment = dict.fromkeys(self.replays, 0)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors: list[object] = []  # answers that were neither a 200 nor a dropped link

    def run(self) -> None:
        while not self.stop.is_set():
            replay_id = self.rng.choice(self.replays)
            segment_id = self.next_segment[replay_id]
            headers, event, recording = valid_envelope(
                self.rng, replay_id=replay_id, segment_id=segment_id
            )
            body = assemble(headers, event, recording)
            try:
                answer = self.wire.request("POST", "/api/1/envelope/?sentry_key=webkey", body=body)
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)  # the server is down: keep trying until the round ends
                continue
            if answer.status != 200:
                self.errors.append((answer.status, answer.body[:300]))
                continue
            with self.lock:
                self.acked.setdefault(replay_id, set()).add(segment_id)
            self.next_segment[replay_id] = segment_id + 1


def _round(server: ServerProcess, rng: random.Random, posters: list[Poster], compact: bool):
    """Let the posters run, SIGKILL the server at a random moment, then maybe run a compaction
    (the store's writer now) and SIGKILL it at a random moment too."""
    server.start()
    time.sleep(rng.uniform(0.3, 3.0))
    server.kill()
    if not compact:
        return False
    compactor = compact_process(server.data)
    time.sleep(rng.uniform(0.5, 3.0))
    if compactor.poll() is None:
        compactor.send_signal(signal.SIGKILL)
    compactor.wait(timeout=120)
    assert compactor.returncode in (0, -signal.SIGKILL), server.data.parent / "compact.log"
    return compactor.returncode == -signal.SIGKILL


def _served(wire: Wire, replay_id: str) -> tuple[list[int], int | None]:
    ids: list[int] = []
    while True:  # every page of the segment list
        page = wire.get(f"{PATH}/{replay_id}/recording-segments/?limit=100&offset={len(ids)}")
        assert page.status == 200, page.body
        rows = page.json()["data"]
        ids.extend(row["segmentId"] for row in rows)
        if len(rows) < 100:
            break
    details = wire.get(f"{PATH}/{replay_id}/")
    count = details.json()["data"]["count_segments"] if details.status == 200 else None
    return ids, count


def test_sigkill_during_ingest_and_compaction_loses_nothing_acknowledged(tmp_path: Path) -> None:
    seed = int(os.environ.get("REPLAYSTORE_CRASH_SEED", random.randrange(2**32)))
    print(f"crash seed {seed}")
    rng = random.Random(seed)
    data = tmp_path / "data"
    Catalog(data).add_project("acme", "web", 1, "webkey")
    server = ServerProcess(data)
    acked: dict[str, set[int]] = {}
    posters = [Poster(server.base, random.Random(rng.random()), acked) for _ in range(POSTERS)]
    for poster in posters:
        poster.start()
    compactions_killed = 0
    try:
        for kill in range(SERVER_KILLS):
            compactions_killed += _round(server, rng, posters, compact=kill % 2 == 1)
        for poster in posters:
            poster.stop.set()
        for poster in posters:
            poster.join(timeout=60)
        assert [e for p in posters for e in p.errors] == []
        server.start()
        wire = Wire(server.base)
        for replay_id, wanted in sorted(acked.items()):
            served: tuple[list[int], int | None] = ([], None)
            for _ in range(300):  # bounded wait for the journal replay to be committed
                served = _served(wire, replay_id)
                if set(served[0]) >= wanted:
                    break
                time.sleep(0.1)
            ids, count = served
            assert len(ids) == len(set(ids)), (replay_id, ids)  # exactly once
            assert set(ids) >= wanted, (replay_id, sorted(wanted - set(ids)))
            assert count == len(ids), (replay_id, count, ids)
    finally:
        for poster in posters:
            poster.stop.set()
        server.stop()
    print(f"crash: {SERVER_KILLS} server kills, {compactions_killed} compactions killed mid-run, "
          f"{sum(map(len, acked.values()))} acknowledged segments")  # fmt: skip
    assert sum(map(len, acked.values())) >= SERVER_KILLS  # the posters did get through
    store = Store.open(str(data))
    with store.connect() as con:
        dupes = con.execute(
            "SELECT replay_id, segment_id FROM segments GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        (replays,) = con.execute("SELECT count(*) FROM replays").fetchone()
    assert dupes == []
    assert replays == len(acked)
