"""The listed queries: each runs through the product's query functions (ours) and has the
Sentry-shaped baseline equivalent (`baselines.Case`).

Sample values (a URL, a user, a release, an error id, a replay with clicks) are picked from
the loaded data once, deterministically, so every run and every engine asks the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from benchmarks import datagen
from benchmarks import mergetree as mt
from benchmarks.baselines import Case, Dialect, Predicate, q
from replaystore.engine import Engine
from replaystore.query import clicks, replays, segments, tags
from replaystore.query.common import FULL_PAGE, Page, Window

PAGE = Page(0, 10)
ALL_PROJECTS = list(range(1, datagen.PROJECTS + 1))
SORTED_AGGREGATES = (
    "count_errors",
    "duration",
    "activity",
    "count_urls",
    "count_dead_clicks",
    "count_rage_clicks",
)


@dataclass(frozen=True)
class Samples:
    replay_id: str  # a replay of project 1 in the last 7 days with clicks and an error
    project_id: int
    url: str
    url_part: str
    user_email: str
    release: str
    error_id: str


@dataclass(frozen=True)
class QueryCase:
    name: str
    ours: Callable[[Engine], Any]
    baseline: Case | None
    mergetree: mt.MtCase | None = None  # the same query over ClickHouse's MergeTree summary


def pick_samples(engine: Engine) -> Samples:
    end = datagen.ANCHOR
    start = end - timedelta(days=7)
    rows = engine.execute(
        "SELECT replay_id, project_id, urls[1] AS url, user_email, releases[1] AS release, "
        "error_ids[1] AS error_id FROM replays WHERE project_id = 1 AND count_errors > 0 "
        "AND len(clicks) > 2 AND user_email IS NOT NULL AND len(urls) > 0 "
        f"AND started_at >= TIMESTAMPTZ '{start.isoformat()}' "
        "ORDER BY replay_id LIMIT 1"
    )
    row = rows[0]
    url = str(row["url"])
    return Samples(
        replay_id=row["replay_id"],
        project_id=int(row["project_id"]),
        url=url,
        url_part=url.rsplit("/", 1)[0].rsplit("/", 1)[-1],
        user_email=row["user_email"],
        release=row["release"],
        error_id=row["error_id"],
    )


def _window(days: int) -> Window:
    start, end = datagen.window(days)
    return Window(start, end)


def _list(query: str = "", sort: str = "-started_at", days: int = 90) -> Callable[[Engine], Any]:
    def run(engine: Engine) -> Any:
        return replays.list_replays(
            engine,
            project_ids=ALL_PROJECTS,
            window=_window(days),
            page=PAGE,
            query=query,
            sort=sort,
        )

    return run


def _sum_true(condition: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END) > 0"


def _some(column: str, value: str) -> Predicate:
    return lambda d: _sum_true(d.has.format(l=column, x=q(value)))


def _wild(part: str) -> Predicate:
    return lambda d: _sum_true(d.wildcard.format(l="s.urls", p=q(f"%{part}/%")))


def _tag(key: str, value: str) -> Predicate:
    return lambda d: _sum_true(d.has.format(l=d.tag_pairs, x=q(f"{key}={value}")))


def _count_errors(above: int) -> Predicate:
    return lambda d: f"sum({d.length.format(l='s.error_ids')}) > {above}"


def _duration(low: int, high: int) -> Predicate:
    def render(d: Dialect) -> str:
        seconds = d.seconds.format(a="min(s.replay_start_timestamp)", b="max(s.timestamp)")
        return f"{seconds} > {low} AND {seconds} < {high}"

    return render


def _dead_button_btn(d: Dialect) -> str:
    has_class = d.has.format(l='"class"', x=q("btn"))
    return f"tag = 'button' AND {has_class} AND is_dead"


def build_cases(s: Samples) -> list[QueryCase]:
    """Every listed query, ours and the Sentry-shaped baseline."""
    cases = [
        QueryCase("browse_7d", _list(days=7), Case(days=7), mt.MtCase(days=7)),
        QueryCase("browse_90d", _list(days=90), Case(days=90), mt.MtCase(days=90)),
        QueryCase(
            "sort_count_errors_7d",
            _list(sort="-count_errors", days=7),
            Case(sort="-count_errors", days=7),
            mt.MtCase(sort="-count_errors", days=7),
        ),
    ]
    for field in SORTED_AGGREGATES:
        cases.append(
            QueryCase(
                f"sort_{field}",
                _list(sort=f"-{field}"),
                Case(sort=f"-{field}", days=90),
                mt.MtCase(sort=f"-{field}", days=90),
            )
        )
    url_exact = Case(having=_some("s.urls", s.url), days=90)
    searches: list[tuple[str, str, Case, str]] = [
        ("search_url_exact", f'url:"{s.url}"', url_exact, mt.has("urls", s.url)),
        (
            "search_url_wildcard",
            f"url:*{s.url_part}/*",
            Case(having=_wild(s.url_part), days=90),
            mt.wildcard(s.url_part),
        ),
        (
            "search_user_email",
            f"user.email:{s.user_email}",
            Case(where=f"user_email = {q(s.user_email)}", days=90),
            f"user_email = {q(s.user_email)}",
        ),
        (
            "search_release",
            f"release:{s.release}",
            Case(where=f"release = {q(s.release)}", days=90),
            mt.has("releases", s.release),
        ),
        (
            "search_tag",
            "plan:enterprise",
            Case(having=_tag("plan", "enterprise"), days=90),
            mt.tag("plan", "enterprise"),
        ),
        (
            "search_error_id",
            f"error_id:{s.error_id}",
            Case(having=_some("s.error_ids", s.error_id), days=90),
            mt.has("error_ids", s.error_id),
        ),
        (
            "search_count_errors",
            "count_errors:>1",
            Case(having=_count_errors(1), days=90),
            "count_errors > 1",
        ),
        (
            "search_duration",
            "duration:>20m duration:<40m",
            Case(having=_duration(1200, 2400), days=90),
            "duration > 1200 AND duration < 2400",
        ),
        (
            "search_click_selector",
            'click.selector:"button#submit"',
            Case(click_filter="tag = 'button' AND id = 'submit'", days=90),
            mt.click("c.tag = 'button' AND c.id = 'submit'"),
        ),
        (
            "search_dead_selector",
            'dead.selector:"button.btn"',
            Case(click_filter=_dead_button_btn, days=90),
            mt.click("c.tag = 'button' AND has(c.class, 'btn') AND c.is_dead"),
        ),
    ]
    for name, query, case, where in searches:
        cases.append(QueryCase(name, _list(query=query), case, mt.MtCase(where=where, days=90)))
        if name == "search_url_exact":
            cases.append(
                QueryCase(
                    "search_url_exact_7d",
                    _list(query=query, days=7),
                    Case(having=_some("s.urls", s.url), days=7),
                    mt.MtCase(where=where, days=7),
                )
            )
    cases.extend(_single_cases(s))
    return cases


def _single_cases(s: Samples) -> list[QueryCase]:
    window = _window(90)

    def fetch(engine: Engine) -> Any:
        return replays.get_replay(engine, s.replay_id, project_ids=ALL_PROJECTS, window=window)

    def replay_clicks(engine: Engine) -> Any:
        return clicks.list_clicks(engine, s.project_id, s.replay_id, window=window, page=FULL_PAGE)

    def replay_segments(engine: Engine) -> Any:
        return segments.list_segments(
            engine, s.project_id, s.replay_id, window=window, page=FULL_PAGE
        )

    def tag_keys(engine: Engine) -> Any:
        return tags.tag_keys(engine, project_ids=ALL_PROJECTS, window=window, page=FULL_PAGE)

    def tag_values(engine: Engine) -> Any:
        return tags.tag_values(
            engine, "plan", project_ids=ALL_PROJECTS, window=window, page=FULL_PAGE
        )

    one = {"replay_id": s.replay_id, "project_id": s.project_id, "days": 90}
    return [
        QueryCase("fetch_by_id", fetch, Case(kind="fetch", **one), mt.MtCase(fetch_id=s.replay_id)),
        QueryCase("clicks", replay_clicks, Case(kind="clicks", **one)),
        QueryCase("segments", replay_segments, Case(kind="segments", **one)),
        QueryCase("tag_keys", tag_keys, Case(kind="tag_keys", days=90)),
        QueryCase("tag_values", tag_values, Case(kind="tag_values", tag_key="plan", days=90)),
    ]
