"""A deletion job beside live ingest and reads (issue 14): the writer runs the job while
envelopes keep arriving and clients keep reading; nothing answers 5xx, every envelope is
kept, and the job deletes exactly what matched (the replays that arrive meanwhile in another
environment are left alone)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from replaystore.server import make_app
from tests.conftest import ORG, ReplaySpec, build_store, serving
from tests.robustness.conftest import Live
from tests.robustness.envelopes import assemble, valid_envelope
from tests.robustness.wire import Wire

JOBS = "/api/0/projects/acme/web/replays/jobs/delete/"
LIST = "/api/0/organizations/acme/replays/"
STORED = 40
ARRIVING = 30
WAIT_SECONDS = 300  # bounded waits on a shared machine, not timing assertions


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    store = build_store(tmp_path / "data", tuple(ReplaySpec(200 + n) for n in range(STORED)))
    app = make_app(str(store.path))
    with serving(app) as base:
        yield Live(store, app, base, Wire(base, store.tokens[ORG]))
    app.close()


def _statuses(live: Live, stop: threading.Event, seen: list[int]) -> None:
    while not stop.is_set():
        for path in (f"{LIST}?statsPeriod=90d&per_page=100&field=id", JOBS):
            seen.append(live.wire.get(path).status)


def test_a_job_beside_ingest_and_reads(live: Live) -> None:
    rng = random.Random(14)
    body = {
        "data": {
            "rangeStart": "2000-01-01T00:00:00Z",
            "rangeEnd": "2100-01-01T00:00:00Z",
            "environments": ["production"],  # the fixture's; the SDK envelopes send "prod"
            "query": "",
        }
    }
    created = live.wire.request(
        "POST", JOBS, body=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert created.status == 201, created.body
    job_id = created.json()["data"]["id"]
    stop, seen = threading.Event(), []
    reader = threading.Thread(target=_statuses, args=(live, stop, seen), daemon=True)
    reader.start()
    arrived = []
    for _ in range(ARRIVING):
        headers, event, recording = valid_envelope(rng)
        event["environment"] = "prod"
        answer = live.wire.request(
            "POST", "/api/1/envelope/?sentry_key=webkey", body=assemble(headers, event, recording)
        )
        assert answer.status == 200, answer.body
        arrived.append(event["replay_id"])
    deadline = time.monotonic() + WAIT_SECONDS
    job = created.json()["data"]
    while time.monotonic() < deadline and job["status"] not in ("completed", "failed"):
        time.sleep(0.2)
        job = live.wire.get(f"{JOBS}{job_id}/").json()["data"]
    stop.set()
    reader.join(60)
    assert job["status"] == "completed" and job["countDeleted"] == STORED
    assert seen and all(status == 200 for status in seen), sorted(set(seen))
    assert live.app.api.ingest.flush(timeout=60)
    listed = live.wire.get(f"{LIST}?statsPeriod=90d&per_page=100&field=id&field=is_archived")
    states = {r["id"]: r["is_archived"] for r in listed.json()["data"]}
    assert {i for i, archived in states.items() if not archived} == set(arrived)
    assert sum(states.values()) == STORED
