"""A store on `s3://bucket/prefix` (a real S3 server, `weed mini`): every operation of a local
store, the settings kept apart per client, nothing written to local disk but the journal."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import s3fs

import replaystore
from replaystore.catalog import Catalog
from replaystore.cli import main
from replaystore.server import make_app
from replaystore.storage.maintenance import Maintenance
from replaystore.storage.objectstore import StorageConfig
from replaystore.storage.retention import expire
from replaystore.storage.store import Store, StoreNotFound, StoreUnreachable
from replaystore.writer import journal_dir
from tests.conftest import ORG, FixtureStore, fixture_batch, rid, serving
from tests.s3server import S3Server
from tests.storage import rows as R
from tests.storage.contents import rows
from tests.storage.test_retention_packs import (
    NEW_RECORDING,
    NOW,
    OLD_EMAIL,
    OLD_RECORDING,
    SETTINGS,
    replay,
)


def objects(store: Store) -> dict[str, bytes]:
    """Every object under the store's prefix, read straight from the S3 server."""
    fs = store.config.fs
    return {path: fs.cat_file(path) for path in fs.find(store.layout.root)}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_python_api_works_on_s3(s3_url: str) -> None:
    rs = replaystore.open(s3_url)
    rs.write(fixture_batch())
    assert rs.storage.tables["segments"].file_uris()[0].startswith(f"{s3_url}/tables/segments/")
    listed = [r["id"] for r in rs.list_replays(projects=[1, 2], limit=100)]
    assert rid(1) in listed and rid(3) in listed and rid(5) not in listed
    assert rs.get_replay(rid(1))["count_segments"] == 3
    assert b'"segment":1' in rs.recording(1, rid(1), 1)
    assert [s["segmentId"] for s in rs.recording_segments(1, rid(1))] == [0, 1, 2]
    assert rs.sql("SELECT count(*) AS n FROM segments") == [{"n": 26}]
    rs.compact()
    assert rs.delete_replay(1, rid(1)) is True
    assert rs.get_replay(rid(1))["is_archived"] is True
    # Reopened by another handle: the same answers, read from the bucket alone.
    again = replaystore.open(s3_url)
    assert {r["id"] for r in again.list_replays(projects=[1, 2], limit=100)} == set(listed)


def test_duckdb_reads_through_fsspec_and_never_loads_httpfs(s3_url: str) -> None:
    rs = replaystore.open(s3_url)
    rs.write(fixture_batch())
    assert rs.list_replays(projects=[1])
    con = rs.engine.cursor()
    found = con.execute(
        "SELECT extension_name, loaded, installed FROM duckdb_extensions() "
        "WHERE extension_name IN ('httpfs', 'aws')"
    ).fetchall()
    assert found == [("aws", False, False), ("httpfs", False, False)]
    assert "s3" in ",".join(con.list_filesystems())


