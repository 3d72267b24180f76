"""Views and deletion jobs on `s3://bucket/prefix` (issue 14 beside issue 13): the `viewers`
and `delete_jobs` tables live in the store, a job runs and purges there, the CLI works."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import replaystore
from replaystore.catalog import Catalog
from replaystore.cli import main
from replaystore.storage.delete_jobs import all_jobs
from replaystore.storage.viewers import record_view
from tests.conftest import fixture_batch, rid
from tests.storage.test_s3_store import objects


def test_views_and_a_job_on_s3(s3_url: str) -> None:
    rs = replaystore.open(s3_url)
    rs.write(fixture_batch())
    started = (
        rs.storage.connect()
        .execute("SELECT started_at FROM replays WHERE replay_id = ?", [rid(2)])
        .fetchall()[0][0]
    )
    assert record_view(rs.storage, 1, rid(2), 7, started) is True
    rs.refresh()  # the analyst API reads one snapshot until refreshed
    assert rs.sql("SELECT viewer_id FROM viewers") == [{"viewer_id": 7}]
    job = rs.delete_replays(1, start="2000-01-01", end="2100-01-01", query="user.username:bob")
    assert (job["status"], job["countDeleted"]) == ("completed", 1)
    rs.refresh()
    assert rs.get_replay(rid(2))["is_archived"] is True
    assert rs.sql("SELECT count(*) AS n FROM viewers") == [{"n": 0}]
    assert [j.status for j in all_jobs(rs.storage)] == ["completed"]
    assert any("/tables/delete_jobs/" in path for path in objects(rs.storage))


def test_the_delete_command_on_s3(s3_url: str) -> None:
    rs = replaystore.open(s3_url)
    rs.write(fixture_batch())
    Catalog(s3_url).add_project("acme", "web", 1, "webkey")
    out, err = io.StringIO(), io.StringIO()
    argv = ["delete", "--data", s3_url, "--project", "1", "--query", "user.username:bob"]
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*argv, "--start", "2000-01-01", "--end", "2100-01-01"])
    assert code == 0, err.getvalue()
    assert "1 replays deleted" in out.getvalue()
    assert replaystore.open(s3_url).get_replay(rid(2))["is_archived"] is True
