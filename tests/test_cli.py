"""The command line as a user runs it: real subprocesses over a real store folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from replaystore.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = sorted((ROOT / "data" / "fixtures" / "sdk-capture").glob("*.envelope"))
CAPTURE_REPLAY = "dd6eede9d2ae4e18aa22002dfdfbb9e3"


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "replaystore.cli", *args], capture_output=True, text=True
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def sql(data: Path, query: str) -> list[dict]:
    return orjson.loads(run("sql", "--data", str(data), "--format", "json", query).stdout)


def table_contents(data: Path) -> dict[str, list]:
    order = {
        "segments": "project_id, replay_id, segment_id",
        "clicks": "project_id, replay_id, event_hash",
        "links": "project_id, replay_id, event_id",
    }
    contents = {
        name: sql(data, f"SELECT * EXCLUDE (received) FROM {name} ORDER BY {keys}")
        if name == "segments"
        else sql(data, f"SELECT * FROM {name} ORDER BY {keys}")
        for name, keys in order.items()
    }
    contents["replays"] = sql(data, "SELECT * EXCLUDE (updated_at) FROM replays ORDER BY replay_id")
    return contents


def test_project_and_token_add(tmp_path):
    out = run(
        "project",
        "add",
        "--data",
        str(tmp_path),
        "--org",
        "acme",
        "--slug",
        "web",
        "--id",
        "42",
        "--dsn-key",
        "abc123publickey",
    ).stdout
    assert "acme/web" in out
    token = run("token", "add", "--data", str(tmp_path), "--org", "acme").stdout.strip()
    assert len(token) == 64
    catalog = Catalog(tmp_path)
    assert catalog.org_for_token(token) == "acme"
    assert catalog.project_for_dsn_key("abc123publickey").id == 42
    bad = run(
        "project",
        "add",
        "--data",
        str(tmp_path),
        "--org",
        "Bad Org",
        "--slug",
        "x",
        "--id",
        "1",
        "--dsn-key",
        "k",
        ok=False,
    )
    assert bad.returncode == 2 and "Invalid organization slug" in bad.stderr


def test_ingest_the_real_capture(tmp_path):
    run("ingest", "--data", str(tmp_path), "--project", "42", *map(str, CAPTURE))
    [replay] = sql(tmp_path, "SELECT * FROM replays")
    assert replay["replay_id"] == CAPTURE_REPLAY
    assert (replay["browser_name"], replay["os_name"]) == ("Chrome", "Linux")
    assert replay["urls"][0] == "http://127.0.0.1:8001/index.html"
    assert replay["user_id"] == "user-1"
    assert replay["environment"] == "capture-test"
    assert replay["releases"] == ["capture@1.0.0"]
    assert len(replay["error_ids"]) == 1 and replay["count_errors"] == 1
    clicks = sql(tmp_path, "SELECT id, is_dead, is_rage FROM clicks ORDER BY id")
    assert clicks == [
        {"id": "dead-btn", "is_dead": True, "is_rage": False},
        {"id": "ok-btn", "is_dead": False, "is_rage": False},
        {"id": "rage-btn", "is_dead": True, "is_rage": True},
    ]
    assert (replay["count_dead_clicks"], replay["count_rage_clicks"]) == (2, 1)


def test_ingesting_twice_changes_nothing(tmp_path):
    files = [
        *map(str, CAPTURE),
        *map(str, sorted((ROOT / "data/fixtures/envelopes").glob("0000*"))),
    ]
    run("ingest", "--data", str(tmp_path), *files[:8], "--project", "42")
    run("ingest", "--data", str(tmp_path), *files[8:])
    once = table_contents(tmp_path)
    run("ingest", "--data", str(tmp_path), *files[:8], "--project", "42")
    run("ingest", "--data", str(tmp_path), *files[8:])
    assert table_contents(tmp_path) == once
    assert len(once["replays"]) >= 2


def test_a_malformed_item_names_itself_and_writes_nothing(tmp_path):
    run("ingest", "--data", str(tmp_path), "--project", "42", str(CAPTURE[0]))
    before = table_contents(tmp_path)
    broken = tmp_path / "broken.envelope"
    body = CAPTURE[1].read_bytes().replace(b'"segment_id":0,', b'"segment_id":"zero",', 1)
    broken.write_bytes(body)
    result = run(
        "ingest",
        "--data",
        str(tmp_path),
        "--project",
        "42",
        *map(str, CAPTURE[1:]),
        str(broken),
        ok=False,
    )
    assert result.returncode == 2
    assert "broken.envelope" in result.stderr and "segment_id" in result.stderr
    assert table_contents(tmp_path) == before


def test_sql_and_compact(tmp_path):
    run("ingest", "--data", str(tmp_path), "--project", "42", *map(str, CAPTURE))
    before = table_contents(tmp_path)
    assert "compacted" in run("compact", "--data", str(tmp_path)).stdout
    assert table_contents(tmp_path) == before
    table = run("sql", "--data", str(tmp_path), "SELECT count(*) AS n FROM segments").stdout
    assert "(1 rows)" in table and "5" in table
    bad = run("sql", "--data", str(tmp_path), "SELECT nope FROM replays", ok=False)
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("args", [["serve", "--data", "x", "--host", "0.0.0.0", "--no-auth"]])
def test_no_auth_is_loopback_only(args):
    result = run(*args, ok=False)
    assert result.returncode == 2 and "loopback" in result.stderr
