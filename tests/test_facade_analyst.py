"""The Python API for analysts (issue 16): SQL results as Arrow/pandas/polars, parameters,
pages followed, the snapshot rule with refresh(), close()/with, and clean errors."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import replaystore
from replaystore.errors import (
    ApiError,
    IngestError,
    NotFound,
    ReplayStoreError,
    SqlError,
    StoreClosed,
)
from replaystore.storage.store import StoreNotFound

ROOT = Path(__file__).resolve().parent.parent
CAPTURE_DIR = ROOT / "data" / "fixtures" / "sdk-capture"
ENVELOPES = sorted((ROOT / "data" / "fixtures" / "envelopes").glob("*.envelope"))
CAPTURE_REPLAY = "dd6eede9d2ae4e18aa22002dfdfbb9e3"
WINDOW = {"start": "2026-10-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # A folder (as a str) and a single file (a Path) are both what a user would pass.
    store = replaystore.open(str(tmp_path_factory.mktemp("analyst")))
    assert store.ingest_files(str(CAPTURE_DIR), project_id=42) == len(
        list(CAPTURE_DIR.glob("*.envelope"))
    )
    assert store.ingest_files(ENVELOPES[0]) == 1
    store.ingest_files(ENVELOPES[1:150])
    yield store
    store.close()


def test_sql_results_in_every_form(store):
    result = store.sql(
        "SELECT project_id, count(*) AS n FROM replays WHERE project_id = ? GROUP BY ALL", [42]
    )
    assert isinstance(result.arrow(), pa.Table)
    assert result.arrow().column("n").to_pylist() == [1]
    frame = result.df()
    assert isinstance(frame, pd.DataFrame) and frame.loc[0, "n"] == 1
    polars_frame = result.pl()
    assert isinstance(polars_frame, pl.DataFrame) and polars_frame["project_id"].to_list() == [42]
    assert result.fetchall() == [(42, 1)] and result.fetchone() == (42, 1)
    assert result.columns == ["project_id", "n"]
    # Still the sequence of row dicts `store.sql` always returned.
    assert result[0] == {"project_id": 42, "n": 1} and list(result) == [{"project_id": 42, "n": 1}]
    assert len(result) == 1


def test_sql_named_parameters_and_lists(store):
    rows = store.sql(
        "SELECT replay_id, urls FROM replays WHERE replay_id = $id", {"id": CAPTURE_REPLAY}
    )
    assert rows[0]["replay_id"] == CAPTURE_REPLAY
    assert isinstance(rows[0]["urls"], list) and rows[0]["urls"]
    assert store.sql("SELECT 1 AS x WHERE false").fetchone() is None


@pytest.mark.parametrize(
    ("query", "params", "text"),
    [
        ("SELECT nope FROM replays", None, "nope"),
        ("SELEKT 1", None, "syntax"),
        ("SELECT ? AS a", None, "parameters"),
        ("SELECT * FROM no_such_table", None, "no_such_table"),
        ("SELECT * FROM read_parquet('/no/such/file.parquet')", None, "/no/such/file.parquet"),
    ],
)
def test_sql_errors_are_clean(store, query, params, text):
    with pytest.raises(SqlError) as raised:
        store.sql(query, params)
    assert isinstance(raised.value, ReplayStoreError) and raised.value.status == 400
    assert text in raised.value.detail.lower() or text in raised.value.detail


def test_iter_replays_follows_every_page(store):
    every = list(store.iter_replays(page_size=7, fields=["id", "started_at"], **WINDOW))
    total = store.sql("SELECT count(*) AS n FROM replays WHERE started_at >= ? AND started_at < ?",
                      ["2026-10-01", "2026-12-01"])[0]["n"]  # fmt: skip
    assert len(every) == total > 14  # more than two pages
    assert len({r["id"] for r in every}) == len(every)
    assert [r["id"] for r in every[:7]] == [
        r["id"] for r in store.list_replays(limit=7, fields="id", **WINDOW)
    ]
    chrome = list(store.iter_replays("browser.name:Chrome", page_size=5, **WINDOW))
    assert chrome and all(r["browser"]["name"] == "Chrome" for r in chrome)


def test_segments_and_clicks_are_every_page(store):
    assert [s["segmentId"] for s in store.recording_segments(42, CAPTURE_REPLAY)] == [0, 1, 2, 3, 4]
    assert len(store.clicks(42, CAPTURE_REPLAY)) == 3


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda s: s.list_replays(fields=["nope"]), ApiError, '"nope" is not a valid choice.'),
        (lambda s: s.list_replays(limit=500), ApiError, "Invalid limit value. Cannot exceed 100."),
        (lambda s: s.list_replays(offset=-1), ApiError, "Cannot be negative"),
        (lambda s: next(s.iter_replays(page_size=0)), ApiError, "Must be at least 1"),
        (lambda s: s.get_replay(CAPTURE_REPLAY, fields="nope"), ApiError, "not a valid choice"),
        (lambda s: s.recording_segments(42, "nope"), NotFound, "not a replay id"),
        (lambda s: s.ingest_files("no/such/file.envelope"), IngestError, "no such file"),
    ],
)
def test_bad_arguments_raise_replaystore_errors(store, call, error, text):
    with pytest.raises(error) as raised:
        call(store)
    assert text in raised.value.detail


def test_windows_from_python_values(store):
    from datetime import UTC, datetime, timedelta

    by_text = store.list_replays(limit=100, **WINDOW)
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1)  # naive = UTC
    assert store.list_replays(limit=100, start=start, end=end) == by_text
    assert store.tag_keys(stats_period=timedelta(days=90)) == store.tag_keys(stats_period="90d")
    assert store.tag_keys(stats_period=90 * 86400) == store.tag_keys(stats_period="90d")
    for bad in ({"stats_period": 1.5}, {"start": 3, "end": 4}, {"projects": ["42"]}):
        with pytest.raises(ApiError):
            store.list_replays(**bad)


def test_a_lone_string_is_one_value(store):
    one = store.list_replays(environments="production", limit=100, **WINDOW)
    listed = store.list_replays(environments=["production"], limit=100, **WINDOW)
    assert one == listed
    assert store.list_replays(projects=42, **WINDOW)[0]["id"] == CAPTURE_REPLAY


def test_snapshot_rule_and_refresh(tmp_path):
    """A store reads the snapshot it opened until refresh(); its own writes it sees at once."""
    writer = replaystore.open(tmp_path)
    writer.ingest_files(ENVELOPES[:5])
    reader = replaystore.open(tmp_path)
    before = reader.sql("SELECT count(*) AS n FROM replays")[0]["n"]
    seen_by_writer = writer.sql("SELECT count(*) AS n FROM replays")[0]["n"]
    writer.ingest_files(ENVELOPES[5:60])
    after_write = writer.sql("SELECT count(*) AS n FROM replays")[0]["n"]
    assert after_write > seen_by_writer == before
    pinned = reader.connect()
    assert reader.sql("SELECT count(*) AS n FROM replays")[0]["n"] == before
    assert reader.refresh() is reader
    assert reader.sql("SELECT count(*) AS n FROM replays")[0]["n"] == after_write
    assert reader.snapshot_seq == writer.snapshot_seq
    # A connection stays on the snapshot it was opened at.
    assert pinned.execute("SELECT count(*) FROM replays").fetchone()[0] == before
    pinned.close()
    writer.close()
    reader.close()


def test_close_and_with(tmp_path):
    with replaystore.open(tmp_path) as store:
        store.ingest_files(ENVELOPES[:3])
        assert store.sql("SELECT count(*) AS n FROM segments")[0]["n"] >= 3
    assert store.closed
    for call in (lambda: store.sql("SELECT 1"), store.refresh, lambda: store.list_replays()):
        with pytest.raises(StoreClosed):
            call()


def test_opening_without_creating(tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(StoreNotFound) as raised:
        replaystore.open(missing, create=False)
    assert isinstance(raised.value, ReplayStoreError)
    with pytest.raises(StoreNotFound):
        replaystore.open(missing, read_only=True)
    assert not missing.exists()


def test_a_missing_extra_is_a_clear_error():
    # A real interpreter where pandas cannot be imported: the call says what to install.
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'pandas':\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import pyarrow as pa\n"
        "from replaystore.results import SqlResult\n"
        "from replaystore.errors import MissingDependency\n"
        "try:\n"
        "    SqlResult(pa.table({'a': [1]})).df()\n"
        "except MissingDependency as e:\n"
        "    assert isinstance(e, ImportError)\n"
        "    print(e.detail)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "pandas is not installed: pip install 'replaystore[pandas]'"


def test_every_public_method_has_a_docstring_and_types():
    from replaystore.facade import ReplayStore
    from replaystore.results import SqlResult

    members = [replaystore.open]
    for cls in (ReplayStore, SqlResult):
        for name, member in vars(cls).items():
            if name.startswith("_"):
                continue
            member = member.fget if isinstance(member, property) else member
            if callable(member):
                members.append(member)
    assert len(members) > 25
    for member in members:
        assert member.__doc__ and member.__doc__.strip(), member.__qualname__
        signature = inspect.signature(member)
        assert signature.return_annotation is not inspect.Signature.empty, member.__qualname__
        for parameter in list(signature.parameters.values()):
            if parameter.name != "self":
                assert parameter.annotation is not inspect.Parameter.empty, (
                    member.__qualname__,
                    parameter.name,
                )


def test_a_snapshot_whose_files_were_vacuumed_asks_for_refresh(tmp_path):
    """Maintenance removed the pinned snapshot's files: a clean StaleSnapshot, then refresh."""
    from datetime import timedelta

    from replaystore.errors import StaleSnapshot

    with replaystore.open(tmp_path) as writer:
        for start in range(0, 40, 10):  # several small files per table, for compact to merge
            writer.ingest_files(ENVELOPES[start : start + 10])
        reader = replaystore.open(tmp_path, read_only=True)
        expected = reader.sql("SELECT count(*) AS n FROM segments")[0]["n"]
        result = writer.storage.compact(retention=timedelta(0))  # vacuum at once
        assert result.files_vacuumed > 0
        with pytest.raises(StaleSnapshot) as raised:
            reader.sql("SELECT count(*) AS n FROM segments")
        assert "refresh()" in raised.value.detail and raised.value.status == 409
        with pytest.raises(StaleSnapshot):
            reader.list_replays(limit=100, **WINDOW)
        assert reader.refresh().sql("SELECT count(*) AS n FROM segments")[0]["n"] == expected
        reader.close()


def test_the_documented_errors_come_from_the_package():
    table = (Path(__file__).resolve().parent.parent / "docs" / "python.md").read_text()
    section = table.split("## Errors", 1)[1].split("```", 1)[0]
    names = re.findall(r"^\| `(\w+)` \|", section, re.M)
    assert len(names) >= 10
    for name in names:
        error = getattr(replaystore, name)
        assert issubclass(error, ReplayStoreError), name
        status = re.search(rf"^\| `{name}` \|.*\| (\d{{3}})", section, re.M)
        made = error("x", None) if name == "StoreLocked" else error("x")
        assert status is not None and int(status.group(1)) == made.status, name
