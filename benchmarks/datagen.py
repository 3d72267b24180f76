"""A deterministic, vectorised generator of replay data at benchmark scale.

`generate_chunks(size)` yields `WriteBatch`es of raw rows (schema.SEGMENTS / CLICKS / LINKS),
one per chunk of replays in start-time order. Everything is built with numpy and pyarrow
(pools of strings indexed by random integers, list columns from offsets), never row by row.

Shape (per replay, means): 10 segments (geometric, capped at one hour), 4 clicks (5% dead,
a third of those rage), 2% of segments carry an error id, 30% a trace id; 20 projects, one of
them holding half the replays; 90 days before the anchor with a daily cycle; Zipf-like URLs
and users; weighted browsers, OSes, devices, environments; releases that move with time;
3–4 custom tags. A small sample of segments carries a recording blob.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from replaystore.fields import schema
from replaystore.storage.batch import Blob, WriteBatch

ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)
DAYS = 90
PROJECTS = 20
SEED = 20261126
US = 1_000_000


@dataclass(frozen=True)
class Size:
    name: str
    replays: int
    chunk: int  # replays per generated batch
    blob_replays: int  # replays (of the first chunk) whose segments get a recording blob


SIZES: dict[str, Size] = {
    "tiny": Size("tiny", 2_000, 1_000, 20),
    "small": Size("small", 100_000, 50_000, 200),
    "medium": Size("medium", 1_000_000, 50_000, 500),
    "large": Size("large", 10_000_000, 100_000, 500),
}

PATHS = tuple(
    [f"/products/{i}" for i in range(3000)]
    + [f"/category/{c}" for c in ("shoes", "hats", "bags", "coats", "shirts", "socks")]
    + [f"/blog/post-{i}" for i in range(900)]
    + ["/", "/checkout", "/cart", "/login", "/signup", "/account", "/search", "/settings"]
)
BROWSERS = (
    ("Chrome", "131.0.0", "Windows", "10", 0.38),
    ("Chrome", "130.0.0", "Mac OS X", "10.15.7", 0.12),
    ("Safari", "18.1", "Mac OS X", "10.15.7", 0.10),
    ("Mobile Safari", "18.1", "iOS", "18.1", 0.14),
    ("Chrome Mobile", "131.0.0", "Android", "14", 0.12),
    ("Firefox", "133.0", "Windows", "10", 0.06),
    ("Edge", "131.0.0", "Windows", "10", 0.05),
    ("Firefox", "133.0", "Ubuntu", "", 0.03),
)
DEVICES = (("Mac", "Apple", "Mac"), ("iPhone", "Apple", "iPhone"), ("K", "Generic_Android", "K"))
ENVIRONMENTS = (("production", 0.8), ("staging", 0.15), ("development", 0.05))
CITIES = (
    ("Berlin", "DE", "Germany", "BE"),
    ("Paris", "FR", "France", "IDF"),
    ("San Francisco", "US", "United States", "CA"),
    ("New York", "US", "United States", "NY"),
    ("Tokyo", "JP", "Japan", "13"),
    ("São Paulo", "BR", "Brazil", "SP"),
    ("London", "GB", "United Kingdom", "ENG"),
)
PLANS = ("free", "team", "business", "enterprise")
LOCALES = ("en-US", "de-DE", "fr-FR", "ja-JP", "pt-BR", "es-ES")
REGIONS = ("us-east", "us-west", "eu-central", "ap-northeast")
FLAGS = ("new-nav", "dark-mode", "beta-search")
TRANSACTIONS = ("/checkout", "/products/:id", "/cart", "/search", "/login")
CLICK_TAGS = ("button", "a", "div", "input", "span", "li", "img")
CLICK_IDS = ("", "", "", "submit", "search", "add-to-cart", "nav-home", "login-button")
CLICK_CLASSES = (
    (),
    ("btn",),
    ("btn", "btn-primary"),
    ("nav-link",),
    ("card", "product"),
    ("icon",),
    ("menu-item", "active"),
)
CLICK_TEXTS = ("", "Buy now", "Add to cart", "Sign in", "Next", "Search", "Close", "Menu")
CLICK_ROLES = ("", "", "button", "link", "menuitem")
CLICK_TESTIDS = ("", "", "", "checkout-btn", "search-box", "product-card")
CLICK_ARIA = ("", "", "Close dialog", "Open menu")
CLICK_COMPONENTS = ("", "", "Button", "ProductCard", "NavBar", "SearchBox")


def project_weights() -> np.ndarray:
    """Project 1 holds half the replays; the other 19 share the rest by 1/k."""
    rest = 1.0 / np.arange(1, PROJECTS)
    return np.concatenate([[0.5], 0.5 * rest / rest.sum()])


def start_times(size: Size) -> np.ndarray:
    """Sorted replay start times (µs since epoch) over the DAYS before ANCHOR, daily cycle."""
    rng = np.random.default_rng([SEED, 0])
    end = int(ANCHOR.timestamp() * US)
    day = rng.integers(0, DAYS, size.replays)
    # more traffic in the afternoon (UTC): a hump centred at 15:00
    hour = np.clip(rng.normal(15.0, 5.0, size.replays), 0.0, 23.999)
    offset = (day * 86400.0 + hour * 3600.0) * US
    return np.sort((end - DAYS * 86400 * US + offset).astype(np.int64))


def _strings(pool: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    """pool[index] as a plain string array (a dictionary decode, no Python loop over rows)."""
    dictionary = pa.array(list(pool), pa.string())
    return pa.DictionaryArray.from_arrays(
        pa.array(index, pa.int32()), dictionary
    ).dictionary_decode()


def _hex_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """n random 32-hex-digit ids."""
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, 0::2] = table[raw >> 4]
    chars[:, 1::2] = table[raw & 15]
    offsets = np.arange(0, 32 * n + 1, 32, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())]
    )


def _list(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _counts_to_offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _ts(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64()).cast(schema.TS)


def _months(us: np.ndarray) -> pa.Array:
    month = us.astype("datetime64[us]").astype("datetime64[M]")
    unique, index = np.unique(month, return_inverse=True)
    return _strings([str(m) for m in unique], index)


def _joined(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


@dataclass
class Replays:
    """Per-replay attributes of one chunk (numpy index arrays and pyarrow columns)."""

    n: int
    project: np.ndarray  # project ids 1..20
    replay_id: pa.Array
    start: np.ndarray  # µs
    segments: np.ndarray  # count per replay
    columns: dict[str, pa.Array]  # replay-level columns copied onto every segment
    tags_key: pa.Array  # list per replay
    tags_value: pa.Array


def _replays(rng: np.random.Generator, starts: np.ndarray) -> Replays:
    n = len(starts)
    project = rng.choice(PROJECTS, n, p=project_weights()) + 1
    day = ((starts - starts.min()) // (86400 * US)).astype(np.int64)
    browser = rng.choice(len(BROWSERS), n, p=[b[4] for b in BROWSERS])
    env = rng.choice(len(ENVIRONMENTS), n, p=[e[1] for e in ENVIRONMENTS])
    release_n = np.clip(day // 3 + rng.integers(-1, 2, n), 0, 99)
    user = np.minimum(rng.zipf(1.2, n), 200_000) + project * 1_000_000
    city = rng.integers(0, len(CITIES), n)
    device = np.where(np.isin(browser, (3,)), 1, np.where(np.isin(browser, (4,)), 2, 0))
    user_s = pa.array(user, pa.int64()).cast(pa.string())
    has_user = rng.random(n) < 0.7
    blank = pa.scalar("")
    cols = {
        "replay_type": _strings(("session", "buffer"), (rng.random(n) < 0.2).astype(int)),
        "platform": _strings(("javascript",), np.zeros(n, int)),
        "environment": _strings([e[0] for e in ENVIRONMENTS], env),
        "release": _joined(
            pa.array(project, pa.int64()).cast(pa.string()),
            "@1.",
            pa.array(release_n, pa.int64()).cast(pa.string()),
            ".0",
        ),
        "dist": _strings(("",), np.zeros(n, int)),
        "title": _strings(PATHS, rng.integers(0, len(PATHS), n)),
        "user_id": pc.if_else(has_user, user_s, blank),
        "user_name": pc.if_else(has_user, _joined("user ", user_s), blank),
        "user_email": pc.if_else(has_user, _joined("user", user_s, "@example.com"), blank),
        "user_ip": _joined(
            "10.",
            *(
                x
                for i in range(3)
                for x in (pa.array(rng.integers(0, 255, n)).cast(pa.string()), ".")
            ),
        ),
        "user_geo_city": _strings([c[0] for c in CITIES], city),
        "user_geo_country_code": _strings([c[1] for c in CITIES], city),
        "user_geo_region": _strings([c[2] for c in CITIES], city),
        "user_geo_subdivision": _strings([c[3] for c in CITIES], city),
        "browser_name": _strings([b[0] for b in BROWSERS], browser),
        "browser_version": _strings([b[1] for b in BROWSERS], browser),
        "os_name": _strings([b[2] for b in BROWSERS], browser),
        "os_version": _strings([b[3] for b in BROWSERS], browser),
        "device_name": _strings([d[0] for d in DEVICES], device),
        "device_brand": _strings([d[1] for d in DEVICES], device),
        "device_family": _strings([d[2] for d in DEVICES], device),
        "device_model": _strings([d[2] for d in DEVICES], device),
        "sdk_name": _strings(("sentry.javascript.browser",), np.zeros(n, int)),
        "sdk_version": _strings(("11.12.0", "11.11.0", "10.5.0"), rng.integers(0, 3, n)),
    }
    # the user_ip join above ends with a trailing "." on the last octet: strip it
    cols["user_ip"] = pc.utf8_slice_codeunits(cols["user_ip"], 0, -1)
    has_flag = rng.random(n) < 0.3
    tag_counts = 3 + has_flag.astype(np.int64)
    offsets = _counts_to_offsets(tag_counts)
    keys = np.empty(offsets[-1], dtype=np.int32)
    pools = [PLANS, LOCALES, REGIONS, FLAGS]
    value_pool = [v for pool in pools for v in pool]
    base = np.cumsum([0] + [len(p) for p in pools])
    values = np.empty(offsets[-1], dtype=np.int32)
    for k, pool in enumerate(pools):
        rows = np.nonzero(tag_counts > k)[0]
        keys[offsets[rows] + k] = k
        values[offsets[rows] + k] = base[k] + rng.integers(0, len(pool), len(rows))
    segments = np.clip(rng.geometric(0.1, n), 1, 120)
    return Replays(
        n=n,
        project=project,
        replay_id=_hex_ids(rng, n),
        start=starts,
        segments=segments,
        columns=cols,
        tags_key=_list(offsets, _strings(("plan", "locale", "region", "feature.flag"), keys)),
        tags_value=_list(offsets, _strings(value_pool, values)),
    )


def _segment_times(rng: np.random.Generator, r: Replays, owner: np.ndarray) -> np.ndarray:
    """Flush times: the start plus cumulative 5–60 s gaps, capped at one hour."""
    gaps = rng.uniform(5.0, 60.0, len(owner)) * US
    cumulative = np.cumsum(gaps)
    first = _counts_to_offsets(r.segments)[:-1]
    base = np.repeat(cumulative[first] - gaps[first], r.segments)
    elapsed = np.minimum(cumulative - base, 3600.0 * US)
    return r.start[owner] + elapsed.astype(np.int64)


def _url_lists(rng: np.random.Generator, project: np.ndarray, first: np.ndarray) -> pa.Array:
    n = len(project)
    counts = np.where(first, 1, (rng.random(n) < 0.3).astype(np.int64))
    offsets = _counts_to_offsets(counts)
    owner = np.repeat(np.arange(n), counts)
    path = (np.minimum(rng.zipf(1.3, len(owner)), len(PATHS)) - 1) % len(PATHS)
    sites = [f"https://app{p}.example.com" for p in range(1, PROJECTS + 1)]
    urls = _joined(_strings(sites, project[owner] - 1), _strings(PATHS, path))
    return _list(offsets, urls)


def _sparse_ids(rng: np.random.Generator, n: int, share: float) -> tuple[pa.Array, np.ndarray]:
    """A list column where a `share` of rows hold one random id; and which rows those are."""
    has = rng.random(n) < share
    return _list(_counts_to_offsets(has.astype(np.int64)), _hex_ids(rng, int(has.sum()))), has


def _segments(rng: np.random.Generator, r: Replays, received_lag: int) -> pa.Table:
    owner = np.repeat(np.arange(r.n), r.segments)
    seg_id = np.arange(len(owner)) - np.repeat(_counts_to_offsets(r.segments)[:-1], r.segments)
    ts = _segment_times(rng, r, owner)
    take = pa.array(owner, pa.int64())
    error_ids, _ = _sparse_ids(rng, len(owner), 0.02)
    trace_ids, _ = _sparse_ids(rng, len(owner), 0.3)
    columns: dict[str, pa.Array] = {
        "project_id": pa.array(r.project[owner], pa.int64()),
        "replay_id": r.replay_id.take(take),
        "segment_id": pa.array(seg_id, pa.int32()),
        "timestamp": _ts(ts),
        "replay_start_timestamp": _ts(r.start[owner]),
        "received": _ts(ts + received_lag),
        "urls": _url_lists(rng, r.project[owner], seg_id == 0),
        "error_ids": error_ids,
        "trace_ids": trace_ids,
        "tags_key": r.tags_key.take(take),
        "tags_value": r.tags_value.take(take),
        "error_sample_rate": pa.array(np.full(len(owner), 1.0)),
        "session_sample_rate": pa.array(np.full(len(owner), 0.1)),
        "has_blob": pa.array(np.zeros(len(owner), bool)),
        "month": _months(ts),
    }
    for name, values in r.columns.items():
        columns[name] = values.take(take)
    return pa.table({f.name: columns[f.name] for f in schema.SEGMENTS}, schema=schema.SEGMENTS)


def _clicks(rng: np.random.Generator, r: Replays, segments: pa.Table) -> pa.Table:
    counts = rng.poisson(4.0, r.n)
    owner = np.repeat(np.arange(r.n), counts)
    n = len(owner)
    seg_first = _counts_to_offsets(r.segments)[:-1]
    seg_ts = segments.column("timestamp").cast(pa.int64()).to_numpy()
    finished = seg_ts[seg_first + r.segments - 1]
    frac = rng.random(n)
    ts = r.start[owner] + (frac * (finished[owner] - r.start[owner])).astype(np.int64)
    seg = np.minimum((frac * r.segments[owner]).astype(np.int64), r.segments[owner] - 1)
    dead = rng.random(n) < 0.05
    rage = dead & (rng.random(n) < 0.33)
    cls = rng.integers(0, len(CLICK_CLASSES), n)
    class_counts = np.array([len(c) for c in CLICK_CLASSES])[cls]
    flat_classes = [c for group in CLICK_CLASSES for c in group]
    class_base = np.cumsum([0] + [len(c) for c in CLICK_CLASSES])
    class_index = np.repeat(class_base[cls], class_counts) + (
        np.arange(class_counts.sum())
        - np.repeat(_counts_to_offsets(class_counts)[:-1], class_counts)
    )
    tag = rng.integers(0, len(CLICK_TAGS), n)

    def pick(pool: tuple[str, ...]) -> pa.Array:
        return _strings(pool, rng.integers(0, len(pool), n))

    columns = {
        "project_id": pa.array(r.project[owner], pa.int64()),
        "replay_id": r.replay_id.take(pa.array(owner, pa.int64())),
        "event_hash": _hex_ids(rng, n),
        "timestamp": _ts(ts),
        "segment_id": pa.array(seg, pa.int32()),
        "environment": r.columns["environment"].take(pa.array(owner, pa.int64())),
        "node_id": pa.array(rng.integers(1, 600, n), pa.int64()),
        "tag": _strings(CLICK_TAGS, tag),
        "id": pick(CLICK_IDS),
        "class": _list(_counts_to_offsets(class_counts), _strings(flat_classes, class_index)),
        "text": pick(CLICK_TEXTS),
        "role": pick(CLICK_ROLES),
        "alt": _strings(("",), np.zeros(n, int)),
        "testid": pick(CLICK_TESTIDS),
        "aria_label": pick(CLICK_ARIA),
        "title": _strings(("",), np.zeros(n, int)),
        "component_name": pick(CLICK_COMPONENTS),
        "is_dead": pa.array(dead),
        "is_rage": pa.array(rage),
        "month": _months(ts),
    }
    return pa.table({f.name: columns[f.name] for f in schema.CLICKS}, schema=schema.CLICKS)


def _links(rng: np.random.Generator, r: Replays, segments: pa.Table) -> pa.Table:
    """An error link for every segment error id, plus warnings/infos for 5% of replays."""
    errors = pc.list_flatten(segments.column("error_ids").combine_chunks())
    err_rows = pc.list_parent_indices(segments.column("error_ids").combine_chunks())
    err_level = np.where(rng.random(len(errors)) < 0.2, 1, 0)  # some fatal
    extra = np.nonzero(rng.random(r.n) < 0.05)[0]
    extra_ts = r.start[extra] + rng.integers(1, 60, len(extra)) * US
    seg_ts = segments.column("timestamp").cast(pa.int64()).to_numpy()
    ts = np.concatenate([seg_ts[err_rows.to_numpy()], extra_ts])
    project = np.concatenate(
        [segments.column("project_id").to_numpy()[err_rows.to_numpy()], r.project[extra]]
    )
    replay_ids = pa.concat_arrays(
        [
            segments.column("replay_id").combine_chunks().take(err_rows),
            r.replay_id.take(pa.array(extra, pa.int64())),
        ]
    )
    levels = np.concatenate([err_level, rng.integers(2, 4, len(extra))])
    columns = {
        "project_id": pa.array(project, pa.int64()),
        "replay_id": replay_ids,
        "event_id": pa.concat_arrays([errors, _hex_ids(rng, len(extra))]),
        "level": _strings(("error", "fatal", "warning", "info"), levels),
        "timestamp": _ts(ts),
        "month": _months(ts),
        "transaction": _strings(TRANSACTIONS, rng.integers(0, len(TRANSACTIONS), len(levels))),
    }
    return pa.table({f.name: columns[f.name] for f in schema.LINKS}, schema=schema.LINKS)


def _blobs(segments: pa.Table, replays: int) -> tuple[pa.Table, list[Blob]]:
    """Recording blobs (small zlib rrweb bodies) for every segment of the first `replays`."""
    if replays <= 0:
        return segments, []
    ids = segments.column("replay_id").combine_chunks()
    chosen = pc.is_in(ids, value_set=pc.unique(ids).slice(0, replays))
    picked = segments.filter(chosen).select(["project_id", "replay_id", "segment_id", "timestamp"])
    blobs = []
    for p, rid, sid, ts in zip(*(picked.column(i).to_pylist() for i in range(4)), strict=True):
        events = [{"type": 3, "timestamp": int(ts.timestamp() * 1000), "data": {"source": 1}}] * 20
        blobs.append(Blob(p, rid, sid, zlib.compress(orjson.dumps(events))))
    has_blob = pc.or_(segments.column("has_blob"), chosen)
    index = segments.schema.get_field_index("has_blob")
    return segments.set_column(index, "has_blob", has_blob), blobs


def generate_chunk(size: Size, index: int, starts: np.ndarray) -> WriteBatch:
    """Chunk `index` of a dataset: the replays starting at starts[index*chunk:...]."""
    rng = np.random.default_rng([SEED, 1, index])
    chunk = starts[index * size.chunk : (index + 1) * size.chunk]
    r = _replays(rng, chunk)
    segments = _segments(rng, r, received_lag=US)
    clicks = _clicks(rng, r, segments)
    links = _links(rng, r, segments)
    segments, blobs = _blobs(segments, size.blob_replays if index == 0 else 0)
    return WriteBatch(segments=segments, clicks=clicks, links=links, blobs=blobs)


def chunk_count(size: Size) -> int:
    return -(-size.replays // size.chunk)


def generate_chunks(size: Size) -> Iterator[WriteBatch]:
    starts = start_times(size)
    for index in range(chunk_count(size)):
        yield generate_chunk(size, index, starts)


def window_end() -> datetime:
    """The end of the data (exclusive): the anchor."""
    return ANCHOR


def window(days: int) -> tuple[datetime, datetime]:
    return ANCHOR - timedelta(days=days), ANCHOR
