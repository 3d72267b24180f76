"""The Arrow schemas of every stored table: the one place a stored column is defined.

Conventions (they hold for every table):

* ids (`replay_id`, error/trace/event ids) are 32 lower-case hex digits, no dashes;
* timestamps are `timestamp[us, tz=UTC]` (never naive: every reader agrees on the instant);
* strings are never null in raw tables: "" means "no value" (as Snuba's processor writes);
* `month` (`YYYY-MM`) is the Hive partition column and is not stored inside the Parquet files.
"""

from __future__ import annotations

import pyarrow as pa

from replaystore.fields import clicks

TS = pa.timestamp("us", tz="UTC")
STR_LIST = pa.list_(pa.string())

# Who and what recorded a replay: the same columns on segment rows and on the summary.
# `user_ip` is dotted IPv4 text ("" or null when none: IPv6 is never shown).
CONTEXT_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("user_id", pa.string()),
    ("user_name", pa.string()),
    ("user_email", pa.string()),
    ("user_ip", pa.string()),
    ("user_geo_city", pa.string()),
    ("user_geo_country_code", pa.string()),
    ("user_geo_region", pa.string()),
    ("user_geo_subdivision", pa.string()),
    ("browser_name", pa.string()),
    ("browser_version", pa.string()),
    ("os_name", pa.string()),
    ("os_version", pa.string()),
    ("device_name", pa.string()),
    ("device_brand", pa.string()),
    ("device_family", pa.string()),
    ("device_model", pa.string()),
    ("sdk_name", pa.string()),
    ("sdk_version", pa.string()),
]

# One row per replay event (recording segment): the raw truth.
SEGMENTS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("segment_id", pa.int32()),
        ("timestamp", TS),  # when the SDK flushed the segment (event `timestamp`)
        ("replay_start_timestamp", TS),  # nullable
        ("received", TS),  # when we accepted it (`dateAdded` of recording-segments)
        ("replay_type", pa.string()),
        ("platform", pa.string()),
        ("environment", pa.string()),
        ("release", pa.string()),
        ("dist", pa.string()),
        ("title", pa.string()),  # the `transaction` tag, removed from tags
        ("urls", STR_LIST),
        ("error_ids", STR_LIST),
        ("trace_ids", STR_LIST),
        *CONTEXT_COLUMNS,
        ("tags_key", STR_LIST),  # parallel to tags_value, order kept, duplicates allowed
        ("tags_value", STR_LIST),
        ("error_sample_rate", pa.float64()),  # -1.0 when absent
        ("session_sample_rate", pa.float64()),
        ("has_blob", pa.bool_()),  # a recording body was stored for this segment
        ("month", pa.string()),
    ]
)

# One row per click (plain, dead or rage), deduplicated on (project_id, replay_id, event_hash).
CLICKS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("event_hash", pa.string()),  # 32 hex: md5(replay_id + str(int ts) + str(node_id))
        ("timestamp", TS),  # breadcrumb timestamp, full precision
        ("segment_id", pa.int32()),  # the segment whose recording held the breadcrumb
        ("environment", pa.string()),
        ("node_id", pa.int64()),
        *clicks.COLUMNS,
        *((flag, pa.bool_()) for flag in clicks.FLAGS),
        ("month", pa.string()),
    ]
)

# One row per error/warning/info event linked to a replay; key (project_id, replay_id, event_id).
LINKS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("event_id", pa.string()),
        ("level", pa.string()),  # fatal | error | warning | info | debug
        ("timestamp", TS),
        ("month", pa.string()),
        ("transaction", pa.string()),  # the event's transaction name ("" when none)
    ]
)

# Columns added to a table after stores were written without them, and the value the rows
# already stored get (`tables.open_or_create` adds them when it opens such a store).
ADDED_COLUMNS: dict[str, dict[str, object]] = {"links": {"transaction": ""}}

# Archive markers written by DELETE: one row per deleted (project_id, replay_id).
ARCHIVES = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("timestamp", TS),  # deletion time
        ("started_at", TS),  # the replay's started_at before deletion (null if never seen)
        ("month", pa.string()),
    ]
)

# Who viewed a replay (the viewed-by routes): one row per (project_id, replay_id, viewer_id).
# `timestamp` is the replay's started_at, so a replay's views share its month and age and
# expire and are purged with it; a view never moves `finished_at` (summaries ignore them).
VIEWERS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("viewer_id", pa.int64()),  # the user id of the token (catalog.User)
        ("timestamp", TS),  # the replay's started_at
        ("viewed_at", TS),  # when the view was first recorded
        ("month", pa.string()),
    ]
)

CLICK_STRUCT = pa.struct([*clicks.COLUMNS, *((flag, pa.bool_()) for flag in clicks.FLAGS)])

TAG_STRUCT = pa.struct([("key", pa.string()), ("value", pa.string())])

