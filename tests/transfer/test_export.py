"""`replaystore export`: JSONL that re-ingests to the same API answers, Parquet that duckdb
opens (issue 16)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest

import replaystore
from replaystore import fixtures
from replaystore.catalog import Catalog
from replaystore.errors import IngestError
from replaystore.ingest import parse_jsonl
from replaystore.transfer import export_jsonl, export_parquet
from tests.server_process import ServerProcess
from tests.transfer.helpers import ORG, build_source, everything, listing
from tests.transfer.test_import import Source, assert_same, run_cli


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("source") / "store"
    token = build_source(root, 30)
    server = ServerProcess(root, auth=True)
    server.start()
    yield Source(root, server, token)
    server.stop()


def register(root: Path) -> None:
    catalog = Catalog(root)
    for project in fixtures.PROJECTS:
        catalog.add_project(project.org, project.slug, project.id, project.dsn_key)


def test_jsonl_export_reingests_to_the_same_answers(source, tmp_path):
    out = tmp_path / "export.jsonl"
    done = run_cli("export", "--data", str(source.root), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    kinds = {line["type"] for line in lines}
    assert kinds == {"replay", "replay_recording"}
    copy = tmp_path / "copy"
    register(copy)
    ingested = run_cli("ingest", "--data", str(copy), str(out))
    assert ingested.returncode == 0, ingested.stderr
    assert_same(source, copy)
    # ingesting the export twice changes nothing
    before = replaystore.open(str(copy)).sql("SELECT count(*) AS n FROM segments")
    assert run_cli("ingest", "--data", str(copy), str(out)).returncode == 0
    assert replaystore.open(str(copy)).sql("SELECT count(*) AS n FROM segments") == before
    # and the copy exports the same file, byte for byte
    assert export_jsonl(str(copy), tmp_path / "again.jsonl") == len(want_replays(lines))
    assert (tmp_path / "again.jsonl").read_bytes() == out.read_bytes()


def want_replays(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["type"] == "replay"]


def test_jsonl_export_of_a_query_holds_only_the_matches(source, tmp_path):
    out = tmp_path / "errors.jsonl"
    count = export_jsonl(str(source.root), out, query="count_errors:>0")
    replays = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    replays = [line["replay"] for line in replays if line["type"] == "replay"]
    assert len(replays) == count > 0
    assert all(r["count_errors"] > 0 for r in replays)
    everyone = replaystore.open(str(source.root)).sql(
        "SELECT count(*) AS n FROM replays WHERE count_errors > 0"
    )
    assert count == everyone[0]["n"]


def test_parquet_export_is_a_folder_duckdb_reads(source, tmp_path):
    out = tmp_path / "tables"
    done = run_cli("export", "--data", str(source.root), "--out", str(out), "--format", "parquet")
    assert done.returncode == 0, done.stderr
    store = replaystore.open(str(source.root))
    for table, view in (("replays", "replays"), ("segments", "segments"), ("clicks", "clicks")):
        want = store.sql(f"SELECT count(*) AS n FROM {view}")[0]["n"]
        got = duckdb.execute(f"SELECT count(*) FROM '{out}/{table}.parquet'").fetchone()[0]
        assert got == want > 0, table
    blobs = store.sql("SELECT count(*) AS n FROM segments WHERE has_blob")[0]["n"]
    assert duckdb.execute(f"SELECT count(*) FROM '{out}/recordings.parquet'").fetchone()[0] == blobs
    # a replay's row carries what the API shows
    item = listing(source.server.base, source.token)[0]
    row = duckdb.execute(
        f"SELECT count_errors, urls FROM '{out}/replays.parquet' WHERE replay_id = ?",
        [item["id"]],
    ).fetchone()
    assert row == (item["count_errors"], item["urls"])
    first = duckdb.execute(
        f"SELECT rrweb FROM '{out}/recordings.parquet' WHERE replay_id = ? AND segment_id = 0",
        [item["id"]],
    ).fetchone()[0]
    assert orjson.loads(first) == orjson.loads(
        store.recording(int(item["project_id"]), item["id"], 0)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{missing}"], "error: no replay store at"),
        (["--query", "count_errors:>>"], "error: "),
        (["--since", "soon"], "error: "),
        (["--out", "{folder}"], "error: --out"),
        (["--format", "parquet", "--out", "-"], "error: Parquet goes into a folder"),
    ],
    ids=["missing-store", "query", "since", "out-folder", "parquet-stdout"],
)
def test_bad_export_input_is_one_error_line_and_exit_2(source, tmp_path, args, message):
    given = {"--data": str(source.root), "--out": str(tmp_path / "x.jsonl")}
    names = {"missing": str(tmp_path / "nothing"), "folder": str(tmp_path)}
    given.update(zip(args[::2], (a.format(**names) for a in args[1::2]), strict=True))
    done = run_cli("export", *[x for pair in given.items() for x in pair])
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nothing").exists()


REPLAY = {
    "id": "a" * 32,
    "project_id": "11",
    "started_at": "2026-11-30T10:00:00.123456+00:00",
    "finished_at": "2026-11-30T10:05:00+00:00",
    "urls": ["https://a.test/"],
    "error_ids": [],
    "warning_ids": ["b" * 32],
    "info_ids": [],
    "trace_ids": [],
    "releases": ["1.0", "1.1"],
    "tags": {"plan": ["free"]},
    "user": {"id": "u1", "email": "x@a.test", "geo": {"city": "Oslo"}},
    "browser": {"name": "Firefox", "version": "130"},
}


def line(**changes) -> bytes:
    base = {"type": "replay", "project_id": 11, "replay": REPLAY, "segments": [{"segment_id": 0}]}
    return orjson.dumps(base | changes)


def test_a_replay_line_becomes_rows_the_summary_shows_again():
    batch = parse_jsonl([line(segments=[{"segment_id": 0}, {"segment_id": 1}])])
    segments = batch.segments.to_pylist()
    assert [s["segment_id"] for s in segments] == [0, 1]
    assert [s["release"] for s in segments] == ["1.0", "1.1"]
    assert segments[0]["user_geo_city"] == "Oslo" and segments[1]["user_geo_city"] == ""
    assert [(r["event_id"], r["level"]) for r in batch.links.to_pylist()] == [("b" * 32, "warning")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"replay": REPLAY | {"id": "nope"}}, "replay.id"),
        ({"replay": REPLAY | {"is_archived": True}}, "replay.is_archived"),
        ({"replay": REPLAY | {"project_id": "12"}}, "replay.project_id"),
        ({"replay": REPLAY | {"started_at": None}}, "replay.started_at"),
        ({"segments": [{"segment_id": -1}]}, "segments[0].segment_id"),
        ({"clicks": [{"node_id": "x", "timestamp": 1}]}, "clicks[0].node_id"),
        ({"replay": REPLAY | {"tags": {"plan": "free"}}}, "tags.plan"),
    ],
    ids=["id", "archived", "project", "started", "segment", "click", "tags"],
)
def test_a_bad_replay_line_names_its_line_and_field(changes, field):
    with pytest.raises(IngestError) as caught:
        parse_jsonl([b"", line(**changes)], name="x.jsonl")
    assert caught.value.detail.startswith(f"x.jsonl line 2: field '{field}'"), caught.value.detail


def test_the_source_answers_are_not_empty(source):
    got = everything(source.server.base, source.token)
    assert got["list"] and any(got["clicks"].values()) and any(got["downloads"].values())
    assert any(i["count_dead_clicks"] for i in got["list"]) or any(
        i["count_rage_clicks"] for i in got["list"]
    )
    assert ORG


def test_the_real_sdk_capture_round_trips(tmp_path):
    """A replay a real browser SDK recorded (zlib bodies, dead clicks, an error) comes back
    from its export the same on every route."""
    capture = Path(__file__).resolve().parents[2] / "data" / "fixtures" / "sdk-capture"
    source = replaystore.open(str(tmp_path / "source"))
    source.ingest_files(sorted(capture.glob("*.envelope")), project_id=42)
    replay_id = "dd6eede9d2ae4e18aa22002dfdfbb9e3"
    assert export_jsonl(str(tmp_path / "source"), tmp_path / "x.jsonl", since="3650d") == 1
    copy = replaystore.open(str(tmp_path / "copy"))
    copy.ingest_files([tmp_path / "x.jsonl"])
    want = source.get_replay(replay_id)
    assert want["count_dead_clicks"] > 0 and want["count_errors"] > 0
    assert copy.get_replay(replay_id) == want
    held = source.recording_segments(42, replay_id)
    assert copy.recording_segments(42, replay_id) == held and len(held) == want["count_segments"]
    assert copy.clicks(42, replay_id) == source.clicks(42, replay_id)
    for segment in held:
        number = segment["segmentId"]
        assert copy.recording(42, replay_id, number) == source.recording(42, replay_id, number)


def test_parquet_export_of_a_query_holds_only_the_matches(source, tmp_path):
    written = export_parquet(str(source.root), tmp_path / "t", query="count_errors:>0")
    store = replaystore.open(str(source.root))
    want = store.sql("SELECT count(*) AS n FROM replays WHERE count_errors > 0")[0]["n"]
    assert written["replays"] == want > 0
    ids = {
        r[0]
        for r in duckdb.execute(f"SELECT replay_id FROM '{tmp_path}/t/segments.parquet'").fetchall()
    }
    matched = {
        r["replay_id"] for r in store.sql("SELECT replay_id FROM replays WHERE count_errors > 0")
    }
    assert ids == matched
    assert written["segments"] < store.sql("SELECT count(*) AS n FROM segments")[0]["n"]


SEARCHES = (
    "count_errors:>0",
    "count_dead_clicks:>0 OR count_rage_clicks:>0",
    "browser.name:Chrome*",
    "url:*checkout*",
    "click.tag:button",
    "dead.selector:button",
    "user.email:*@*",
    "release:*",
    "duration:>30s",
    "count_segments:>1 AND count_urls:>1",
    "feature.flag:dark-mode",
    "activity:>3",
)


def test_searches_find_the_same_replays_in_a_re_ingested_export(source, tmp_path):
    """Search, the summary and the raw-row reference agree on exported-and-ingested rows."""
    from sqlglot import exp

    from replaystore.search import compile_replay_search, raw_replays_query

    export_jsonl(str(source.root), tmp_path / "x.jsonl")
    copy = replaystore.open(str(tmp_path / "copy"))
    copy.ingest_files([tmp_path / "x.jsonl"])
    original = replaystore.open(str(source.root))
    found_any = 0
    con = copy.connect()
    try:
        for text in SEARCHES:
            want = {r["id"] for r in original.list_replays(text, stats_period="90d", limit=100)}
            assert {r["id"] for r in copy.list_replays(text, stats_period="90d", limit=100)} == want
            summary = exp.select("replay_id").from_("replays").where(compile_replay_search(text))
            raw = raw_replays_query(compile_replay_search(text, source="raw"))
            from_summary = {r[0] for r in con.execute(summary.sql("duckdb")).fetchall()}
            from_raw = {r[1] for r in con.execute(raw.sql("duckdb")).fetchall()}
            assert from_summary == from_raw, text
            found_any += bool(want)
    finally:
        con.close()
    assert found_any >= len(SEARCHES) - 2  # the searches are not all empty
