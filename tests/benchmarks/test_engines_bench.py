"""The engine benchmark's bookkeeping: rows of other (engine, storage) pairs are kept, and a
query whose answers differ between engines is flagged."""

from __future__ import annotations

from benchmarks.engines import markdown, merge


def _row(engine: str, storage: str, query: str, same: bool = True) -> dict:
    return {"engine": engine, "storage": storage, "query": query, "p50_ms": 1.0,
            "p95_ms": 2.0, "same": same}  # fmt: skip


def test_a_run_replaces_its_own_pairs_and_keeps_the_others() -> None:
    earlier = [_row("duckdb", "local", "browse_7d"), _row("duckdb", "s3", "browse_7d")]
    now = [_row("duckdb", "local", "browse_7d", same=False)]
    merged = merge(earlier, now)
    assert [(r["storage"], r["same"]) for r in merged] == [("s3", True), ("local", False)]


def test_markdown_has_a_column_per_pair_and_flags_differences() -> None:
    rows = [_row("duckdb", "local", "q"), _row("clickhouse", "s3", "q", same=False)]
    text = markdown({"size": "small", "when": "now", "cpus": 2, "rows": rows})
    assert "| query | duckdb local p50 / p95 | clickhouse s3 p50 / p95 | same |" in text
    assert "| q | 1.0 / 2.0 | 1.0 / 2.0 | **no** |" in text