# One row per replay: every aggregate of the API response precomputed.
# Nullable string columns are null when no row had a non-empty value.
REPLAYS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("started_at", TS),  # min replay_start_timestamp (segment timestamp if absent)
        ("finished_at", TS),  # max segment timestamp
        ("duration", pa.int64()),  # whole seconds finished_at - started_at
        ("count_segments", pa.int64()),
        ("count_urls", pa.int64()),
        ("urls", STR_LIST),  # concatenated in segment order
        ("count_errors", pa.int64()),
        ("count_warnings", pa.int64()),
        ("count_infos", pa.int64()),
        ("error_ids", STR_LIST),
        ("warning_ids", STR_LIST),
        ("info_ids", STR_LIST),
        ("trace_ids", STR_LIST),
        ("count_dead_clicks", pa.int64()),
        ("count_rage_clicks", pa.int64()),
        ("activity", pa.int64()),
        ("is_archived", pa.bool_()),
        ("environment", pa.string()),
        ("releases", STR_LIST),
        ("dist", pa.string()),
        ("platform", pa.string()),
        ("replay_type", pa.string()),
        *CONTEXT_COLUMNS,
        ("tags", pa.list_(TAG_STRUCT)),  # distinct (key, value) pairs
        ("clicks", pa.list_(CLICK_STRUCT)),  # every click row, for click.* search
        ("payload", pa.string()),  # JSON array of the PAYLOAD_COLUMNS values (see below)
        ("updated_at", TS),  # when this summary row was computed (newest wins)
        ("month", pa.string()),  # of started_at
    ]
)

# What a response is shaped from: the key and time columns plus `payload`, which repeats
# every other shaped column as one JSON array of their values in PAYLOAD_COLUMNS order (a
# tag as [key, value], a click as its CLICK_STRUCT values in order). Fetching a page or one
# replay then decodes five column chunks instead of ~120 Parquet leaves, and an array without
# keys halves the bytes decoded (medium fixture: page fetch ~15 -> ~4 ms). The other columns
# stay for search and sorting.
FETCHED_COLUMNS = ("project_id", "replay_id", "started_at", "finished_at", "payload")
PAYLOAD_COLUMNS = tuple(
    name for name in REPLAYS.names if name not in (*FETCHED_COLUMNS, "updated_at", "month")
)
CLICK_FIELDS = tuple(CLICK_STRUCT.names)
TAG_FIELDS = tuple(TAG_STRUCT.names)

# One row per (replay, tag key, value) of the compacted summary base: an inverted index so
# tag values and tag keys read one key's narrow rows instead of every replay's tag list
# (derived in `storage.tag_index`; the recent tier's tags are unnested when read).
TAGS = pa.schema(
    [
        ("key", pa.string()),
        ("value", pa.string()),
        ("project_id", pa.int64()),
        ("replay_id", pa.string()),
        ("started_at", TS),
        ("finished_at", TS),
        ("environment", pa.string()),  # null when none, as in the summary
        ("month", pa.string()),  # of started_at
    ]
)

# Signed click counts per (project, UTC day, environment, element): the precomputed form of the
# replay-selectors ranking (storage/selector_counts.py). Ingest appends +1 rows for new clicks,
# DELETE and retention -1 rows for purged ones; compaction sums them. `class` is the element's
# class list without empty strings (the ranking's group key); `flagged` says the
# rows count dead or rage clicks (rows of plain clicks have dead = rage = 0). Compaction also
# writes the all-time totals of the folded rows in partition `month = "all"` (`day` null;
# `environment` null in the totals over every environment).
SELECTOR_COUNTS = pa.schema(
    [
        ("project_id", pa.int64()),
        ("day", TS),  # UTC midnight of the clicks' day
        ("environment", pa.string()),
        *((name, t) for name, t in clicks.COLUMNS if name in clicks.ELEMENT),
        ("element_key", pa.string()),  # the attributes above as one text (selector_counts.py)
        ("flagged", pa.bool_()),
        ("folded", pa.bool_()),  # written by compaction (in the totals), else a write's delta
        ("clicks", pa.int64()),
        ("dead", pa.int64()),
        ("rage", pa.int64()),
        ("month", pa.string()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "segments": SEGMENTS,
    "clicks": CLICKS,
    "links": LINKS,
    "archives": ARCHIVES,
    "viewers": VIEWERS,
    "replays": REPLAYS,
    "tags": TAGS,
    "selectors": SELECTOR_COUNTS,
}

# The summary columns with min/max stats in the Delta log (storage/properties.py): the times
# every window prunes by, and the two numbers sorted most often.
SUMMARY_STATS_COLUMNS: tuple[str, ...] = (
    "project_id",
    "started_at",
    "finished_at",
    "updated_at",
    "duration",
    "count_errors",
)

# A replay's identity in every table.
REPLAY_KEY: tuple[str, ...] = ("project_id", "replay_id")

# Upsert keys: a row whose key is already stored is not written again.
KEYS: dict[str, tuple[str, ...]] = {
    "segments": (*REPLAY_KEY, "segment_id"),
    "clicks": (*REPLAY_KEY, "event_hash"),
    "links": (*REPLAY_KEY, "event_id"),
    "archives": REPLAY_KEY,
    "viewers": (*REPLAY_KEY, "viewer_id"),
    "replays": REPLAY_KEY,
}
