"""The replay-selectors ranking on a loaded dataset: ours (precomputed per-day counts plus the
window's partial edge days from click rows) against Sentry's GROUP BY over every click row of
the window, in process through the product's query function.

    python -m benchmarks.selectors_bench --size medium [--data benchmarks/data] [--runs 30]

Opening a store written before the counts existed builds them from its click rows first
(timed and reported). The window is 90 days ending 13 hours before the data's end, so both
edges are partial days.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from benchmarks import datagen, load
from benchmarks.stats import percentile
from replaystore.engine import Engine
from replaystore.query.common import Page, Window
from replaystore.query.selectors import list_selectors
from replaystore.storage.selector_counts import clicked, element_class
from replaystore.storage.store import Store

RESULTS = Path(__file__).parent / "results"
TARGET_P95_MS = 150.0
CASES: dict[str, dict[str, Any]] = {
    "dead_widget": {"query": "!count_dead_clicks:0", "sort": "-count_dead_clicks", "per_page": 10},
    "rage_widget": {"query": "!count_dead_clicks:0", "sort": "-count_rage_clicks", "per_page": 10},
    "dead_table": {"query": "!count_dead_clicks:0", "sort": "-count_dead_clicks", "per_page": 50},
    "dead_table_page3": {
        "query": "!count_dead_clicks:0",
        "sort": "-count_dead_clicks",
        "per_page": 50,
        "offset": 100,
    },
    "one_project": {
        "query": "!count_dead_clicks:0",
        "sort": "-count_dead_clicks",
        "per_page": 50,
        "projects": [2],
    },
    "production_only": {
        "query": "count_rage_clicks:>0",
        "sort": "-count_rage_clicks",
        "per_page": 50,
        "environments": ["production"],
    },
}
ALL_GROUPS = {"query": "", "sort": "-count_dead_clicks", "per_page": 50}  # reads every row


def _window() -> Window:
    end = datagen.window_end() - timedelta(hours=13)
    return Window(end - timedelta(days=90), end)


def _ours(engine: Engine, case: dict[str, Any]) -> int:
    result = list_selectors(
        engine,
        project_ids=case.get("projects", list(range(1, datagen.PROJECTS + 1))),
        window=_window(),
        page=Page(case.get("offset", 0), case["per_page"]),
        query=case["query"],
        sort=case["sort"],
        environments=case.get("environments", ()),
    )
    return len(result.items)


def _sentry_style(con: duckdb.DuckDBPyConnection, case: dict[str, Any]) -> int:
    """Sentry's query: every click row of the window grouped, HAVING, ORDER BY, LIMIT."""
    window = _window()
    keys = [
        exp.column("project_id"),
        *(
            exp.column(c, quoted=True)
            for c in ("tag", "id", "role", "alt", "testid", "aria_label", "title")
        ),
        exp.alias_(element_class(exp.column("class", quoted=True)), "cls"),
        exp.column("component_name"),
    ]
    dead = exp.Sum(this=exp.Cast(this=exp.column("is_dead"), to=exp.DataType.build("BIGINT")))
    rage = exp.Sum(this=exp.Cast(this=exp.column("is_rage"), to=exp.DataType.build("BIGINT")))
    select = (
        exp.select(*keys, exp.alias_(dead, "dead"), exp.alias_(rage, "rage"))
        .from_("clicks")
        .where(exp.and_(window.condition("timestamp"), window.month_condition(), clicked()))
        .group_by(*(exp.Literal.number(i + 1) for i in range(len(keys))))
        .having(exp.NEQ(this=dead.copy(), expression=exp.Literal.number(0)))
        .order_by(exp.Ordered(this=exp.column("dead"), desc=True))
        .limit(case["per_page"] + 1)
        .offset(case.get("offset", 0))
    )
    return len(con.execute(select.sql(dialect="duckdb")).fetchall())


def _time(run: Any, runs: int) -> dict[str, float]:
    """Wall-clock p50/p95, and the process CPU time per query (every DuckDB thread's): on a
    shared machine the wall clock mostly measures the other processes."""
    run()  # warm: footers, caches
    samples, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        run()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return {
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "cpu_p50": percentile(cpu, 50),
        "cpu_p95": percentile(cpu, 95),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(datagen.SIZES), default="medium")
    parser.add_argument("--data", type=Path, default=load.DATA_DIR)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    root = load.dataset_dir(args.size, args.data)
    started = time.perf_counter()
    store = Store.open(str(root))  # builds the counts of a store written without them
    with store.lock.hold():
        store.publish()
    opened = time.perf_counter() - started
    engine = Engine(store)
    con = store.connect()

    def count(table: str, where: exp.Expression | None = None) -> int:
        query = exp.select(exp.Count(this=exp.Star())).from_(table)
        query = query.where(where) if where is not None else query
        return int(con.execute(query.sql(dialect="duckdb")).fetchall()[0][0])

    rows = {t: count(t) for t in ("clicks", "selectors")}
    flagged = count("selectors", exp.column("flagged"))
    results: dict[str, Any] = {}
    for name, case in CASES.items():
        ours = _time(lambda c=case: _ours(engine, c), args.runs)
        base = _time(lambda c=case: _sentry_style(con, c), args.baseline_runs)
        results[name] = {"ours": ours, "sentry_style": base, "items": _ours(engine, case)}
        sys.stderr.write(f"{name}: ours {ours}, sentry-style {base}\n")
    every = _time(lambda: _ours(engine, ALL_GROUPS), max(5, args.runs // 3))
    results["all_groups_no_query"] = {"ours": every, "items": _ours(engine, ALL_GROUPS)}
    report = {
        "size": args.size,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "window": [_window().start.isoformat(), _window().end.isoformat()],
        "rows": rows | {"selectors_flagged": flagged},
        "open_with_count_build_s": round(opened, 1),
        "target_p95_ms": TARGET_P95_MS,
        "cases": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"selectors-{args.size}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"selectors-{args.size}.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        f"### replay-selectors on `{report['size']}` ({report['rows']['clicks']:,} click rows, "
        f"{report['rows']['selectors']:,} count rows of which "
        f"{report['rows']['selectors_flagged']:,} flagged)",
        "",
        f"{report['when']}, {report['cpus']} CPUs (load average {report['load_average']:.1f}), "
        f"Python {report['python']}, DuckDB {report['duckdb']}. CPU = process CPU time per "
        "query (both DuckDB threads). 90-day window "
        f"{report['window'][0]} .. {report['window'][1]} (both edges partial days). "
        "In process through `query.selectors.list_selectors`; Sentry-style = one GROUP BY over "
        "every click row of the window. Latencies in ms.",
        "",
        "| case | ours p50 / p95 | ours CPU p50 / p95 | target | Sentry-style p50 / p95 | ratio "
        "| met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, case in report["cases"].items():
        ours = case["ours"]
        base = case.get("sentry_style")
        met = "yes" if ours["p95"] <= report["target_p95_ms"] else "no"
        target = f"p95 ≤ {report['target_p95_ms']:.0f}" if base else ""
        if not base:
            met = ""
        baseline = f"{base['p50']:.1f} / {base['p95']:.1f}" if base else ""
        ratio = f"{base['p50'] / ours['p50']:.1f}×" if base else ""
        lines.append(
            f"| {name} | {ours['p50']:.1f} / {ours['p95']:.1f} | {ours['cpu_p50']:.1f} / "
            f"{ours['cpu_p95']:.1f} | {target} | {baseline} | {ratio} | {met} |"
        )
    lines += [
        "",
        f"Opening the store (building the counts from its click rows first if it had none): "
        f"{report['open_with_count_build_s']} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
