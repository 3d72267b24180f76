"""Shared fixtures: a small deterministic store written through `Store.write`, and a helper that
serves any WSGI app under a real waitress server on 127.0.0.1 with a free port."""

from __future__ import annotations

import contextlib
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import waitress
from waitress import wasyncore

from replaystore.catalog import Catalog
from replaystore.fields import schema
from replaystore.storage.batch import Blob, WriteBatch
from replaystore.storage.store import Store
from tests.s3server import S3Server, running_s3

# Midnight two days ago: inside every default window (7 days) whatever day the tests run.
BASE = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
ORG, OTHER_ORG = "acme", "globex"
PROJECTS = ((ORG, "web", 1, "webkey"), (ORG, "shop", 2, "shopkey"), (OTHER_ORG, "store", 3, "gkey"))


def rid(n: int) -> str:
    return f"{n:032x}"


@dataclass(frozen=True)
class ReplaySpec:
    """One replay of the fixture store: enough knobs for every filter and sort."""

    n: int
    project_id: int = 1
    start: timedelta = timedelta(hours=1)
    segments: int = 1
    environment: str = "production"
    release: str = "1.0"
    browser: tuple[str, str] = ("Chrome", "120.0")
    user: tuple[str, str, str, str] = ("u1", "alice", "alice@acme.test", "10.0.0.1")
    tags: tuple[tuple[str, str], ...] = (("plan", "free"),)
    urls: tuple[str, ...] = ("https://acme.test/",)
    errors: int = 0
    clicks: tuple[dict[str, Any], ...] = ()

    @property
    def replay_id(self) -> str:
        return rid(self.n)

    @property
    def started_at(self) -> datetime:
        return BASE + self.start


BUTTON = {"tag": "button", "id": "ok", "class": ["btn", "primary"], "text": "OK", "node_id": 4}
LINK = {"tag": "a", "id": "home", "class": ["nav"], "title": "Home", "node_id": 7}
REPLAYS: tuple[ReplaySpec, ...] = (
    ReplaySpec(1, segments=3, errors=2, clicks=(BUTTON | {"is_dead": True}, LINK)),
    ReplaySpec(2, start=timedelta(hours=2), environment="staging", release="2.0",
               browser=("Firefox", "130.0"), user=("u2", "bob", "bob@acme.test", "10.0.0.2"),
               tags=(("plan", "team"), ("region", "eu"))),
    ReplaySpec(3, project_id=2, start=timedelta(hours=3), segments=2),
    ReplaySpec(4, start=timedelta(days=-20)),
    ReplaySpec(5, project_id=3, start=timedelta(hours=4)),
    *(ReplaySpec(10 + i, start=timedelta(hours=5, minutes=i), segments=1 + i % 3, errors=i % 4)
      for i in range(9)),
)  # fmt: skip


def _month(ts: datetime) -> str:
    return ts.strftime("%Y-%m")


def _recording(spec: ReplaySpec, segment_id: int) -> bytes:
    body = f'[{{"type":4,"data":{{"href":"{spec.urls[0]}"}},"segment":{segment_id}}}]'.encode()
    # Even segments are stored compressed, odd ones plain (both arrive from real SDKs).
    return zlib.compress(body) if segment_id % 2 == 0 else body


def _segment_row(spec: ReplaySpec, segment_id: int) -> dict[str, Any]:
    ts = spec.started_at + timedelta(seconds=10 * (segment_id + 1))
    user_id, name, email, ip = spec.user
    return {
        "project_id": spec.project_id, "replay_id": spec.replay_id, "segment_id": segment_id,
        "timestamp": ts, "replay_start_timestamp": spec.started_at, "received": ts,
        "replay_type": "session", "platform": "javascript", "environment": spec.environment,
        "release": spec.release, "dist": "", "title": "",
        "urls": list(spec.urls) if segment_id == 0 else [],
        "error_ids": [], "trace_ids": [rid(1000 + spec.n)] if segment_id == 0 else [],
        "user_id": user_id, "user_name": name, "user_email": email, "user_ip": ip,
        "user_geo_city": "", "user_geo_country_code": "", "user_geo_region": "",
        "user_geo_subdivision": "", "browser_name": spec.browser[0],
        "browser_version": spec.browser[1], "os_name": "Linux", "os_version": "",
        "device_name": "", "device_brand": "", "device_family": "Other", "device_model": "",
        "sdk_name": "sentry.javascript.browser", "sdk_version": "11.12.0",
        "tags_key": [k for k, _ in spec.tags], "tags_value": [v for _, v in spec.tags],
        "error_sample_rate": 1.0, "session_sample_rate": 1.0, "has_blob": True,
        "month": _month(ts),
    }  # fmt: skip