def test_settings_for_deltalake_and_fsspec_are_kept_apart(s3_server: S3Server) -> None:
    env = s3_server.env | {"AWS_REGION": "eu-west-1"}
    config = StorageConfig.for_root("s3://b/p", {"aws_region": "us-east-1"}, environ=env)
    # deltalake: string options, the explicit ones over the environment
    assert config.storage_options == {
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    # fsspec: s3fs's own keyword arguments, never deltalake's names
    assert isinstance(config.fs, s3fs.S3FileSystem)
    assert config.fs.endpoint_url == s3_server.endpoint
    assert config.fs.key == env["AWS_ACCESS_KEY_ID"]
    assert config.fs.client_kwargs == {"region_name": "us-east-1"}
    assert "AWS_ALLOW_HTTP" not in str(config.fs.storage_options)
    local = StorageConfig.for_root("/tmp/x")
    assert local.storage_options is None and not local.remote


def test_read_commands_never_create_a_store_on_s3(s3_url: str) -> None:
    with pytest.raises(StoreNotFound):
        Store.open(s3_url, read_only=True)
    with pytest.raises(StoreNotFound):
        Store.open(s3_url, create=False)
    fs = StorageConfig.for_root(s3_url).fs
    assert not fs.find(s3_url)


def test_every_cli_command_works_on_s3(s3_url: str, tmp_path: Path) -> None:
    code, out, _ = run("project", "add", "--data", s3_url, "--org", "acme", "--slug", "web",
                       "--id", "1", "--dsn-key", "webkey")  # fmt: skip
    assert code == 0 and "acme/web id 1" in out
    code, token, _ = run("token", "add", "--data", s3_url, "--org", "acme")
    assert code == 0
    assert Catalog(s3_url).org_for_token(token.strip()) == "acme"
    assert Catalog(s3_url).project_for_dsn_key("webkey").id == 1
    export = tmp_path / "replays.jsonl"
    export.write_bytes(_jsonl_export())
    code, out, err = run("ingest", "--data", s3_url, str(export))
    assert (code, out.strip()) == (0, "ingested 1 files"), err
    code, out, _ = run("sql", "--data", s3_url, "--format", "json",
                       "SELECT count(*) AS n FROM replays")  # fmt: skip
    assert code == 0 and orjson.loads(out) == [{"n": 1}]
    code, out, _ = run("compact", "--data", s3_url)
    assert code == 0 and out.startswith("compacted:")
    # Nothing of the store was written to the local folder we ran in.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["replays.jsonl"]


def test_import_export_and_delete_work_on_s3(
    s3_url: str, tmp_path: Path, fixture_store: FixtureStore
) -> None:
    with serving(make_app(str(fixture_store.path), read_only=True)) as source:
        code, _, err = run("import", "--data", s3_url, "--from", source, "--org", ORG,
                           "--token", fixture_store.tokens[ORG],
                           "--state", str(tmp_path / "import-state.json"))  # fmt: skip
    assert code == 0, err
    store = replaystore.open(s3_url)
    assert store.get_replay(rid(1))["count_segments"] == 3
    assert b'"segment":2' in store.recording(1, rid(1), 2)
    out = tmp_path / "out.jsonl"
    code, _, err = run("export", "--data", s3_url, "--out", str(out))
    assert code == 0, err
    assert rid(1) in out.read_text()
    start = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    end = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    code, _, err = run("delete", "--data", s3_url, "--project", "1", "--query", f"id:{rid(1)}",
                       "--start", start, "--end", end)  # fmt: skip
    assert code == 0, err
    assert replaystore.open(s3_url).get_replay(rid(1))["is_archived"] is True


def _jsonl_export() -> bytes:
    now = datetime.now(UTC) - timedelta(hours=1)
    event = {
        "type": "replay_event",
        "replay_id": rid(77),
        "segment_id": 0,
        "timestamp": now.timestamp(),
        "replay_start_timestamp": now.timestamp(),
        "urls": ["https://acme.test/"],
    }
    line = {"type": "replay_event", "project_id": 1, "event": event}
    return orjson.dumps(line) + b"\n"


def test_retention_and_deletion_remove_the_bytes_from_the_bucket(s3_url: str) -> None:
    store = Store.open(s3_url)
    replay(store, 1, NOW - timedelta(days=120), OLD_EMAIL, OLD_RECORDING)
    replay(store, 2, NOW - timedelta(days=1), b"victim@example.org", b"VICTIM-REC-5e1")
    replay(store, 3, NOW - timedelta(days=1), b"new@example.org", NEW_RECORDING)
    maintenance = Maintenance(store, SETTINGS)
    maintenance.run_once()  # fold and merge the packs, on S3
    assert expire(store, NOW - timedelta(days=90)) == 1
    assert store.delete_replay(1, R.rid(2)) is True
    maintenance.run_once(force_vacuum=True)
    assert sorted(r["replay_id"] for r in rows(store, "replays")) == [R.rid(2), R.rid(3)]
    stored = b"".join(objects(store).values())
    for needle in (OLD_EMAIL, OLD_RECORDING, b"VICTIM-REC-5e1", b"victim@example.org"):
        assert needle not in stored, needle
    assert NEW_RECORDING in stored
    assert store.read_blob(1, R.rid(3), 1) == NEW_RECORDING + b"-1"


def test_the_journal_of_an_s3_store_is_on_local_disk(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REPLAYSTORE_JOURNAL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = Path(journal_dir(s3_url))
    assert folder.is_relative_to(tmp_path / "cache" / "replaystore" / "journals")
    assert folder.name.startswith("s3-replays-")
    assert journal_dir(s3_url) != journal_dir(s3_url + "x")  # one journal per store
    assert journal_dir(s3_url, str(tmp_path / "j")) == str(tmp_path / "j")
    assert journal_dir("/srv/store") == "/srv/store/journal"


def test_an_unreachable_endpoint_is_one_error_line(tmp_path: Path) -> None:
    config = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k",
              "AWS_SECRET_ACCESS_KEY": "s", "AWS_ALLOW_HTTP": "true"}  # fmt: skip
    with pytest.raises(StoreUnreachable, match="cannot read the store at s3://nowhere/store"):
        Store.open("s3://nowhere/store", storage_options=config)


def test_an_http_endpoint_without_allow_http_says_so(s3_url: str) -> None:
    with pytest.raises(StoreUnreachable, match="set AWS_ALLOW_HTTP=true"):
        Store.open(s3_url, storage_options={"AWS_ALLOW_HTTP": "false"})


def test_project_list_on_s3_before_any_ingest(s3_url: str) -> None:
    code, _, err = run("project", "list", "--data", s3_url)
    assert code == 2 and err.startswith("error: "), err  # no store, no catalog: a read command
    assert run("project", "add", "--data", s3_url, "--org", "acme", "--slug", "web",
               "--id", "1", "--dsn-key", "webkey")[0] == 0  # fmt: skip
    code, out, err = run("project", "list", "--data", s3_url, "--format", "json")
    assert code == 0, err
    assert [(r["org"], r["slug"], r["replays"]) for r in orjson.loads(out)] == [("acme", "web", 0)]


def test_a_reader_keeps_its_snapshot_while_storage_is_unreachable(s3_url: str) -> None:
    Store.open(s3_url).write(fixture_batch())
    reader = Store.open(s3_url, read_only=True)
    before = reader.snapshot()
    reader.config.fs = s3fs.S3FileSystem(  # the same store, its endpoint now refusing
        key="k", secret="s", endpoint_url="http://127.0.0.1:9", skip_instance_cache=True
    )
    reader._checked = float("-inf")  # the poll is due
    assert reader.snapshot() is before
