"""Every error path, one case a line: query -> the exact `detail` of its SearchError."""

from __future__ import annotations

import pytest

from replaystore.errors import SearchError
from replaystore.search import compile_click_search, compile_replay_search, sort_order

PARSE = "This is commonly caused by unmatched parentheses. Enclose any text in double quotes."
SELECTOR_ATTRIBUTE = (
    "Invalid attribute specified. Only alt, aria-label, role, data-testid, data-test-id, "
    "data-sentry-component, and title are supported."
)


def _number(key: str, raw: str) -> str:
    expected = "Expected number then optional k, m, or b suffix (e.g. 500k)."
    return f"{key}: Invalid number: {raw}. {expected}"


REPLAY_ERRORS = [
    # parser: unconsumed input (Sentry's two quoted examples)
    (
        "(user.email:foo@example.com OR user.email:bar@example.com",
        f"Parse error at '(user.' (column 1). {PARSE}",
    ),
    (
        "user.email:foo@example.com OR user.email:bar@example.com)",
        f"Parse error at '.com)' (column 57). {PARSE}",
    ),
    ("a)", f"Parse error at 'a)' (column 2). {PARSE}"),
    (")", f"Parse error at ')' (column 1). {PARSE}"),
    ("(a", f"Parse error at '(a' (column 1). {PARSE}"),
    ("a:b\nc:d", f"Parse error at 'a:b\nc:d' (column 4). {PARSE}"),
    ("x\ny)", f"Parse error at 'x\ny)' (column 2). {PARSE}"),
    ("((a:b)", f"Parse error at '((a:b)' (column 1). {PARSE}"),
    # parser: values
    ("a:", "Empty string after 'a:'"),
    ("a: b", "Empty string after 'a:'"),
    ("a:>", "Empty string after 'a:'"),
    ("tags[x]:", "Empty string after 'tags[x]:'"),
    ("a:(b)", "Empty string after 'a:'"),
    ("a:[1,2,]", "Lists should not have empty values"),
    ("a:[a, ]", "Lists should not have empty values"),
    ('a:"b', "Invalid quote at '\"b': quotes must enclose text or be escaped."),
    ('a:b"c', "Invalid quote at 'b\"c': quotes must enclose text or be escaped."),
    ('a:"\\\\"', "Invalid quote at '\"\\\\\"': quotes must enclose text or be escaped."),
    ('has:"hi there"', 'Invalid format for "has" search: was expecting a field or tag instead'),
    ("has:", 'Invalid format for "has" search: was expecting a field or tag instead'),
    ("is:unresolved", '"is:" queries are not supported in this search.'),
    ("!is:[a, b]", '"is:" queries are not supported in this search.'),
    # boolean structure (400 naming the position)
    ("OR a", "Condition is missing on the left side of 'OR' operator (column 1)."),
    ("AND a", "Condition is missing on the left side of 'AND' operator (column 1)."),
    ("a OR", "Condition is missing on the right side of 'OR' operator (column 3)."),
    ("a and", "Condition is missing on the right side of 'AND' operator (column 3)."),
    ("a AND OR b", "Missing condition in between two condition operators: 'AND OR' (column 3)."),
    ("a OR OR b", "Missing condition in between two condition operators: 'OR OR' (column 3)."),
    ("(OR a)", "Condition is missing on the left side of 'OR' operator (column 2)."),
    ("a (b OR)", "Condition is missing on the right side of 'OR' operator (column 6)."),
    ("OR", "Condition is missing on the left side of 'OR' operator (column 1)."),
    ("()", "Empty parentheses at column 1."),
    ("a ( )", "Empty parentheses at column 3."),
    ("a OR ()", "Empty parentheses at column 6."),
    # limits
    ("a" * 10_001, "Query is too long: 10001 characters, at most 10000 are allowed."),
    (
        "(" * 65 + "a" + ")" * 65,
        "Parentheses are nested too deeply (more than 64 levels) at column 65.",
    ),
    # numbers
    ("count_errors:abc", _number("count_errors", "abc")),
    ("count_errors:>abc", _number("count_errors", ">abc")),
    ("count_errors:[1, a]", _number("count_errors", "['1', 'a']")),
    ("count_errors:1*", _number("count_errors", "1*")),
    ("count_errors:.5", _number("count_errors", ".5")),
    ("count_errors:+5", _number("count_errors", "+5")),
    ("count_errors:1e3", _number("count_errors", "1e3")),
    ("activity:3s", "s is not a valid number suffix, must be k, m or b"),
    ("count_urls:2min", "min is not a valid number suffix, must be k, m or b"),
    ("count_segments:7d", "d is not a valid number suffix, must be k, m or b"),
    ("count_errors:true", "Invalid number"),
    ("count_errors:FALSE", "Invalid number"),
    (
        "has:count_errors",
        "Could not parse value for `count_errors`. Detail: Failed to parse float.",
    ),
    # durations (sub-second values allowed)
    ("duration:abc", _number("duration", "abc")),
    ("duration:5y", _number("duration", "5y")),
    ("duration:>5x", _number("duration", ">5x")),
    ("duration:1S", _number("duration", "1S")),
    ("duration:true", "Invalid number"),
    (
        "duration:1000000000d",
        "1000000000d is too large of a value, the maximum value is 999999999 days",
    ),
    ("!has:duration", "Could not parse value for `duration`. Detail: Failed to parse float."),
    # UUIDs and IPv4
    ("id:abc", "Could not parse value for `id`. Detail: Failed to parse uuid."),
    ("id:[abc]", "Could not parse value for `id`. Detail: Failed to parse uuid."),
    ("error_id:123", "Could not parse value for `error_id`. Detail: Failed to parse uuid."),
    ("trace:" + "g" * 32, "Could not parse value for `trace`. Detail: Failed to parse uuid."),
    (
        "trace_ids:" + "a" * 31,
        "Could not parse value for `trace_ids`. Detail: Failed to parse uuid.",
    ),
    ("id:a*", "Invalid operator specified for `id`"),
    ("id:>" + "a" * 32, "Invalid operator specified for `id`"),
    ("user.ip:1.2.3", "Could not parse value for `user.ip`. Detail: Invalid IPv4"),
    ("user.ip:::1", "Could not parse value for `user.ip`. Detail: Invalid IPv4"),
    (
        "user.ip_address:[1.2.3.4, x]",
        "Could not parse value for `user.ip_address`. Detail: Invalid IPv4",
    ),
    ("user.ip:1.2.3.*", "Invalid operator specified for `user.ip`"),
    ("user.ip:<1.2.3.4", "Invalid operator specified for `user.ip`"),
    # booleans
    ("is_archived:maybe", "is_archived: Invalid boolean: maybe. Expected true, 1, false, or 0."),
    ("is_archived:[true]", "Invalid operator specified for `is_archived`"),
    ("is_archived:>1", "Invalid operator specified for `is_archived`"),
    ("has:is_archived", "Invalid operator specified for `is_archived`"),
    # selectors
    ("click.selector:[div, a]", "Invalid operator specified for `click.selector`"),
    ("!dead.selector:[div, a]", "Invalid operator specified for `dead.selector`"),
    ('click.selector:["[alt=x]"]', "Invalid operator specified for `click.selector`"),
    ("click.selector:>div", "Invalid operator specified for `click.selector`"),
    ('click.selector:"div button"', "Nested selectors are not supported."),
    ('click.selector:"div > button"', "Nested selectors are not supported."),
    ('rage.selector:"a + b"', "Nested selectors are not supported."),
    ('click.selector:"a ~ b"', "Nested selectors are not supported."),
    ("click.selector:a::visited", "Pseudo-elements are not supported."),
    ("click.selector:p:active", "Only attribute, class, id, and tag name selectors are supported."),
    (
        "click.selector:div:nth-child(2)",
        "Only attribute, class, id, and tag name selectors are supported.",
    ),
    (
        'click.selector:":not(a)"',
        "Only attribute, class, id, and tag name selectors are supported.",
    ),
    ("click.selector:div[href=x]", SELECTOR_ATTRIBUTE),
    ("click.selector:[data-foo=x]", SELECTOR_ATTRIBUTE),
    ("click.selector:div[title~=x]", "Only the '=' operator is supported."),
    ("click.selector:div[title^=x]", "Only the '=' operator is supported."),
    ("click.selector:div[title$=x]", "Only the '=' operator is supported."),
    ("click.selector:div[title*=x]", "Only the '=' operator is supported."),
    ("click.selector:div[title|=x]", "Only the '=' operator is supported."),
    ("click.selector:[alt]", "Only the '=' operator is supported."),
    ("has:click.selector", "Invalid operator specified for `click.selector`"),
    # viewed by (no views are stored, errors as Sentry)
    ("viewed_by_me:maybe", "Could not parse value for `viewed_by_me`"),
    ("!viewed_by_me:true", "Invalid operator specified for `viewed_by_me`"),
    ("seen_by_me:!=true", "Invalid operator specified for `seen_by_me`"),
    ("viewed_by_id:abc", "Could not parse value for `viewed_by_id`. Detail: Failed to parse int."),
    # `>` folds into the value of these non-numeric keys, which then fails
    ("seen_by_id:>1", "Could not parse value for `seen_by_id`. Detail: Failed to parse int."),
    ("viewed_by_me:<true", "Could not parse value for `viewed_by_me`"),
    # errors inside boolean structure still surface
    ("a:b OR count_errors:x", _number("count_errors", "x")),
    ("(a:b (id:1))", "Could not parse value for `id`. Detail: Failed to parse uuid."),
]


