"""Fixtures of the engine tests: where the parity store lives, and a store of the search
corpus's rows in three states (just ingested, compacted, compacted then partly rewritten).

`store_url` is the one place that says where: a local folder here; an object-storage URL
(`s3://bucket/prefix`) can be added as another parameter, and every parity test runs there too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from replaystore.engines import EngineConfig, QueryEngine, open_engine
from replaystore.fields import schema
from replaystore.storage.batch import WriteBatch
from replaystore.storage.store import Store
from replaystore.storage.viewers import record_view
from tests.search.rows import T0, segment
from tests.search.test_semantics import CLICKS, LINKS, R3, SEGMENTS, VIEWERS

STATES = ("recent", "compacted", "rewritten")
# Written after compaction: R3 gets a second segment (its summary moves to the recent tier and
# supersedes the base row) and a replay only the recent tier holds.
R5 = "5" * 32
LATER = [
    segment(R3, 1, timestamp=T0 + timedelta(seconds=30), browser_name="Safari"),
    segment(R5, 0, browser_name="Chrome", urls=["https://example.com/late"], release="1.0.1"),
]


def _batch(segments: list[dict], clicks: list[dict] = (), links: list[dict] = ()) -> WriteBatch:  # type: ignore[assignment]
    return WriteBatch(
        segments=pa.Table.from_pylist(segments, schema=schema.SEGMENTS),
        clicks=pa.Table.from_pylist(list(clicks), schema=schema.CLICKS),
        links=pa.Table.from_pylist(list(links), schema=schema.LINKS),
    )


def write_state(root: str, state: str) -> Store:
    """A store at `root` holding the search corpus's rows in `state` (see STATES)."""
    store = Store.open(root)
    store.write(_batch(SEGMENTS, CLICKS, LINKS))
    for view in VIEWERS:  # the viewed-by cases of the corpus (issue 14)
        record_view(store, view["project_id"], view["replay_id"], view["viewer_id"], T0)
    if state in ("compacted", "rewritten"):
        store.compact()
    if state == "rewritten":
        store.write(_batch(LATER))
    return store


@pytest.fixture(scope="session", params=["local", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A factory of fresh store roots of one kind: local folders, or prefixes on the
    session's S3 server (`weed mini` on 127.0.0.1, tests/s3server.py)."""
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        prefix = f"engines-{uuid.uuid4().hex[:8]}"
        return lambda name: server.url(f"{prefix}-{name}")
    base: Path = tmp_path_factory.mktemp("engines")

    def root(name: str) -> str:
        return str(base / name)

    return root


@pytest.fixture(scope="session", params=STATES)
def corpus_store(request: pytest.FixtureRequest, store_url) -> Store:
    return write_state(store_url(request.param), request.param)


@pytest.fixture(scope="session")
def engines(corpus_store: Store) -> Iterator[dict[str, QueryEngine]]:
    pair = {
        "duckdb": open_engine(corpus_store, "duckdb"),
        "clickhouse": open_engine(corpus_store, EngineConfig("clickhouse")),
    }
    yield pair
    for engine in pair.values():
        engine.close()
