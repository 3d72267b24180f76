"""The committed fixtures equal the generator's output and cover what the tests rely on."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import replaystore
from replaystore import fixtures

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"


def test_committed_fixtures_match_the_generator(tmp_path):
    count = fixtures.write_fixtures(tmp_path)
    committed = sorted((FIXTURES / "envelopes").glob("*.envelope"))
    assert count == len(committed)
    for path in committed:
        assert (tmp_path / "envelopes" / path.name).read_bytes() == path.read_bytes(), path.name
    assert orjson.loads((FIXTURES / "catalog.json").read_bytes()) == fixtures.catalog_document()


def test_generator_is_deterministic_and_anchored():
    first = [e.body for e in fixtures.generate(replays=5)]
    assert first == [e.body for e in fixtures.generate(replays=5)]
    assert first != [e.body for e in fixtures.generate(replays=5, seed=1)]


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    store = replaystore.open(str(tmp_path_factory.mktemp("fixtures")))
    store.ingest_files(sorted((FIXTURES / "envelopes").glob("*.envelope")))
    return store


@pytest.mark.parametrize(
    ("what", "sql", "at_least"),
    [
        ("projects", "SELECT count(DISTINCT project_id) FROM replays", 5),
        ("browsers", "SELECT count(DISTINCT browser_name) FROM replays", 4),
        ("operating systems", "SELECT count(DISTINCT os_name) FROM replays", 4),
        ("devices", "SELECT count(DISTINCT device_family) FROM replays", 2),
        ("users", "SELECT count(DISTINCT user_id) FROM replays", 20),
        ("releases", "SELECT count(DISTINCT release) FROM segments", 4),
        ("environments", "SELECT count(DISTINCT environment) FROM replays", 3),
        ("multi-segment replays", "SELECT count(*) FROM replays WHERE count_segments > 1", 50),
        ("replays with errors", "SELECT count(*) FROM replays WHERE count_errors > 0", 10),
        (
            "warnings or infos",
            "SELECT count(*) FROM replays WHERE count_warnings + count_infos > 0",
            1,
        ),
        ("dead clicks", "SELECT count(*) FROM clicks WHERE is_dead AND NOT is_rage", 5),
        ("rage clicks", "SELECT count(*) FROM clicks WHERE is_rage", 5),
        ("plain clicks", "SELECT count(*) FROM clicks WHERE NOT is_dead", 100),
        ("custom tags", "SELECT count(*) FROM replays WHERE len(tags) > 1", 100),
        ("days covered", "SELECT count(DISTINCT started_at::DATE) FROM replays", 25),
    ],
)
def test_fixtures_cover(fixture_store, what, sql, at_least):
    assert fixture_store.connect().execute(sql).fetchall()[0][0] >= at_least, what