@pytest.mark.parametrize(("query", "detail"), REPLAY_ERRORS, ids=[c[0][:60] for c in REPLAY_ERRORS])
@pytest.mark.parametrize("source", ["summary", "raw"])
def test_replay_search_error(query: str, detail: str, source: str) -> None:
    with pytest.raises(SearchError) as raised:
        compile_replay_search(query, source=source)  # type: ignore[arg-type]
    assert raised.value.detail == detail
    assert raised.value.status == 400


CLICK_ERRORS = [
    ("browser.name:Chrome", "Unsupported search field: browser.name"),
    ("count_errors:1", "Unsupported search field: count_errors"),
    ("foo:bar", "Unsupported search field: foo"),
    ("tags[foo]:bar", "Unsupported search field: tags[foo]"),
    ("has:user.email", "Unsupported search field: user.email"),
    ("just text", "Unsupported search field: message"),
    ("click.tag:a OR url:x", "Unsupported search field: url"),
    ("click.selector:[a, b]", "Invalid operator specified for `click.selector`"),
    ('click.selector:"a b"', "Nested selectors are not supported."),
    ("click.tag:", "Empty string after 'click.tag:'"),
    ("(click.tag:a", f"Parse error at '(click' (column 1). {PARSE}"),
]


@pytest.mark.parametrize(("query", "detail"), CLICK_ERRORS, ids=[c[0] for c in CLICK_ERRORS])
def test_click_search_error(query: str, detail: str) -> None:
    with pytest.raises(SearchError) as raised:
        compile_click_search(query)
    assert raised.value.detail == detail


SORT_ERRORS = ["count_segments", "-environment", "releases", "sdk.version", "user.ip", "urls", "x"]


@pytest.mark.parametrize("sort", SORT_ERRORS)
def test_unsortable(sort: str) -> None:
    with pytest.raises(SearchError) as raised:
        sort_order(sort)
    assert raised.value.detail == f"The field `{sort.lstrip('-')}` is not a sortable field."


@pytest.mark.parametrize(
    ("query", "position"),
    [("a:b )", 4), ("a OR", 2), ("x:1 id:1", 4), ("a:b c:", 4), ("a:b ()", 4)],
)
def test_errors_carry_the_position(query: str, position: int) -> None:
    with pytest.raises(SearchError) as raised:
        compile_replay_search(query)
    assert raised.value.position == position
