"""Random request generators over every route and parameter of `openapi.json`.

Each generator takes a `random.Random`, so the same code serves hypothesis (`st.randoms()`,
CI-sized) and `scripts/fuzz_long.py` (a seeded long run).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources

from replaystore.fields.registry import FIELDS
from tests.robustness.corpus import CORPUS
from tests.robustness.wire import segment, target

_DOC = json.loads(resources.files("replaystore").joinpath("openapi.json").read_text())
_COMPONENTS = _DOC["components"]["parameters"]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # the documented path, e.g. /api/0/organizations/{organization_slug}/replays/
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]


def _resolve(param: dict) -> dict:
    return _COMPONENTS[param["$ref"].rsplit("/", 1)[-1]] if "$ref" in param else param


def operations() -> tuple[Operation, ...]:
    found = []
    for path, ops in _DOC["paths"].items():
        for method, op in ops.items():
            params = [_resolve(p) for p in op.get("parameters", [])]
            found.append(
                Operation(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    tuple(p["name"] for p in params if p["in"] == "query"),
                )
            )
    return tuple(found)


OPERATIONS = operations()
SEARCH_KEYS = (
    *(name for f in FIELDS for name in f.names),
    *("tags[plan]", "plan", "x", "replay_id", "transaction", "issue.id"),
)
SORTS = tuple(name for f in FIELDS for name in (f.sort_names or ()))
TEXTS = ("Chrome", "alice@acme.test", "free", "production", "10.0.0.1", "*acme*", "a b", "")

# Plausible values per parameter, so that fuzzed requests also reach the query code paths.
GOOD: dict[str, tuple[str, ...]] = {
    "organization_slug": ("acme", "globex"),
    "project_slug": ("web", "shop", "store"),
    "replay_id": (f"{1:032x}", f"{3:032x}", "00000000-0000-0000-0000-000000000001"),
    "segment_id": ("0", "1", "2", "999999999"),
    "job_id": ("1", "2", "999999999999999999"),
    "project_id": ("1", "2", "3"),
    "key": ("plan", "region", "browser.name", "user.email", "url", "release"),
    "field": ("id", "count_errors", "user", "tags", "clicks", "urls"),
    "environment": ("production", "staging"),
    "project": ("1", "2", "-1"),
    "projectSlug": ("web", "shop"),
    "sort": ("-started_at", "count_errors", "startedAt", "-duration", "browser.name"),
    "statsPeriod": ("14d", "90d", "1h", "3600", "0"),
    "start": ("2020-01-01T00:00:00", "1700000000"),
    "end": ("2099-01-01T00:00:00Z", "4102444800"),
    "limit": ("1", "10", "100"),
    "offset": ("0", "5"),
    "per_page": ("1", "50", "100"),
    "cursor": ("0:0:0", "0:10:1"),
    "dataset": ("replays",),
    "includeReplays": ("1",),
    "download": ("", "1"),
    "sentry_key": ("webkey", "shopkey", "gkey"),
    "sentry_version": ("7",),
    "sentry_client": ("sentry.javascript.browser/11.12.0",),
    # replay-selectors and replay-count
    "query": (
        "!count_dead_clicks:0",
        "count_rage_clicks:>1",
        f"replay_id:[{1:032x}, {2:032x}]",
        "transaction:[/checkout, /]",
        "issue.id:[1, 2]",
    ),
    "data_source": ("discover", "search_issues", "spans"),
    "returnIds": ("true", "0"),
}
GOOD["sort"] += ("-count_dead_clicks", "count_rage_clicks")
GOOD["sortBy"] = GOOD["orderBy"] = GOOD["sort"]


def random_text(rng: random.Random, max_len: int = 40) -> str:
    """Any code points: ASCII, controls, non-BMP, lone surrogates."""
    alphabet = rng.choice(
        (
            "abcxyz019-_.:*",
            "\"'()[]{},;:!<>=\\/%*?&# \t\n",
            "".join(chr(c) for c in range(0, 0x80)),
        )
    )
    length = rng.randint(0, max_len)
    if rng.random() < 0.15:
        points = (rng.choice((rng.randint(0x80, 0x10FFFF), 0xD800)) for _ in range(length))
        return "".join(map(chr, points))
    return "".join(rng.choice(alphabet) for _ in range(length))


def search_query(rng: random.Random, depth: int = 0) -> str:
    """A grammar-shaped search string: filters, negation, lists, AND/OR, parentheses, noise."""
    roll = rng.random()
    if depth < 4 and roll < 0.25:
        op = rng.choice((" AND ", " OR ", " ", " and ", " OR OR ", ""))
        return search_query(rng, depth + 1) + op + search_query(rng, depth + 1)
    if depth < 4 and roll < 0.35:
        return "(" * rng.randint(0, 2) + search_query(rng, depth + 1) + ")" * rng.randint(0, 2)
    if roll < 0.45:
        return random_text(rng, 20)
    if roll < 0.5:
        return rng.choice(CORPUS)
    key = rng.choice(SEARCH_KEYS)
    neg = rng.choice(("", "", "!"))
    op = rng.choice(("", ">", ">=", "<", "<=", "!=", "=", ":"))
    value = _search_value(rng)
    return f"{neg}{key}:{op}{value}"


def _search_value(rng: random.Random) -> str:
    choices = (
        lambda: rng.choice(TEXTS),
        lambda: str(rng.choice((0, 1, -1, 2**31, 2**63, 10**30))) + rng.choice(("", "k", "m", "b")),
        lambda: str(rng.uniform(-1e6, 1e6)) + rng.choice(("", "ms", "s", "m", "h", "d", "w", "x")),
        lambda: f"{rng.getrandbits(128):032x}",
        lambda: '"' + random_text(rng, 12).replace('"', '\\"') + '"',
        lambda: "[" + ", ".join(rng.choice(TEXTS) for _ in range(rng.randint(0, 4))) + "]",
        lambda: rng.choice(("button", "a.nav", "#ok", "[role=x]", "div > a", "*", "[", "a,")),
        lambda: rng.choice(("true", "false", "1", "0", "", "*", "\\*")),
        lambda: rng.choice(CORPUS),
    )
    return rng.choice(choices)()


def param_value(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.35 and name in GOOD:
        return rng.choice(GOOD[name])
    if roll < 0.55:
        return rng.choice(CORPUS)
    if roll < 0.7 and name in ("query", "sort", "sortBy", "orderBy"):
        return search_query(rng) if name == "query" else rng.choice(("-", "")) + rng.choice(SORTS)
    if roll < 0.75:
        return random_text(rng, rng.choice((5, 200, 12_000)))
    return random_text(rng)


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    target: str
    body: bytes | None


def fuzz_request(rng: random.Random, ops: tuple[Operation, ...] = OPERATIONS) -> FuzzRequest:
    """One request to a documented operation with fuzzed path segments and query parameters."""
    op = rng.choice(ops)
    path = op.template
    for name in op.path_params:
        value = rng.choice(GOOD[name]) if rng.random() < 0.6 else param_value(rng, name)
        path = path.replace("{" + name + "}", segment(value))
    pairs = []
    for name in op.query_params:
        if rng.random() < 0.3:
            pairs.extend((name, param_value(rng, name)) for _ in range(rng.choice((1, 1, 2))))
    if rng.random() < 0.1:
        pairs.append((random_text(rng, 10), random_text(rng, 10)))
    rng.shuffle(pairs)
    body = None
    if op.method == "POST":
        body = random_text(rng, 200).encode("utf-8", "surrogatepass")
    return FuzzRequest(op.method, target(path, pairs), body)
