"""Real deletion: after DELETE and compact, no byte of the replay's recordings or personal data
(user id, email, IP) is left in any file under the store root, the journal included."""

from __future__ import annotations

import random
import zlib
from datetime import timedelta

import orjson

from replaystore.storage.store import Store
from tests.robustness.conftest import Live
from tests.robustness.envelopes import NOW, frame, replay_event
from tests.robustness.scan import find

USER_ID = "victim-user-4d2c91"
EMAIL = "victim-4d2c91@example.org"
IP = "198.51.100.231"
RECORDING_MARK = "VICTIM-RRWEB-TEXT-4d2c91"


def _victim_envelopes(replay_id: str) -> list[bytes]:
    bodies = []
    for segment_id in range(3):
        event = replay_event(replay_id, segment_id, NOW - 60 + segment_id)
        event["user"] = {"id": USER_ID, "email": EMAIL, "ip_address": IP}
        events = [{"type": 3, "timestamp": int(NOW * 1000), "data": {"text": RECORDING_MARK}}]
        payload = orjson.dumps({"segment_id": segment_id}) + b"\n"
        payload += zlib.compress(orjson.dumps(events)) if segment_id % 2 else orjson.dumps(events)
        bodies.append(
            frame(
                {"event_id": replay_id},
                [({"type": "replay_event"}, orjson.dumps(event)),
                 ({"type": "replay_recording", "length": len(payload)}, payload)],
            )
        )  # fmt: skip
    return bodies


NEEDLES = (USER_ID.encode(), EMAIL.encode(), IP.encode(), RECORDING_MARK.encode())


def _ingest_and_delete(live: Live, seed: int) -> str:
    """Post the victim's three segments, check they are stored, DELETE, compact; its id."""
    replay_id = f"{random.Random(seed).getrandbits(128):032x}"
    for body in _victim_envelopes(replay_id):
        answer = live.wire.request("POST", "/api/1/envelope/?sentry_key=webkey", body=body)
        assert answer.status == 200, answer.body
    assert live.app.api.ingest.flush(timeout=60)
    path = f"/api/0/projects/acme/web/replays/{replay_id}/"
    data = live.wire.get(path).json()["data"]
    assert (data["user"]["email"], data["user"]["ip"], data["count_segments"]) == (EMAIL, IP, 3)
    # The scanner does find them while they are stored (else the final check proves nothing).
    assert {n for _, n in find(live.root, NEEDLES)} == set(NEEDLES)

    assert live.wire.request("DELETE", path).status == 204
    Store.open(str(live.root)).compact(retention=timedelta(0))
    return replay_id


def test_delete_then_compact_leaves_no_byte_of_the_replay(live: Live) -> None:
    replay_id = _ingest_and_delete(live, 11)
    assert find(live.root, NEEDLES) == []  # the journal included
    path = f"/api/0/projects/acme/web/replays/{replay_id}/"
    archived = live.wire.get(path).json()["data"]
    assert archived["is_archived"] is True and archived["user"]["email"] is None
    others = live.wire.get("/api/0/organizations/acme/replays/?statsPeriod=90d&per_page=100")
    assert len(others.json()["data"]) >= 13  # every other replay is still there


def test_delete_then_compact_leaves_nothing_in_the_ingest_journal(live: Live) -> None:
    _ingest_and_delete(live, 12)
    assert find(live.root / "journal", NEEDLES) == []
