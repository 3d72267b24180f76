"""Each summary aggregate computed from hand-made raw rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import orjson
import pytest
from sqlglot import exp

from replaystore.fields import schema
from replaystore.storage.summary import compute_summaries
from replaystore.storage.views import create_view
from tests.storage import rows as R

P = 7
A = R.rid(0xA)


def summarize(
    segments: list[dict[str, Any]],
    clicks: list[dict[str, Any]] = (),  # type: ignore[assignment]
    links: list[dict[str, Any]] = (),  # type: ignore[assignment]
    archives: list[dict[str, Any]] = (),  # type: ignore[assignment]
    keys: list[tuple[int, str]] | None = None,
) -> list[dict[str, Any]]:
    """Run the summary query over raw rows held as Arrow tables in a real DuckDB."""
    con = duckdb.connect()
    for name, table_schema, data in (
        ("segments", schema.SEGMENTS, segments),
        ("clicks", schema.CLICKS, clicks),
        ("links", schema.LINKS, links),
        ("archives", schema.ARCHIVES, archives),
    ):
        con.register(f"{name}_rows", R.table(table_schema, list(data)))
        rows_view = create_view(name, exp.select(exp.Star()).from_(f"{name}_rows"))
        con.execute(rows_view.sql(dialect="duckdb"))
    result = compute_summaries(con, keys or [(P, A)], R.T0 + timedelta(days=1))
    return result.to_pylist()


def one(*args: Any, **kwargs: Any) -> dict[str, Any]:
    found = summarize(*args, **kwargs)
    assert len(found) == 1
    return found[0]


MULTI = [
    R.segment(P, A, 2, urls=["/c"], error_ids=["e2", "e3"], trace_ids=["t2"], release="2.0",
              tags_key=["a"], tags_value=["2"], timestamp=R.T0 + timedelta(seconds=95)),
    R.segment(P, A, 0, urls=["/a", "/b"], error_ids=["e1"], trace_ids=["t1", "t2"],
              release="1.0", environment="prod", user_email="u@example.com",
              user_ip="10.0.0.1", browser_name="Chrome",
              tags_key=["a", "transaction", "a", "b"], tags_value=["1", "/checkout", "1", "x"],
              replay_start_timestamp=R.T0 - timedelta(seconds=3, microseconds=500_000)),
    R.segment(P, A, 1, urls=[], error_ids=["e1"], release="", environment="",
              timestamp=R.T0 + timedelta(seconds=40)),
]  # fmt: skip

CASES = [
    ("started_at", R.T0 - timedelta(seconds=3, microseconds=500_000)),
    ("finished_at", R.T0 + timedelta(seconds=95)),
    ("duration", 98),  # 98.5 s, whole seconds rounded down
    ("count_segments", 3),
    ("urls", ["/a", "/b", "/c"]),  # concatenated in segment order, not row order
    ("count_urls", 3),
    ("error_ids", ["e1", "e2", "e3"]),
    ("count_errors", 3),
    ("trace_ids", ["t1", "t2"]),
    ("releases", ["1.0", "2.0"]),
    ("environment", "prod"),
    ("user_email", "u@example.com"),
    ("user_ip", "10.0.0.1"),
    ("browser_name", "Chrome"),
    ("os_name", None),  # no non-empty value -> null
    ("dist", None),
    ("replay_type", None),
    ("platform", "javascript"),
    ("tags", [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}, {"key": "b", "value": "x"}]),
    ("activity", 9),  # (25*3 + 5*3) // 10
    ("is_archived", False),
    ("count_dead_clicks", 0),
    ("clicks", []),
    ("warning_ids", []),
    ("count_warnings", 0),
    ("month", "2026-03"),
]


@pytest.mark.parametrize(("column", "expected"), CASES, ids=[c[0] for c in CASES])
def test_multi_segment_aggregate(column: str, expected: Any) -> None:
    assert one(MULTI)[column] == expected


def test_links_of_every_level() -> None:
    links = [
        R.link(P, A, "e1", "error"),  # also in a segment's error_ids: counted once
        R.link(P, A, "f1", "fatal"),
        R.link(P, A, "w1", "warning"),
        R.link(P, A, "w2", "warning"),
        R.link(P, A, "i1", "info"),
        R.link(P, A, "d1", "debug"),
    ]
    got = one([R.segment(P, A, 0, error_ids=["e1", "e0"])], links=links)
    assert got["error_ids"] == ["e0", "e1", "f1"]
    assert got["count_errors"] == 3
    assert got["warning_ids"] == ["w1", "w2"]
    assert got["count_warnings"] == 2
    assert got["info_ids"] == ["d1", "i1"]
    assert got["count_infos"] == 2
    assert got["activity"] == 7  # (25*3 + 0) // 10


def test_links_of_other_replays_are_ignored() -> None:
    other = R.rid(0xB)
    got = one([R.segment(P, A, 0)], links=[R.link(P, other, "e9", "error")])
    assert got["error_ids"] == []
    assert got["activity"] == 1  # never 0 for a live replay


def test_dead_and_rage_clicks() -> None:
    clicks = [
        R.click(P, A, "h1", text="plain"),
        R.click(P, A, "h2", is_dead=True, tag="a", text="Buy"),
        R.click(P, A, "h3", is_dead=True, is_rage=True, **{"class": ["btn", "big"]}),
        R.click(P, A, "h4", is_dead=True, timestamp=R.T0.replace(year=2023, month=7, day=23)),
    ]
    got = one([R.segment(P, A, 0)], clicks=clicks)
    assert got["count_dead_clicks"] == 2  # the 2023-07-23 click is before Sentry's cut-off
    assert got["count_rage_clicks"] == 1
    assert len(got["clicks"]) == 4
    assert {c["text"] for c in got["clicks"]} == {"plain", "Buy", ""}
    assert ["btn", "big"] in [c["class"] for c in got["clicks"]]


def test_missing_replay_start_falls_back_to_segment_timestamp() -> None:
    got = one([R.segment(P, A, 0, replay_start_timestamp=None)])
    assert got["started_at"] == R.T0
    assert got["duration"] == 0


def test_replay_without_segment_zero_has_no_summary() -> None:
    assert summarize([R.segment(P, A, 1), R.segment(P, A, 2)]) == []


def test_same_replay_id_in_two_projects_is_two_replays() -> None:
    segments = [R.segment(P, A, 0, urls=["/p7"]), R.segment(8, A, 0, urls=["/p8"])]
    found = summarize(segments, keys=[(P, A), (8, A)])
    assert sorted((r["project_id"], r["urls"]) for r in found) == [(7, ["/p7"]), (8, ["/p8"])]


def test_only_touched_replays_are_computed() -> None:
    b = R.rid(0xB)
    found = summarize([R.segment(P, A, 0), R.segment(P, b, 0)], keys=[(P, b)])
    assert [r["replay_id"] for r in found] == [b]


def test_archived_replay_has_the_archived_shape() -> None:
    archive = {
        "project_id": P,
        "replay_id": A,
        "timestamp": R.T0 + timedelta(days=2),
        "started_at": R.T0,
        "month": "2026-03",
    }
    got = one(MULTI, archives=[archive])
    assert got["is_archived"] is True
    assert got["started_at"] == R.T0 - timedelta(seconds=3, microseconds=500_000)
    assert got["user_email"] is None and got["user_ip"] is None
    assert got["count_errors"] is None and got["duration"] is None and got["urls"] is None
    assert got["error_ids"] == [] and got["tags"] == [] and got["clicks"] == []


def test_empty_strings_count_as_no_value() -> None:
    got = one(
        [R.segment(P, A, 0, environment="", release=""), R.segment(P, A, 1, environment="dev")]
    )
    assert got["environment"] == "dev"
    assert got["releases"] == []


@pytest.mark.parametrize("archived", [False, True])
def test_payload_repeats_every_other_shaped_column(archived: bool) -> None:
    archives = [{"project_id": P, "replay_id": A, "timestamp": R.T0, "month": "2026-03"}]
    clicks = [R.click(P, A, "h1", text='naïve "quoted" ☃', **{"class": ["a", "b"]})]
    got = one(MULTI, clicks=clicks, archives=archives if archived else [])
    values = dict(zip(schema.PAYLOAD_COLUMNS, orjson.loads(got["payload"]), strict=True))
    values["tags"] = [dict(zip(schema.TAG_FIELDS, t, strict=True)) for t in values["tags"]]
    values["clicks"] = [dict(zip(schema.CLICK_FIELDS, c, strict=True)) for c in values["clicks"]]
    assert values == {name: got[name] for name in schema.PAYLOAD_COLUMNS}
    assert archived or (values["tags"] and values["clicks"][0]["text"] == 'naïve "quoted" ☃')
