"""The engine options of the command line, as a user runs them: real subprocesses."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.conftest import build_store
from tests.server_process import ServerProcess
from tests.test_cli import run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-engines") / "store"
    build_store(path)
    return path


def test_compile_prints_a_search_for_spark_and_clickhouse() -> None:
    query = "url:[https://a.test/, https://b.test/] click.selector:button.btn.primary"
    spark = run("compile", "--dialect", "spark", query).stdout.strip()
    assert spark.startswith("SELECT project_id, replay_id FROM replays WHERE ")
    assert "ARRAYS_OVERLAP" in spark and "ARRAY_EXCEPT" in spark
    clickhouse = run("compile", "--dialect", "clickhouse", "--where", query).stdout.strip()
    assert clickhouse.startswith("COALESCE(")
    assert "hasAny(" in clickhouse and "hasAll(" in clickhouse


def test_compile_refuses_a_bad_search() -> None:
    result = run("compile", "--dialect", "spark", "browser.name:Chrome AND", ok=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")


def test_sql_on_the_clickhouse_engine(data: Path) -> None:
    query = "SELECT count() AS n, countIf(has(tags.key, 'region')) AS eu FROM replays"
    args = ("sql", "--data", str(data), "--engine", "clickhouse", "--format", "json", query)
    assert orjson.loads(run(*args).stdout) == [{"n": 14, "eu": 1}]


@pytest.mark.parametrize("query", ["SELECT nope(", "SELECT nope() FROM replays"])
def test_bad_clickhouse_sql_is_an_error_line(data: Path, query: str) -> None:
    result = run("sql", "--data", str(data), "--engine", "clickhouse", query, ok=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_serve_with_the_clickhouse_engine(data: Path) -> None:
    server = ServerProcess(data, ("--read-only", "--engine", "clickhouse"))
    server.start()
    try:
        url = f"{server.base}/api/0/organizations/acme/replays/?query=browser.name:Firefox"
        with urllib.request.urlopen(url, timeout=30) as answer:
            body = json.load(answer)
        assert [r["id"] for r in body["data"]] == [f"{2:032x}"]
    finally:
        server.stop()
    assert "engine clickhouse" in server.log.read_text()


def test_an_unreachable_clickhouse_server_is_an_error_line(data: Path) -> None:
    from tests.server_process import free_port

    url = f"http://reader:secret@127.0.0.1:{free_port()}"  # nothing listens there
    args = ("sql", "--data", str(data), "--engine", "clickhouse", "--clickhouse-url", url)
    result = run(*args, "SELECT 1", ok=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot reach ClickHouse at http://127.0.0.1:")
    assert len(result.stderr.splitlines()) == 1
    assert "secret" not in result.stderr
