"""compact(): same answers, empty recent tier, sorted files. delete_replay(): real purge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from replaystore.storage import compact
from replaystore.storage.batch import Blob
from replaystore.storage.store import Store
from tests.storage import rows as R
from tests.storage.contents import rows

EMAIL = "victim-7f3a@example.org"
IP = "203.0.113.77"
RECORDING = b"RRWEB-BYTES-OF-THE-VICTIM-9c1e"


def populate(store: Store, n: int = 6) -> None:
    for i in range(n):
        project = 1 + i % 2
        r = R.rid(100 + i)
        start = R.T0 + timedelta(hours=n - i)  # written newest first: compaction must sort
        store.write(
            R.batch(
                [
                    R.segment(project, r, 0, timestamp=start, replay_start_timestamp=start,
                              urls=[f"/{i}"], user_email=f"user{i}@example.com"),
                    R.segment(project, r, 1, timestamp=start + timedelta(seconds=9)),
                ],
                clicks=[R.click(project, r, f"{i:032x}", timestamp=start, is_dead=i % 3 == 0)],
                links=[R.link(project, r, f"{i:031x}e", "error", timestamp=start)],
                blobs=[Blob(project, r, 0, f"recording {i}".encode())],
            )
        )  # fmt: skip


def live_bytes(store: Store) -> bytes:
    snapshot = store.snapshot()
    return b"".join(Path(f).read_bytes() for files in snapshot.files.values() for f in files)


def all_file_bytes(root: str) -> bytes:
    return b"".join(p.read_bytes() for p in Path(root).rglob("*") if p.is_file())


def test_compact_keeps_answers_empties_the_tier_and_sorts(store: Store) -> None:
    populate(store)
    before = {v: rows(store, v) for v in ("replays", "segments", "clicks", "links")}
    assert len(rows(store, "replays_recent")) == 6
    result = store.compact(retention=timedelta(0))
    assert result.folded_rows == 6
    assert result.months_rewritten == ("2026-03",)
    assert {v: rows(store, v) for v in before} == before
    assert rows(store, "replays_recent") == []
    assert len(rows(store, "replays_base")) == 6
    files = store.snapshot().files
    assert len(files["replays"]) == 1 and len(files["segments"]) == 1
    table = pq.read_table(files["replays"][0])
    # Newest first (compact.SORT_KEY), the default list's order.
    keys = list(zip(table["started_at"].to_pylist(), table["replay_id"].to_pylist(), strict=True))
    assert keys == sorted(keys, reverse=True)
    assert (
        pq.ParquetFile(files["replays"][0]).metadata.row_group(0).column(1).path_in_schema
        == "replay_id"
    )


def test_a_month_sorted_in_slices_keeps_every_row_in_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compact, "SLICE_ROWS", 2)
    populate(store, 7)
    tie = R.T0 + timedelta(hours=3)  # the same started_at as populate's replay 4: a slice edge
    store.write(R.batch([R.segment(2, R.rid(900), 0, timestamp=tie, replay_start_timestamp=tie)]))
    before = rows(store, "replays")
    store.compact(retention=timedelta(0))
    assert rows(store, "replays") == before
    # One file per slice, each sorted newest first; together they hold the month in order.
    files = []
    for path in store.snapshot().files["replays"]:
        table = pq.read_table(path)
        started, ids = table["started_at"].to_pylist(), table["replay_id"].to_pylist()
        keys = list(zip(started, ids, strict=True))
        assert keys == sorted(keys, reverse=True)
        files.append(keys)
    assert len(files) > 1
    joined = [key for keys in sorted(files, reverse=True) for key in keys]
    assert len(joined) == 8 and joined == sorted(joined, reverse=True)


def test_compact_twice_and_after_more_writes(store: Store) -> None:
    populate(store, 3)
    store.compact(retention=timedelta(0))
    late = R.segment(1, R.rid(100), 2, timestamp=R.T0 + timedelta(hours=3, minutes=5))
    store.write(R.batch([late]))
    updated = [r for r in rows(store, "replays") if r["replay_id"] == R.rid(100)]
    assert updated[0]["count_segments"] == 3
    before = rows(store, "replays")
    store.compact(retention=timedelta(0))
    assert rows(store, "replays") == before
    assert len(rows(store, "replays_base")) == 3


def test_delete_purges_recording_and_personal_data(store: Store) -> None:
    populate(store)
    victim = R.rid(999)
    store.write(
        R.batch(
            [R.segment(5, victim, 0, user_email=EMAIL, user_ip=IP),
             R.segment(5, victim, 1, user_email=EMAIL)],
            clicks=[R.click(5, victim, "v" * 32, text=EMAIL)],
            links=[R.link(5, victim, "e" * 32, "error")],
            blobs=[Blob(5, victim, 0, RECORDING), Blob(5, victim, 1, RECORDING)],
        )
    )  # fmt: skip
    started = rows(store, "replays")[0]["started_at"]
    assert store.read_blob(5, victim, 1) == RECORDING
    assert store.delete_replay(5, victim) is True
    assert store.read_blob(5, victim, 0) is None and store.read_blob(5, victim, 1) is None
    (archived,) = [r for r in rows(store, "replays") if r["replay_id"] == victim]
    assert archived["is_archived"] is True
    assert archived["user_email"] is None and archived["count_segments"] is None
    assert archived["started_at"] == R.T0  # still listed by its start
    assert [r for r in rows(store, "segments") if r["replay_id"] == victim] == []
    assert [r for r in rows(store, "clicks") if r["replay_id"] == victim] == []
    (marker,) = rows(store, "archives")
    assert (marker["replay_id"], marker["started_at"]) == (victim, R.T0)
    assert started is not None
    store.compact(retention=timedelta(0))
    for needle in (EMAIL.encode(), IP.encode(), RECORDING):
        assert needle not in live_bytes(store)
        assert needle not in all_file_bytes(store.layout.root)
    assert len(rows(store, "replays")) == 7  # the others are untouched
    assert store.delete_replay(5, victim) is False


def test_deleted_replay_is_not_written_again(store: Store) -> None:
    r = R.rid(5)
    store.write(R.batch([R.segment(1, r, 0, user_email=EMAIL)]))
    store.delete_replay(1, r)
    result = store.write(
        R.batch([R.segment(1, r, 1, user_email=EMAIL)], blobs=[Blob(1, r, 1, RECORDING)])
    )
    assert result.written["segments"] == 0 and result.blobs_written == 0
    assert rows(store, "segments") == []
    assert rows(store, "replays")[0]["is_archived"] is True


def test_deleting_a_never_seen_replay_writes_a_marker(store: Store) -> None:
    r = R.rid(77)
    assert store.delete_replay(4, r, now=R.T0) is True
    (marker,) = rows(store, "archives")
    assert (marker["project_id"], marker["replay_id"], marker["started_at"]) == (4, r, None)
    assert marker["timestamp"] == R.T0
    assert rows(store, "replays") == []
    assert store.delete_replay(4, r) is False


def expected_tag_rows(store: Store) -> list[tuple]:
    """The tag index rows of the live summary, derived here in Python."""
    out = []
    for r in rows(store, "replays"):
        if r["is_archived"]:
            continue
        for pair in r["tags"]:
            out.append(
                (pair["key"], pair["value"], r["project_id"], r["replay_id"], r["started_at"],
                 r["finished_at"], r["environment"], r["month"])
            )  # fmt: skip
    return sorted(out, key=repr)


def tag_index(store: Store) -> list[tuple]:
    names = ("key", "value", "project_id", "replay_id", "started_at", "finished_at")
    names += ("environment", "month")
    found = [tuple(r[n] for n in names) for r in rows(store, "replay_tags")]
    return sorted(found, key=repr)


def test_the_tag_index_follows_writes_compaction_and_deletes(store: Store) -> None:
    def tagged(i: int, value: str) -> dict:
        r = R.rid(300 + i)
        start = R.T0 + timedelta(hours=i)
        return R.segment(1, r, 0, timestamp=start, replay_start_timestamp=start,
                         environment="prod", tags_key=["plan", "region", "plan"],
                         tags_value=[value, "eu", "extra"])  # fmt: skip

    store.write(R.batch([tagged(i, f"v{i % 2}") for i in range(4)]))
    assert len(tag_index(store)) == 12 and tag_index(store) == expected_tag_rows(store)
    store.compact(retention=timedelta(0))
    assert len(store.snapshot().files["tags"]) == 1  # the index of the compacted month
    assert tag_index(store) == expected_tag_rows(store) and len(tag_index(store)) == 12
    # Index rows of a replay the recent tier supersedes give way to its new rows.
    store.delete_replay(1, R.rid(300))
    store.write(R.batch([R.segment(1, R.rid(301), 1, tags_key=["plan"], tags_value=["late"])]))
    assert tag_index(store) == expected_tag_rows(store)
    assert {r[3] for r in tag_index(store)} == {R.rid(301), R.rid(302), R.rid(303)}
    assert ("plan", "late") in {r[:2] for r in tag_index(store)}
    store.compact(retention=timedelta(0))
    assert tag_index(store) == expected_tag_rows(store) and len(tag_index(store)) == 10
