"""The field registry: every search and sort key, defined once.

A `Field` names its kind (how values are typed and which operators apply), its aliases, how
to reach its values over the `replays` summary and over the raw rows, how to sort by it, and
which tag keys read its summary column. Keys that are not here are tag keys.
The maps at the end are derived from `FIELDS`, never typed again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
from sqlglot import exp

from replaystore.fields import reference as ref
from replaystore.fields import sources as src
from replaystore.fields.clicks import ATTRIBUTES, ClickAttribute
from replaystore.fields.schema import REPLAYS
from replaystore.fields.sentry import ERROR_LEVELS, INFO_LEVELS, WARNING_LEVELS
from replaystore.fields.sources import Accessor, Match, Values

Kind = Literal[
    "string",  # STR: = != IN NOT IN, wildcards; comparisons fold into the value
    "uuid",  # ID: = != IN NOT IN, value a UUID
    "ipv4",  # = != IN NOT IN, value a dotted quad or ""
    "number",  # NUM: = != > >= < <= IN NOT IN, k/m/b suffixes
    "duration",  # NUM in seconds, with duration units
    "boolean",  # = != with true/false/1/0
    "selector",  # SEL: = != with a CSS selector
    "viewed_by_id",  # = != IN NOT IN with an integer user id
    "viewed_by_me",  # = with true/false
    "time",  # sortable only, not searchable
]

OPERATORS: dict[Kind, frozenset[str]] = {
    "string": frozenset({"=", "!=", "IN", "NOT IN"}),
    "uuid": frozenset({"=", "!=", "IN", "NOT IN"}),
    "ipv4": frozenset({"=", "!=", "IN", "NOT IN"}),
    "number": frozenset({"=", "!=", ">", ">=", "<", "<=", "IN", "NOT IN"}),
    "duration": frozenset({"=", "!=", ">", ">=", "<", "<=", "IN", "NOT IN"}),
    "boolean": frozenset({"=", "!="}),
    "selector": frozenset({"=", "!="}),
    "viewed_by_id": frozenset({"=", "!=", "IN", "NOT IN"}),
    "viewed_by_me": frozenset({"="}),
    "time": frozenset(),
}

# How a field's values spread over a replay's segments, for Sentry's strategy rule.
Rows = Literal["static", "varying"]
ClickMatch = Callable[[Accessor, Match], exp.Expression]


@dataclass(frozen=True)
class Field:
    """One search/sort key.

    `values` reaches string-like kinds (uuid, ipv4, string); `summary`/`raw` build the
    per-replay value of numeric kinds; `click` is the condition on one click row for
    click fields (used by the clicks endpoint); `sort` is the summary column to order by;
    `column` is the summary column holding a string field's values, which the tag-values
    endpoint reads for the names in `tag_keys`. `rows` and `scalar_sort` are the
    field's part in Sentry's choice of the list's query strategy (`query.data_source`):
    a "static" field has one value on every segment, a "varying" one may differ per segment.
    """

    name: str
    kind: Kind
    doc: str
    aliases: tuple[str, ...] = ()
    values: Values | None = None
    summary: Callable[[], exp.Expression] | None = None
    raw: Callable[[], exp.Expression] | None = None
    click: ClickMatch | None = None
    click_flag: str | None = None  # selectors: the click must also have this flag
    sort: str | None = None
    sort_names: tuple[str, ...] = ()
    column: str | None = None
    tag_keys: tuple[str, ...] = ()
    rows: Rows | None = None
    scalar_sort: bool = False

    @property
    def operators(self) -> frozenset[str]:
        return OPERATORS[self.kind]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def _column(name: str) -> Callable[[], exp.Expression]:
    return lambda: exp.column(name, quoted=True)


def _string(
    name: str,
    column: str,
    doc: str,
    *aliases: str,
    sort: tuple[str, ...] = (),
    tag_keys: tuple[str, ...] | None = None,
    rows: Rows | None = None,
    scalar_sort: bool = False,
) -> Field:
    """A string picked per replay: the summary column and the same column of each segment."""
    return Field(
        name,
        "string",
        doc,
        aliases,
        values=src.scalar(column),
        sort=column if sort else None,
        sort_names=sort,
        column=column,
        tag_keys=(name,) if tag_keys is None else tag_keys,
        rows=rows,
        scalar_sort=scalar_sort,
    )


def _number(
    name: str,
    raw: Callable[[], exp.Expression],
    doc: str,
    aliases: tuple[str, ...] = (),
    sort: tuple[str, ...] = (),
) -> Field:
    return Field(
        name,
        "number",
        doc,
        aliases,
        summary=_column(name),
        raw=raw,
        sort=name if sort else None,
        sort_names=sort,
    )


def _click(attribute: ClickAttribute) -> Field:
    on_click = src.click_attribute(attribute.column, attribute.is_list)
    values = src.clicked(on_click)
    return Field(
        attribute.search, "string", attribute.doc, attribute.aliases, values, click=on_click
    )


def _selector(name: str, doc: str, flag: str | None = None) -> Field:
    return Field(name, "selector", doc, click_flag=flag)


FIELDS: tuple[Field, ...] = (
    Field("id", "uuid", "The replay id.", values=src.replay_id(), rows="static"),
    _number(
        "count_errors",
        ref.count_errors,
        "Distinct error ids.",
        sort=("count_errors", "countErrors"),
    ),
    _number("count_warnings", ref.count_warnings, "Warning events.", sort=("count_warnings",)),
    _number("count_infos", ref.count_infos, "Info/debug events.", sort=("count_infos",)),
    _number(
        "count_urls", ref.count_urls, "Urls visited.", ("count_screens",), sort=("count_urls",)
    ),
    _number("count_segments", ref.count_segments, "Recording segments."),
    _number(
        "count_dead_clicks", ref.count_dead_clicks, "Dead clicks.", sort=("count_dead_clicks",)
    ),
    _number(
        "count_rage_clicks", ref.count_rage_clicks, "Rage clicks.", sort=("count_rage_clicks",)
    ),
    Field(
        "count_traces",
        "number",
        "Distinct trace ids.",
        summary=lambda: exp.ArraySize(this=exp.column("trace_ids", quoted=True)),
        raw=ref.count_traces,
    ),
    _number("activity", ref.activity, "Activity score 1..10.", sort=("activity",)),
    Field(
        "duration",
        "duration",
        "Whole seconds from started_at to finished_at.",
        summary=_column("duration"),
        raw=ref.duration,
        sort="duration",
        sort_names=("duration",),
    ),
    Field(
        "is_archived",
        "boolean",
        "Deleted replays.",
        summary=lambda: exp.Coalesce(
            this=exp.column("is_archived", quoted=True), expressions=[exp.false()]
        ),
        raw=ref.is_archived,
    ),
    _string(
        "browser.name",
        "browser_name",
        "Browser.",
        "browser",
        sort=("browser.name", "browser"),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "browser.version",
        "browser_version",
        "Browser version.",
        sort=("browser.version",),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "os.name",
        "os_name",
        "OS.",
        "os",
        sort=("os.name", "os", "os_name"),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "os.version",
        "os_version",
        "OS version.",
        sort=("os.version",),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "device.name",
        "device_name",
        "Device.",
        "device",
        sort=("device.name",),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "device.brand",
        "device_brand",
        "Device brand.",
        sort=("device.brand",),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "device.family",
        "device_family",
        "Device family.",
        sort=("device.family",),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "device.model",
        "device_model",
        "Device model (also searched as device.model_id).",
        "device.model_id",
        sort=("device.model", "device.model_id"),
        tag_keys=("device.model", "device.model_id"),
        rows="static",
        scalar_sort=True,
    ),
    _string(
        "sdk.name", "sdk_name", "SDK.", "sdk", sort=("sdk.name",), rows="static", scalar_sort=True
    ),
    _string("sdk.version", "sdk_version", "SDK version.", rows="static"),
    _string("dist", "dist", "Distribution.", sort=("dist",), rows="static", scalar_sort=True),
    _string("environment", "environment", "Environment.", rows="static"),
    _string(
        "platform", "platform", "Platform.", sort=("platform",), rows="static", scalar_sort=True
    ),
    _string("replay_type", "replay_type", "session or buffer."),
    _string("user.id", "user_id", "User id.", sort=("user.id",), rows="varying", scalar_sort=True),
    _string(
        "user.email",
        "user_email",
        "User email.",
        sort=("user.email",),
        rows="varying",
        scalar_sort=True,
    ),
    _string(
        "user.username",
        "user_name",
        "User name.",
        "user",
        sort=("user.username",),
        rows="varying",
        scalar_sort=True,
    ),
    # Not among the tag-values column keys: their values come from the tags.
    _string("user.geo.city", "user_geo_city", "City.", tag_keys=()),
    _string("user.geo.country_code", "user_geo_country_code", "Country code.", tag_keys=()),
    _string("user.geo.region", "user_geo_region", "Region.", tag_keys=()),
    _string("user.geo.subdivision", "user_geo_subdivision", "Subdivision.", tag_keys=()),
    Field(
        "user.ip",
        "ipv4",
        "IPv4 address.",
        ("user.ip_address",),
        values=src.scalar("user_ip"),
        column="user_ip",
        tag_keys=("user.ip",),
        rows="varying",
    ),
    Field(
        "releases",
        "string",
        "Releases.",
        ("release",),
        values=src.listed("releases", "release", raw_is_list=False),
        column="releases",
        tag_keys=("release", "releases"),
        rows="static",
    ),
    Field(
        "urls",
        "string",
        "Urls.",
        ("url", "screens", "screen"),
        values=src.listed("urls"),
        column="urls",
        tag_keys=("url",),
        rows="varying",
    ),
    Field(
        "error_ids",
        "uuid",
        "Error ids.",
        ("error_id",),
        values=src.linked_ids("error_ids", ERROR_LEVELS, "error_ids"),
        rows="varying",
    ),
    Field(
        "warning_ids",
        "uuid",
        "Warning ids.",
        ("warning_id",),
        values=src.linked_ids("warning_ids", WARNING_LEVELS),
    ),
    Field(
        "info_ids",
        "uuid",
        "Info ids.",
        ("info_id",),
        values=src.linked_ids("info_ids", INFO_LEVELS),
    ),
    Field(
        "trace_ids",
        "uuid",
        "Trace ids.",
        ("trace_id", "trace"),
        values=src.listed("trace_ids"),
        rows="varying",
    ),
    *(_click(attribute) for attribute in ATTRIBUTES),
    _selector("click.selector", "A CSS selector some click matches."),
    _selector("dead.selector", "A CSS selector some dead click matches.", "is_dead"),
    _selector("rage.selector", "A CSS selector some rage click matches.", "is_rage"),
    Field("viewed_by_id", "viewed_by_id", "A user who viewed the replay.", ("seen_by_id",)),
    Field("viewed_by_me", "viewed_by_me", "Viewed by the requesting user.", ("seen_by_me",)),
    Field(
        "started_at",
        "time",
        "Start.",
        sort="started_at",
        sort_names=("started_at", "startedAt"),
        scalar_sort=True,
    ),
    Field(
        "finished_at", "time", "End.", sort="finished_at", sort_names=("finished_at", "finishedAt")
    ),
    Field(
        "project_id", "time", "Project.", sort="project_id", sort_names=("project_id", "projectId")
    ),
)

BY_NAME: dict[str, Field] = {
    name: field for field in FIELDS if field.kind != "time" for name in field.names
}
SORTABLE: dict[str, Field] = {name: field for field in FIELDS for name in field.sort_names}


# The list's X-Data-Source rule (`query.data_source`), by field name.
STATIC_FIELDS = frozenset(f.name for f in FIELDS if f.rows == "static")
VARYING_FIELDS = frozenset(f.name for f in FIELDS if f.rows == "varying")
SCALAR_SORTS = frozenset(f.name for f in FIELDS if f.scalar_sort)


def _is_list(column: str) -> bool:
    return isinstance(REPLAYS.field(column).type, pa.ListType)


# Tag keys the tag-values endpoint reads from a summary column: one value, or a list unnested.
SCALAR_TAG_KEYS: dict[str, str] = {
    key: f.column for f in FIELDS if f.column and not _is_list(f.column) for key in f.tag_keys
}
LIST_TAG_KEYS: dict[str, str] = {
    key: f.column for f in FIELDS if f.column and _is_list(f.column) for key in f.tag_keys
}
# Free text is a substring of urls, user.*, releases or id.
FREE_TEXT_FIELDS = (
    "urls",
    "user.id",
    "user.username",
    "user.email",
    "user.ip",
    "user.geo.city",
    "user.geo.country_code",
    "user.geo.region",
    "user.geo.subdivision",
    "releases",
    "id",
)


def lookup(name: str) -> Field | None:
    """The field of a search name or alias, or None (a tag key)."""
    return BY_NAME.get(name)