def _click_row(spec: ReplaySpec, index: int, click: dict[str, Any]) -> dict[str, Any]:
    ts = spec.started_at + timedelta(seconds=5 + index, microseconds=250_000)
    row: dict[str, Any] = {
        "project_id": spec.project_id, "replay_id": spec.replay_id,
        "event_hash": rid(5000 + 10 * spec.n + index), "timestamp": ts, "segment_id": 0,
        "environment": spec.environment, "node_id": 0, "tag": "", "id": "", "class": [],
        "text": "", "role": "", "alt": "", "testid": "", "aria_label": "", "title": "",
        "component_name": "", "is_dead": False, "is_rage": False, "month": _month(ts),
    }  # fmt: skip
    return row | click


def _link_row(spec: ReplaySpec, index: int) -> dict[str, Any]:
    ts = spec.started_at + timedelta(seconds=3)
    event_id = rid(9000 + 10 * spec.n + index)
    return {"project_id": spec.project_id, "replay_id": spec.replay_id, "event_id": event_id,
            "level": "error", "timestamp": ts, "month": _month(ts)}  # fmt: skip


def fixture_batch(specs: tuple[ReplaySpec, ...] = REPLAYS) -> WriteBatch:
    segments = [_segment_row(s, i) for s in specs for i in range(s.segments)]
    clicks = [_click_row(s, i, c) for s in specs for i, c in enumerate(s.clicks)]
    links = [_link_row(s, i) for s in specs for i in range(s.errors)]
    blobs = [
        Blob(s.project_id, s.replay_id, i, _recording(s, i))
        for s in specs
        for i in range(s.segments)
    ]
    return WriteBatch(
        segments=pa.Table.from_pylist(segments, schema=schema.SEGMENTS),
        clicks=pa.Table.from_pylist(clicks, schema=schema.CLICKS),
        links=pa.Table.from_pylist(links, schema=schema.LINKS),
        blobs=blobs,
    )


@dataclass
class FixtureStore:
    path: Path
    tokens: dict[str, str] = field(default_factory=dict)  # org -> bearer token


def build_store(path: Path, specs: tuple[ReplaySpec, ...] = REPLAYS) -> FixtureStore:
    """A store holding `specs`, the three projects and one token per organization."""
    Store.open(str(path)).write(fixture_batch(specs))
    catalog = Catalog(path)
    for org, slug, project_id, key in PROJECTS:
        catalog.add_project(org, slug, project_id, key)
    return FixtureStore(path, {org: catalog.add_token(org) for org in (ORG, OTHER_ORG)})


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app with waitress on 127.0.0.1 and a free port; yields the base URL."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4, ident="test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # What waitress's own multi-socket server does to stop: workers, then every channel.
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
        thread.join(timeout=10)
        close = getattr(app, "close", None)
        if close is not None:  # a writing app drains its journal and releases the store
            close()


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> FixtureStore:
    """The shared read-only store; tests that write build their own with `build_store`."""
    return build_store(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server (`weed mini`, 127.0.0.1, free ports, a temp folder) for the session;
    its `AWS_*` variables are set in this process meanwhile, as an operator would."""
    with running_s3(tmp_path_factory.mktemp("s3")) as server:
        saved = {name: os.environ.get(name) for name in server.env}
        os.environ.update(server.env)
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def s3_url(s3_server: S3Server) -> str:
    """A new, empty store URL on the session's S3 server."""
    return s3_server.url()
