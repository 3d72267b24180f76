"""The benchmark runner works end to end on a tiny dataset (structure only, never speed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks import datagen, load, run

pytestmark = pytest.mark.slow


def test_generator_is_deterministic_and_schema_conformant() -> None:
    size = datagen.SIZES["tiny"]
    starts = datagen.start_times(size)
    first = datagen.generate_chunk(size, 1, starts)
    again = datagen.generate_chunk(size, 1, starts)
    assert first.segments.equals(again.segments)
    assert first.clicks.equals(again.clicks)
    assert first.segments.schema == datagen.schema.SEGMENTS
    assert first.segments.num_rows > size.chunk  # several segments per replay


def test_runner_on_tiny_dataset(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "results"
    args = ["--size", "tiny", "--runs", "2", "--baseline-runs", "1", "--no-http"]
    args += ["--data", str(data), "--out", str(out)]
    if importlib.util.find_spec("chdb") is None:
        args.append("--no-chdb")
    assert run.main(args) == 0
    results = json.loads((out / "tiny.json").read_text())
    assert results["load"]["replays"] == datagen.SIZES["tiny"].replays
    names = [row["query"] for row in results["queries"]]
    assert {"browse_7d", "search_url_exact", "fetch_by_id", "tag_values"} <= set(names)
    for row in results["queries"]:
        assert row["ours"]["runs"] == 2
        assert row["ours"]["p95_ms"] >= row["ours"]["p50_ms"] > 0
        assert "p50_ms" in row["duckdb_sentry"], row["duckdb_sentry"]
        if "--no-chdb" not in args and row["query"] in ("browse_7d", "fetch_by_id"):
            assert row["chdb_mergetree"]["rows"] >= 1, row
    assert "| browse_7d |" in (out / "tiny.md").read_text()
    assert (out / "tiny.png").stat().st_size > 0
    assert (load.dataset_dir("tiny", data) / "bench-token.txt").exists()


def test_selectors_benchmark_on_tiny_dataset(tmp_path: Path) -> None:
    from benchmarks import selectors_bench

    data, out = tmp_path / "data", tmp_path / "results"
    assert load.main(["--size", "tiny", "--out", str(data)]) == 0
    args = ["--size", "tiny", "--data", str(data), "--out", str(out), "--runs", "2"]
    assert selectors_bench.main([*args, "--baseline-runs", "1"]) == 0
    report = json.loads((out / "selectors-tiny.json").read_text())
    assert report["rows"]["selectors"] > 0 and report["rows"]["clicks"] > 0
    for name, case in report["cases"].items():
        assert case["ours"]["p95"] >= case["ours"]["p50"] > 0, name
        assert case["items"] > 0, name  # the loaded counts rank something
    assert "| dead_widget |" in (out / "selectors-tiny.md").read_text()
