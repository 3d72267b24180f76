"""How each listed query's latency grows with the dataset: a table and a plot from the
results of `benchmarks.run` at several sizes (benchmarks/results/<size>.json).

    python -m benchmarks.growth [--sizes small,medium,large] [--out benchmarks/results]

Writes growth.md and growth.png. A size without a results file is left out (and said so).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks import datagen

RESULTS_DIR = Path(__file__).parent / "results"
SERIES = ("ours", "ours_uncached", "chdb_mergetree")


def _rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["query"]: row for row in results["queries"]}


def markdown(found: dict[str, dict[str, Any]], missing: list[str]) -> str:
    sizes = list(found)
    lines = [
        "### Latency growth with the dataset (p50 ms; ratio to the smallest size measured)",
        "",
        "Sizes: "
        + ", ".join(
            f"`{s}` = {datagen.SIZES[s].replays:,} replays ({found[s]['when']})" for s in sizes
        )
        + ".",
    ]
    if missing:
        lines.append(f"Not measured: {', '.join(missing)} (no results file).")
    lines += [
        "",
        "| query | series | " + " | ".join(sizes) + " |",
        "|---|---|" + "---|" * len(sizes),
    ]
    per_size = {s: _rows(found[s]) for s in sizes}
    names = [q for q in per_size[sizes[-1]] if all(q in per_size[s] for s in sizes)]
    for name in names:
        for series in SERIES:
            cells = []
            first = None
            for s in sizes:
                stat = per_size[s][name].get(series, {})
                if "p50_ms" not in stat:
                    cells.append("–")
                    continue
                first = first or stat["p50_ms"]
                cells.append(f"{stat['p50_ms']:.1f} ({stat['p50_ms'] / first:.2f}×)")
            if any(c != "–" for c in cells):
                lines.append(f"| {name} | {series} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chart(found: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(found)
    xs = [datagen.SIZES[s].replays for s in sizes]
    per_size = {s: _rows(found[s]) for s in sizes}
    names = [q for q in per_size[sizes[-1]] if all(q in per_size[s] for s in sizes)]
    fig, ax = plt.subplots(figsize=(9, 6))
    for name in names:
        ys = [
            per_size[s][name].get("ours_uncached", per_size[s][name]["ours"])["p50_ms"]
            for s in sizes
        ]
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("replays in the store")
    ax.set_ylabel("p50 latency, ms, no result cache (log)")
    ax.set_title("replaystore latency growth")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    found: dict[str, dict[str, Any]] = {}
    missing = []
    for size in args.sizes.split(","):
        path = args.out / f"{size}.json"
        if not path.exists():
            missing.append(size)
            continue
        results = json.loads(path.read_text())
        found[size] = {"queries": results["queries"], "when": results["environment"]["when"]}
    if not found:
        raise SystemExit("no results to compare")
    (args.out / "growth.md").write_text(markdown(found, missing))
    chart(found, args.out / "growth.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
