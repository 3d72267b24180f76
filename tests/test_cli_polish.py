"""The command line's polish (issue 16): version, `python -m`, $REPLAYSTORE_DATA, one-line
errors with exit 2, read commands that never create a store, progress, JSON lists in CSV,
`token add` for known organizations only, `project list`. Real subprocesses, real stores."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import replaystore
from replaystore.api import Api, Request
from replaystore.catalog import Catalog
from replaystore.errors import NotFound

ROOT = Path(__file__).resolve().parent.parent
CAPTURE_DIR = ROOT / "data" / "fixtures" / "sdk-capture"
CAPTURE_REPLAY = "dd6eede9d2ae4e18aa22002dfdfbb9e3"
PROJECT = ["--org", "acme", "--slug", "web", "--id", "42", "--dsn-key", "abc123publickey"]


def run(*args: str, module: str = "replaystore", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "REPLAYSTORE_PROGRESS": "1", **env},
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], lines
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store with the real capture in project 42 (registered) and 7 (not registered)."""
    data = tmp_path_factory.mktemp("polish") / "store"
    assert run("project", "add", "--data", str(data), *PROJECT).returncode == 0
    result = run("ingest", "--data", str(data), "--project", "42", str(CAPTURE_DIR))
    assert result.returncode == 0, result.stderr
    files = len(list(CAPTURE_DIR.rglob("*.envelope")))
    assert f"ingested {files} files" in result.stdout
    # The progress bar: off a terminal, one summary line when the command ends.
    assert "ingest" in result.stderr and f"{files}/{files} files" in result.stderr
    assert "note:" not in result.stderr  # every project with replays is registered
    return data


def test_version_and_python_m():
    for module in ("replaystore", "replaystore.cli"):
        result = run("--version", module=module)
        assert result.returncode == 0
        assert result.stdout.strip() == f"replaystore {replaystore.__version__}"
    # The one other place a version is written: the OpenAPI document must agree.
    document = orjson.loads((ROOT / "replaystore" / "openapi.json").read_bytes())
    assert document["info"]["version"] == replaystore.__version__


def test_the_data_folder_from_the_environment(store):
    result = run("sql", "SELECT count(*) AS n FROM replays", "--format", "json",
                 REPLAYSTORE_DATA=str(store))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == [{"n": 1}]
    without = {k: v for k, v in os.environ.items() if k != "REPLAYSTORE_DATA"}
    missing = subprocess.run(
        [sys.executable, "-m", "replaystore", "sql", "SELECT 1"],
        capture_output=True, text=True, env=without, check=False,
    )  # fmt: skip
    assert missing.returncode == 2 and "--data" in missing.stderr


def test_read_commands_never_create_a_store(tmp_path):
    missing = tmp_path / "no-such-store"
    assert_one_line_error(
        run("sql", "--data", str(missing), "SELECT count(*) FROM replays"), "no replay store at"
    )
    assert_one_line_error(run("compact", "--data", str(missing)), "no replay store at")
    assert_one_line_error(run("project", "list", "--data", str(missing)), "no replay store at")
    assert not missing.exists()


def test_ingest_of_a_missing_folder_is_one_line(tmp_path):
    data = tmp_path / "store"
    result = run("ingest", "--data", str(data), str(tmp_path / "no" / "such" / "folder"))
    assert_one_line_error(result, "no such file or folder")
    assert not data.exists()


def test_sql_errors_are_one_line(store):
    assert_one_line_error(run("sql", "--data", str(store), "SELECT nope FROM replays"), "nope")
    assert_one_line_error(run("sql", "--data", str(store), "SELEKT"), "syntax error")


def test_csv_and_json_write_lists_as_json(store):
    query = "SELECT replay_id, urls, error_ids, started_at FROM replays"
    rows = list(csv.DictReader(io.StringIO(run("sql", "--data", str(store), "--format", "csv",
                                               query).stdout)))  # fmt: skip
    assert len(rows) == 1 and rows[0]["replay_id"] == CAPTURE_REPLAY
    urls = orjson.loads(rows[0]["urls"])
    assert isinstance(urls, list) and urls[0] == "http://127.0.0.1:8001/index.html"
    assert len(orjson.loads(rows[0]["error_ids"])) == 1
    assert "T" in rows[0]["started_at"] and rows[0]["started_at"].endswith("+00:00")
    [row] = orjson.loads(run("sql", "--data", str(store), "--format", "json", query).stdout)
    assert row["urls"] == urls
    table = run("sql", "--data", str(store), query).stdout
    assert '["http://127.0.0.1:8001/index.html"' in table and "['" not in table


def test_sql_parameters(store):
    query = "SELECT replay_id FROM replays WHERE project_id = ? AND replay_id = ?"
    args = ["sql", "--data", str(store), "--format", "json", query, "--param", "42"]
    found = run(*args, "--param", CAPTURE_REPLAY)
    assert orjson.loads(found.stdout) == [{"replay_id": CAPTURE_REPLAY}]
    assert orjson.loads(run(*args, "--param", "0" * 32).stdout) == []
    assert_one_line_error(run(*args), "parameters")


def test_token_add_refuses_an_unknown_organization(store):
    assert_one_line_error(
        run("token", "add", "--data", str(store), "--org", "nope"), "unknown organization 'nope'"
    )
    assert "nope" not in Catalog(store).organizations()
    token = run("token", "add", "--data", str(store), "--org", "acme")
    assert token.returncode == 0 and len(token.stdout.strip()) == 64


def test_project_list_and_unregistered_projects(tmp_path):
    data = tmp_path / "store"
    assert run("project", "add", "--data", str(data), *PROJECT).returncode == 0
    listed = run("project", "list", "--data", str(data), "--format", "json")
    assert orjson.loads(listed.stdout) == [
        {"org": "acme", "slug": "web", "id": 42, "dsn_keys": ["abc123publickey"], "replays": 0}
    ]
    # Ingested into a project no organization lists: the CLI says how to make it visible.
    result = run("ingest", "--data", str(data), "--project", "7", str(CAPTURE_DIR))
    assert result.returncode == 0
    assert "note: project 7 is in no organization" in result.stderr
    assert "replaystore project add" in result.stderr
    rows = orjson.loads(run("project", "list", "--data", str(data), "--format", "json").stdout)
    assert rows[-1] == {"org": None, "slug": None, "id": 7, "dsn_keys": [], "replays": 1}
    table = run("project", "list", "--data", str(data)).stdout
    assert "acme" in table and "web" in table and "(2 rows)" in table


def test_an_unregistered_organization_says_how_to_register(tmp_path):
    """Data ingested from Python, no `project add`: the 404 names the fix (issue 16)."""
    with replaystore.open(tmp_path) as store:
        store.ingest_files(CAPTURE_DIR, project_id=42)
        api = Api(store.storage, store.engine, Catalog(tmp_path), ingest=None)
        with pytest.raises(NotFound) as raised:
            api.list_replays(Request("GET", "/", params={"org": "acme"}))
    assert raised.value.status == 404
    assert "'acme' is not in this store's catalog" in raised.value.detail
    assert "replaystore project add" in raised.value.detail


def test_fixtures_help_writes_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "replaystore.fixtures", "--help"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "usage:" in result.stdout
    assert list(tmp_path.iterdir()) == []
