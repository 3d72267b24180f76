"""Deletion (purge + archived shape) and envelope ingest (DSN auth, CORS, limits) on own stores."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
import requests

from replaystore.server import make_app
from replaystore.storage.store import Store
from replaystore.wsgi import MAX_BODY
from tests.api.conftest import Client
from tests.conftest import ORG, REPLAYS, FixtureStore, build_store, rid, serving

R1 = rid(1)


@pytest.fixture(scope="module")
def own_store(tmp_path_factory: pytest.TempPathFactory) -> FixtureStore:
    return build_store(tmp_path_factory.mktemp("writable"), REPLAYS[:3])


@pytest.fixture(scope="module")
def writer(own_store: FixtureStore) -> Iterator[Client]:
    with serving(make_app(str(own_store.path))) as base:
        yield Client(base, own_store.tokens[ORG])


def test_delete_purges_and_archives(writer: Client, own_store: FixtureStore) -> None:
    path = f"/api/0/projects/acme/web/replays/{R1}/"
    assert writer.request("DELETE", path).status_code == 204
    data = writer.get(path).json()["data"]
    assert data["is_archived"] is True and data["tags"] == {} and data["urls"] is None
    assert data["user"]["display_name"] == "Archived Replay"
    listed = writer.get("/api/0/organizations/acme/replays/", params={"field": "id"}).json()
    assert {"id": R1} in listed["data"]
    assert writer.get(f"{path}recording-segments/").json() == {"data": []}
    assert writer.get(f"{path}recording-segments/0/").status_code == 404
    assert writer.get(f"{path}clicks/").json() == {"data": []}
    assert Store.open(str(own_store.path)).read_blob(1, R1, 0) is None
    second = writer.request("DELETE", path)
    assert second.status_code == 404 and second.json()["detail"]


def test_delete_of_unknown_id_is_204(writer: Client) -> None:
    path = f"/api/0/projects/acme/web/replays/{rid(4242)}/"
    assert writer.request("DELETE", path).status_code == 204
    assert writer.request("DELETE", path).status_code == 404


def _envelope(replay_id: str) -> bytes:
    event = {
        "type": "replay_event", "replay_id": replay_id, "segment_id": 0,
        "replay_type": "session", "timestamp": time.time(), "replay_start_timestamp": time.time(),
        "urls": ["https://acme.test/x"], "error_ids": [], "trace_ids": [],
        "platform": "javascript", "event_id": replay_id,
    }  # fmt: skip
    recording = b'{"segment_id":0}\n[{"type":4,"data":{"href":"https://acme.test/x"}}]'
    return b"\n".join(
        [
            orjson.dumps({"event_id": replay_id, "sent_at": "2026-01-01T00:00:00.000Z"}),
            b'{"type":"replay_event"}',
            orjson.dumps(event),
            orjson.dumps({"type": "replay_recording", "length": len(recording)}),
            recording,
        ]
    )


def _post(base: str, project: int, body: bytes, **kwargs) -> requests.Response:
    return requests.post(f"{base}/api/{project}/envelope/", data=body, timeout=30, **kwargs)


def test_envelope_is_answered_and_becomes_queryable(writer: Client) -> None:
    replay_id = rid(31337)
    response = _post(writer.base, 1, _envelope(replay_id), params={"sentry_key": "webkey"})
    assert response.status_code == 200 and response.json() == {"id": replay_id}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    path = f"/api/0/projects/acme/web/replays/{replay_id}/"
    deadline = time.monotonic() + 20  # the journaled service commits in the background
    while writer.get(path).status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert writer.get(path).json()["data"]["urls"] == ["https://acme.test/x"]


@pytest.mark.parametrize(
    ("project", "kwargs", "status"),
    [
        (1, {}, 401),
        (1, {"params": {"sentry_key": "nokey"}}, 401),
        (1, {"params": {"sentry_key": "shopkey"}}, 403),
        (1, {"headers": {"X-Sentry-Auth": "Sentry sentry_key=shopkey, sentry_version=7"}}, 403),
        (1, {"params": {"sentry_key": "webkey"}, "headers": {"X-Sentry-Auth": "Sentry x=1"}}, 401),
    ],
)
def test_envelope_auth(writer: Client, project: int, kwargs: dict, status: int) -> None:
    response = _post(writer.base, project, _envelope(rid(5)), **kwargs)
    assert response.status_code == status and response.json()["detail"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("dsn", "status"),
    [
        ("http://webkey@relay.example/1", 200),
        ("http://shopkey@relay.example/2", 403),
        ("http://nokey@relay.example/1", 401),
        ("http://relay.example/1", 401),
    ],
)
def test_envelope_tunnel_dsn_carries_the_key(writer: Client, dsn: str, status: int) -> None:
    # The SDK's `tunnel` option posts without sentry_key; the envelope header names the DSN.
    first, rest = _envelope(rid(77)).split(b"\n", 1)
    header = {**orjson.loads(first), "dsn": dsn}
    response = _post(writer.base, 1, orjson.dumps(header) + b"\n" + rest)
    assert response.status_code == status, response.text


def test_envelope_header_auth_and_garbage(writer: Client) -> None:
    auth = {"X-Sentry-Auth": "Sentry sentry_key=webkey, sentry_version=7"}
    response = _post(writer.base, 1, b"not an envelope", headers=auth)
    assert response.status_code == 400 and response.json()["detail"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_envelope_preflight_and_size_limit(writer: Client) -> None:
    preflight = requests.options(f"{writer.base}/api/1/envelope/", timeout=30)
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    huge = _post(writer.base, 1, b"x" * (MAX_BODY + 1), params={"sentry_key": "webkey"})
    assert huge.status_code == 413 and huge.json()["detail"]


def test_read_body_ignores_a_lying_content_length() -> None:
    from io import BytesIO

    from replaystore.errors import ApiError
    from replaystore.wsgi import _read_body

    environ = {"wsgi.input": BytesIO(b"y" * (MAX_BODY + 10)), "CONTENT_LENGTH": "5"}
    with pytest.raises(ApiError) as caught:
        _read_body(environ)
    assert caught.value.status == 413
