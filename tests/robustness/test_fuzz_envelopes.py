"""Hostile envelopes POSTed to the ingest route: every answer is a 2xx or a 4xx with a detail,
memory stays bounded under decompression bombs, and what was acknowledged is stored."""

from __future__ import annotations

import random
import resource

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replaystore.storage.store import Store
from tests.robustness.budget import fuzz_settings
from tests.robustness.conftest import Live
from tests.robustness.envelopes import MUTATIONS, assemble, envelope_case, valid_envelope
from tests.robustness.wire import check_answer

ENVELOPE = "/api/1/envelope/?sentry_key=webkey"
CHEAP = [m for m in MUTATIONS if m not in ("bomb", "objects_bomb", "huge_json")]


def _post(live: Live, body: bytes, headers: dict[str, str]):
    return live.wire.request("POST", ENVELOPE, body=body, headers=headers, token="")


@pytest.mark.parametrize("mutation", CHEAP)
def test_mutated_envelopes_get_a_2xx_or_a_4xx_with_detail(live: Live, mutation: str) -> None:
    @fuzz_settings(150)
    @given(rng=st.randoms(use_true_random=False))
    def run(rng: random.Random) -> None:
        case = envelope_case(rng, mutation)
        answer = _post(live, case.body, case.headers)
        check_answer(answer, (case.mutation, case.body[:200]))
        assert answer.status in (200, 400, 413, 429), (case.mutation, answer.status, answer.body)
        if mutation in ("valid", "far_timestamps"):
            assert answer.status == 200, answer.body

    run()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("mutation", ["bomb", "objects_bomb", "huge_json"])
def test_bombs_and_huge_bodies_are_refused_with_bounded_memory(live: Live, mutation: str) -> None:
    rng = random.Random(mutation)
    envelope_case(rng, mutation)  # build the cached bombs before measuring
    before = _peak_rss_mb()
    for _ in range(12):
        case = envelope_case(rng, mutation)
        answer = _post(live, case.body, case.headers)
        check_answer(answer, case.mutation)
        if mutation in ("bomb", "objects_bomb"):
            assert answer.status == 413, answer.body
            assert b"limit" in answer.body
    # The server runs in this process; a few bounded buffers, not one per byte inflated.
    assert _peak_rss_mb() - before < 300


def test_acknowledged_envelopes_are_stored_after_the_fuzzing(live: Live) -> None:
    """After the hostile traffic the ingest path still works and the store opens cleanly."""
    rng = random.Random(7)
    headers, event, recording = valid_envelope(rng)
    answer = _post(live, assemble(headers, event, recording), {})
    assert answer.status == 200, answer.body
    assert live.app.api.ingest.flush(timeout=60)
    replay_id = event["replay_id"]
    found = live.wire.get(f"/api/0/projects/acme/web/replays/{replay_id}/")
    assert found.status == 200, found.body
    assert found.json()["data"]["count_segments"] == 1
    with Store.open(str(live.root)).connect() as con:
        query = "SELECT count(*) FROM segments WHERE environment = 'fuzz'"
        (count,) = con.execute(query).fetchone()
    assert count >= 1
