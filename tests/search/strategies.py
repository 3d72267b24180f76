"""Hypothesis strategies: grammar-shaped queries and raw replay rows drawn from shared pools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from replaystore.fields.registry import FIELDS
from tests.search.rows import T0, click, link, segment

# Values the data and the queries share, so that queries do select something.
WORDS = ("Chrome", "chrome", "Firefox", "a@x.com", "B@x.com", "prod", "1.0", "x y", "*", "a*b")
URLS = ("https://x.org/a", "https://x.org/B", "http://y.com/a*b", "/c")
IDS = tuple(f"{d}" * 32 for d in "abcdef")
IPS = ("1.2.3.4", "5.6.7.8")
TAG_KEYS = ("k", "site", "message")
CLASSES = ("btn", "nav", "Btn")
TAGS = ("button", "a", "div")
SELECTORS = (
    "button",
    "a.nav",
    ".btn",
    "#i1",
    "*",
    "div.btn.nav",
    "[role=r1]",
    "[alt=x]",
    "a, button",
    "button[title=t]",
    "[data-testid=t1]",
    "$#%",
)

STRING_KEYS = tuple(
    name
    for f in FIELDS
    if f.kind == "string" and not f.name.startswith("click.")
    for name in f.names
)
CLICK_KEYS = tuple(name for f in FIELDS if f.click is not None for name in f.names)
NUMBER_KEYS = tuple(name for f in FIELDS if f.kind == "number" for name in f.names)
UUID_KEYS = tuple(name for f in FIELDS if f.kind == "uuid" for name in f.names)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _text_value(pool: tuple[str, ...]) -> st.SearchStrategy[str]:
    word = st.sampled_from(pool)
    bare = word.filter(lambda w: " " not in w and w != "")
    wild = st.tuples(st.sampled_from(("", "*")), st.sampled_from(pool), st.sampled_from(("", "*")))
    wildcard = wild.map(lambda t: "".join(t)).filter(lambda w: " " not in w)
    return st.one_of(bare, word.map(_quoted), wildcard, st.just('""'))


def _list(item: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(item, min_size=1, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")


def _neg() -> st.SearchStrategy[str]:
    return st.sampled_from(("", "!"))


def _filter(keys: tuple[str, ...], value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda n, k, v: f"{n}{k}:{v}", _neg(), st.sampled_from(keys), value)


def _string_filters(keys: tuple[str, ...], pool: tuple[str, ...]) -> st.SearchStrategy[str]:
    value = _text_value(pool)
    return _filter(keys, st.one_of(value, _list(value)))


NUMBER = st.builds(
    lambda sign, n, frac, suffix: f"{sign}{n}{frac}{suffix}",
    st.sampled_from(("", "-")),
    st.integers(0, 120),
    st.sampled_from(("", ".5", ".")),
    st.sampled_from(("", "", "k", "K")),
)
DURATION = st.builds(
    lambda n, unit: f"{n}{unit}",
    st.sampled_from(("0", "1", "17", "1.5", "90", "1004")),
    st.sampled_from(("", "ms", "s", "m", "min", "h", "hr", "d", "day", "w", "wk")),
)
OPERATOR = st.sampled_from(("", ">", ">=", "<", "<=", "=", "!="))


def _numeric(keys: tuple[str, ...], value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    single = st.builds(lambda op, v: op + v, OPERATOR, value)
    return _filter(keys, st.one_of(single, _list(value)))


def _uuid(hex32: str, dashed: bool) -> str:
    if not dashed:
        return hex32
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


UUID = st.builds(_uuid, st.sampled_from(IDS), st.booleans())


def leaves() -> st.SearchStrategy[str]:
    """One valid term of any kind."""
    tag_key = st.sampled_from(TAG_KEYS).flatmap(lambda k: st.sampled_from((k, f"tags[{k}]")))
    return st.one_of(
        _string_filters(STRING_KEYS, WORDS + URLS),
        _string_filters(CLICK_KEYS, CLASSES + TAGS + ("t", "i1", "r1", "x")),
        tag_key.flatmap(lambda k: _string_filters((k,), WORDS)),
        _numeric(NUMBER_KEYS, NUMBER),
        _numeric(("duration",), DURATION),
        _filter(UUID_KEYS, st.one_of(UUID, _list(UUID))),
        _filter(
            ("user.ip", "user.ip_address"),
            st.one_of(st.sampled_from(IPS), _list(st.sampled_from(IPS))),
        ),
        _filter(("is_archived",), st.sampled_from(("true", "false", "1", "0", "TRUE"))),
        st.builds(
            lambda n, k, s: f"{n}{k}:{_quoted(s)}",
            st.sampled_from(("", "!")),
            st.sampled_from(("click.selector", "dead.selector", "rage.selector")),
            st.sampled_from(SELECTORS),
        ),
        st.builds(
            lambda n, k: f"{n}has:{k}", _neg(), st.sampled_from(STRING_KEYS + UUID_KEYS + TAG_KEYS)
        ),
        st.sampled_from(("x.org", "chrome", "aaaa", "1.2", '"x y"', "a*b", "B@")),
    )


def queries(leaf: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """Valid queries: leaves joined by AND, OR, adjacency and parentheses."""
    base = leaf if leaf is not None else leaves()

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        joined = st.builds(
            lambda a, op, b: f"{a} {op} {b}".replace("  ", " "),
            inner,
            st.sampled_from(("AND", "OR", "", "and", "or")),
            inner,
        )
        return st.one_of(joined, inner.map(lambda q: f"({q})"), inner.map(lambda q: f"( {q} )"))

    return st.recursive(base, extend, max_leaves=6)


def click_queries() -> st.SearchStrategy[str]:
    leaf = st.one_of(
        _string_filters(CLICK_KEYS, CLASSES + TAGS + ("t", "i1", "r1", "x")),
        st.builds(
            lambda n, k, s: f"{n}{k}:{_quoted(s)}",
            _neg(),
            st.sampled_from(("click.selector", "dead.selector", "rage.selector")),
            st.sampled_from(SELECTORS),
        ),
        st.builds(lambda n, k: f"{n}has:{k}", _neg(), st.sampled_from(CLICK_KEYS)),
    )
    return queries(leaf)


# ---- raw rows

SCALARS = {
    "browser_name": ("Chrome", "chrome", "Firefox"),
    "browser_version": ("1.0", "x y"),
    "os_name": ("prod", "Chrome"),
    "device_model": ("a*b",),
    "environment": ("prod", "1.0"),
    "platform": ("javascript",),
    "dist": ("1.0",),
    "replay_type": ("session", "buffer"),
    "user_id": ("1.0", "a@x.com"),
    "user_name": ("Chrome", "x y"),
    "user_email": ("a@x.com", "B@x.com"),
    "user_ip": IPS,
    "user_geo_city": ("prod",),
    "sdk_name": ("Chrome",),
}
CUTOFF_BEFORE = datetime(2023, 1, 1, tzinfo=UTC)


@st.composite
def replay_rows(draw: st.DrawFn, index: int) -> dict[str, list[dict[str, Any]]]:
    """One replay: segments agreeing on each scalar (or leaving it empty), clicks, links."""
    replay_id = f"{index + 1:032x}"
    scalars = {k: draw(st.sampled_from(("", *v))) for k, v in SCALARS.items()}
    first = draw(st.sampled_from((0, 0, 0, 1)))
    count = draw(st.integers(1, 3))
    segments = []
    for segment_id in range(first, first + count):
        values = {k: (v if draw(st.booleans()) else "") for k, v in scalars.items()}
        keys = draw(st.lists(st.sampled_from(TAG_KEYS), max_size=2))
        segments.append(
            segment(
                replay_id,
                segment_id,
                timestamp=T0 + timedelta(milliseconds=draw(st.integers(0, 200_000))),
                replay_start_timestamp=draw(st.sampled_from((T0, None))),
                urls=draw(st.lists(st.sampled_from(URLS), max_size=2)),
                release=draw(st.sampled_from(("", "1.0", "Chrome"))),
                error_ids=draw(st.lists(st.sampled_from(IDS), max_size=2)),
                trace_ids=draw(st.lists(st.sampled_from(IDS), max_size=2)),
                tags_key=keys,
                tags_value=[draw(st.sampled_from(("", *WORDS))) for _ in keys],
                **values,
            )
        )
    clicks = [
        click(
            replay_id,
            f"{index}-{n}",
            timestamp=draw(st.sampled_from((T0, CUTOFF_BEFORE))),
            tag=draw(st.sampled_from(TAGS)),
            id=draw(st.sampled_from(("", "i1"))),
            title=draw(st.sampled_from(("", "t"))),
            role=draw(st.sampled_from(("", "r1"))),
            alt=draw(st.sampled_from(("", "x"))),
            testid=draw(st.sampled_from(("", "t1"))),
            is_dead=draw(st.booleans()),
            is_rage=draw(st.booleans()),
            **{"class": draw(st.lists(st.sampled_from(CLASSES), max_size=2))},
        )
        for n in range(draw(st.integers(0, 3)))
    ]
    links = [
        link(
            replay_id,
            event_id,
            draw(st.sampled_from(("error", "fatal", "warning", "info", "debug"))),
        )
        for event_id in draw(st.lists(st.sampled_from(IDS), max_size=3, unique=True))
    ]
    return {"segments": segments, "clicks": clicks, "links": links}


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Raw rows of 1..5 replays."""
    replays = [draw(replay_rows(i)) for i in range(draw(st.integers(1, 5)))]
    return {t: [row for r in replays for row in r[t]] for t in ("segments", "clicks", "links")}
