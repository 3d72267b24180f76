"""The long fuzz run: 100k+ hostile requests against a live replaystore server.

The CI-sized run lives in tests/robustness (a few thousand cases in `pytest`); this script
drives the same generators for as long as you like:

    .venv/bin/python scripts/fuzz_long.py                      # 100,000 cases, random seed
    .venv/bin/python scripts/fuzz_long.py --cases 500000 --seed 42 --threads 4

It builds the test fixture store in a temporary folder, serves it with waitress on 127.0.0.1,
and sends a mix of cases: random requests to every documented route and parameter (injection
corpus included), grammar-shaped search strings, and hostile envelopes (truncated, wrong
`length`, bad zlib, bombs, huge and deep JSON, invalid UTF-8, wrong types). Every answer must
be a 2xx or a 4xx with a `detail`, within the request timeout. Each failure is printed with
its case's seed (rerun one with `--seed S --cases 1 --threads 1`); the exit status is 1 if any
case failed. At the end the store must still open and answer.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from replaystore.storage.store import Store
from replaystore.wsgi import make_app
from tests.conftest import ORG, build_store, serving
from tests.robustness.envelopes import envelope_case
from tests.robustness.generators import fuzz_request, search_query
from tests.robustness.wire import Answer, Wire, check_answer, query_string

SEARCH_ROUTES = (
    "/api/0/organizations/acme/replays/",
    f"/api/0/projects/acme/web/replays/{1:032x}/clicks/",
    "/api/0/organizations/acme/tags/plan/values/",
)
KINDS = ("request", "search", "envelope")


def run_case(wire: Wire, kind: str, seed: int) -> tuple[str, Answer]:
    rng = random.Random(seed)
    if kind == "request":
        request = fuzz_request(rng)
        if request.method == "DELETE":
            return "DELETE skipped", Answer(204, {}, b"")  # keep the fixture data to query
        return request.target, wire.request(request.method, request.target, body=request.body)
    if kind == "search":
        text = search_query(rng)
        path = f"{rng.choice(SEARCH_ROUTES)}?{query_string([('query', text)])}"
        return path, wire.get(path)
    case = envelope_case(rng)
    answer = wire.request(
        "POST", "/api/1/envelope/?sentry_key=webkey", body=case.body, headers=case.headers, token=""
    )
    return f"envelope {case.mutation}", answer


def worker(wire: Wire, seeds: list[int], counts: Counter, failures: list, lock: threading.Lock):
    for seed in seeds:
        kind = KINDS[seed % len(KINDS)]
        try:
            what, answer = run_case(wire, kind, seed)
            check_answer(answer, what)
        except Exception as error:
            with lock:
                failures.append((seed, kind, repr(error)[:500]))
                print(f"FAIL seed={seed} kind={kind}: {repr(error)[:500]}", flush=True)
        with lock:
            counts[kind] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=None, help="first case seed (default random)")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    first = args.seed if args.seed is not None else random.randrange(2**40)
    print(f"fuzz_long: {args.cases} cases from seed {first}, {args.threads} threads", flush=True)
    seeds = [first + i for i in range(args.cases)]
    counts: Counter = Counter()
    failures: list = []
    lock = threading.Lock()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-long-") as tmp:
        store = build_store(Path(tmp) / "data")
        with serving(make_app(str(store.path))) as base:
            wire = Wire(base, store.tokens[ORG])
            threads = [
                threading.Thread(
                    target=worker,
                    args=(wire, seeds[i :: args.threads], counts, failures, lock),
                    daemon=True,
                )
                for i in range(args.threads)
            ]
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                time.sleep(5)
                print(f"  {sum(counts.values())} cases, {len(failures)} failures", flush=True)
            health = wire.get("/api/0/organizations/acme/replays/")
        with Store.open(str(store.path)).connect() as con:
            con.execute("SELECT count(*) FROM replays").fetchone()
    elapsed = time.monotonic() - started
    print(f"fuzz_long: {sum(counts.values())} cases {dict(counts)} in {elapsed:.0f}s")
    for seed, kind, _ in failures[:50]:
        print(f"failed: seed={seed} kind={kind}")
    if health.status != 200:
        print(f"FAIL the server no longer answers: {health.status}")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
