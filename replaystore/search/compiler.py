"""Node tree -> sqlglot condition, over the `replays` summary, the raw rows, or one click row.

Semantics:

* a positive term (`=`, `IN`, wildcard) holds when some non-empty value of the replay
  satisfies it; its negation (`!`, `!=`, `NOT IN`) when none does;
* `field:""` holds when the replay has no non-empty value, `field:[x, ""]` is
  "some value is x, or there is none"; `has:f` is `!f:""`;
* wildcards are anchored and case-insensitive, `=` and `IN` exact and case-sensitive;
* comparison operators on string fields are part of the value (`browser.name:>a` is the
  literal `>a`), elsewhere they are an error unless the field is numeric;
* counts and durations compare exactly (no truncation); a duration without unit is seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlglot import exp

from replaystore.errors import SearchError
from replaystore.fields import sql
from replaystore.fields.registry import FREE_TEXT_FIELDS, Field, lookup
from replaystore.fields.sources import Accessor, Match, some_click, tag
from replaystore.fields.viewers import viewed_by
from replaystore.search import values
from replaystore.search.nodes import And, FreeText, Has, Key, ListValue, Node, Or, Text
from replaystore.search.nodes import Filter as FilterNode
from replaystore.search.parser import parse
from replaystore.search.selectors import selector_condition

Source = Literal["summary", "raw"]
Some = Callable[[Match], exp.Expression]

NEGATED = {
    "=": "!=",
    "!=": "=",
    ">": "<=",
    "<=": ">",
    "<": ">=",
    ">=": "<",
    "IN": "NOT IN",
    "NOT IN": "IN",
}
COMPARISONS = {">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE, "=": exp.EQ, "!=": exp.NEQ}
NEGATIVE = frozenset({"!=", "NOT IN"})
# Kinds whose comparison operators are part of the value (non-numeric keys in Sentry): the
# viewer keys then fail to parse the value (e.g. `viewed_by_me:<true`).
FOLDED = frozenset({"string", "viewed_by_id", "viewed_by_me"})


def invalid_operator(key: str) -> SearchError:
    return SearchError(f"Invalid operator specified for `{key}`")


def key_label(key: Key) -> str:
    return str(key) if key.kind == "tag" else key.name


def tag_field(name: str) -> Field:
    return Field(name, "string", "A tag.", values=tag(name))


def resolve(key: Key) -> Field:
    """The registry field of a key; unknown keys and `tags[...]` are tag keys."""
    if key.kind != "tag":
        field = lookup(key.name)
        if field is not None:
            return field
    return tag_field(key.name)


# ---- operators and value texts


def operator_and_items(node: FilterNode, field: Field) -> tuple[str, list[Text]]:
    """The effective operator (negation applied) and the value texts of a filter."""
    value = node.value
    if isinstance(value, ListValue) and field.kind == "selector" and _one_bare(value):
        # `click.selector:[alt=x]` is an attribute selector, not a list of one.
        value = Text(f"[{value.items[0].text}]", False, value.pos)
    if isinstance(value, ListValue):
        return ("NOT IN" if node.negated else "IN"), list(value.items)
    op, text = node.op or "=", value
    if op not in ("=", "!=") and field.kind in FOLDED:
        text, op = Text(op + text.text, text.quoted, text.pos), "="
    return (NEGATED[op] if node.negated else op), [text]


def _one_bare(value: ListValue) -> bool:
    return len(value.items) == 1 and not value.items[0].quoted


def display(node: FilterNode) -> str:
    """The value as Sentry's number errors show it: `>abc`, or a list's repr."""
    if isinstance(node.value, ListValue):
        return repr([item.text for item in node.value.items])
    return (node.op if node.op not in ("", "=", "!=") else "") + node.value.text


def _finish(op: str, positive: exp.Expression) -> exp.Expression:
    return sql.not_(positive) if op in NEGATIVE else positive


# ---- the kinds


def string_condition(op: str, items: list[Text], some: Some) -> exp.Expression:
    exact = tuple(
        dict.fromkeys(
            values.exact(i.text) for i in items if i.text and not values.is_wildcard(i.text)
        )
    )
    patterns = tuple(values.like_pattern(i.text) for i in items if values.is_wildcard(i.text))
    parts: list[exp.Expression] = []
    if exact or patterns:
        parts.append(some(Match(exact, patterns)))
    if any(i.text == "" for i in items):
        parts.append(sql.not_(some(Match())))
    return _finish(op, sql.any_of(*parts))


def checked_condition(
    op: str, items: list[Text], some: Some, key: str, parse_value: Callable[[str, str], str]
) -> exp.Expression:
    """UUID and IPv4 values: no wildcards, each value validated and normalised."""
    if any(values.is_wildcard(i.text) for i in items):
        raise invalid_operator(key)
    typed = [Text(parse_value(i.text, key) if i.text else "") for i in items]
    return string_condition(op, typed, some)


def _number_literal(value: Decimal) -> exp.Literal:
    return exp.Literal.number(format(value.normalize(), "f"))


def numeric_condition(op: str, numbers: list[Decimal], value: exp.Expression) -> exp.Expression:
    if op in ("IN", "NOT IN"):
        member = exp.In(this=value, expressions=[_number_literal(n) for n in numbers])
        return _finish(op, sql.true_or_false(member))
    return sql.true_or_false(COMPARISONS[op](this=value, expression=_number_literal(numbers[0])))


def _numbers(node: FilterNode, field: Field, key: str, items: list[Text]) -> list[Decimal]:
    parse_one = values.seconds if field.kind == "duration" else values.number
    return [parse_one(item.text, key, display(node)) for item in items]


# ---- one filter over the replays (either source) or over one click row


class Target:
    """How leaves reach values: per replay over one source, or per click row."""

    def __init__(
        self, source: Source | None, click: Accessor | None = None, viewer: int | None = None
    ) -> None:
        self.source = source
        self.click = click
        self.viewer = viewer  # the requesting user: `viewed_by_me` means viewed by this id

    def some(self, field: Field, key: str) -> Some:
        if self.click is not None:
            if field.click is None:
                raise SearchError(f"Unsupported search field: {key}")
            on_click, click = field.click, self.click
            return lambda match: on_click(click, match)
        assert field.values is not None
        return field.values.summary if self.source == "summary" else field.values.raw

    def value(self, field: Field) -> exp.Expression:
        build = field.summary if self.source == "summary" else field.raw
        assert build is not None
        return build()

    def clicks(self, condition: Callable[[Accessor], exp.Expression]) -> exp.Expression:
        if self.click is not None:
            return sql.true_or_false(condition(self.click))
        summary, raw = some_click(condition)
        return summary if self.source == "summary" else raw


def filter_condition(node: FilterNode, target: Target) -> exp.Expression:
    field = resolve(node.key)
    key = key_label(node.key)
    if target.click is not None and field.kind not in ("string", "selector"):
        raise SearchError(f"Unsupported search field: {key}")
    op, items = operator_and_items(node, field)
    if op not in field.operators:
        raise invalid_operator(key)
    handler = FILTERS.get(field.kind)
    if handler is None:  # a field registered with a kind the compiler was never taught
        raise NotImplementedError(f"no search condition for fields of kind {field.kind!r}")
    return handler(Term(node, field, key, op, items), target)


@dataclass(frozen=True)
class Term:
    """One filter, resolved: its field, the key as written, and its checked operator."""

    node: FilterNode
    field: Field
    key: str
    op: str
    items: list[Text]


def _string(term: Term, target: Target) -> exp.Expression:
    return string_condition(term.op, term.items, target.some(term.field, term.key))


def _uuid(term: Term, target: Target) -> exp.Expression:
    some = target.some(term.field, term.key)
    return checked_condition(term.op, term.items, some, term.key, values.uuid_hex)


def _ipv4(term: Term, target: Target) -> exp.Expression:
    some = target.some(term.field, term.key)
    return checked_condition(term.op, term.items, some, term.key, values.ipv4)


def _numeric(term: Term, target: Target) -> exp.Expression:
    numbers = _numbers(term.node, term.field, term.key, term.items)
    return numeric_condition(term.op, numbers, target.value(term.field))


def _boolean(term: Term, target: Target) -> exp.Expression:
    wanted = values.boolean(term.items[0].text, term.key) != (term.op == "!=")
    value = target.value(term.field)
    return value if wanted else sql.not_(value)


def _selector(term: Term, target: Target) -> exp.Expression:
    return selector_filter(term.op, term.items[0].text, term.field, target)


def _viewed(term: Term, target: Target) -> exp.Expression:
    return viewed_condition(term.op, term.items, term.field, term.key, target)


# Field kind -> its filter's condition; a kind missing here is refused, never guessed.
FILTERS: dict[str, Callable[[Term, Target], exp.Expression]] = {
    "string": _string,
    "uuid": _uuid,
    "ipv4": _ipv4,
    "number": _numeric,
    "duration": _numeric,
    "boolean": _boolean,
    "selector": _selector,
    "viewed_by_id": _viewed,
    "viewed_by_me": _viewed,
}


def selector_filter(op: str, text: str, field: Field, target: Target) -> exp.Expression:
    condition = selector_condition(text)
    if condition is None:
        return exp.false()
    flag = field.click_flag

    def on_click(click: Accessor) -> exp.Expression:
        matched = condition(click)
        return sql.all_of(matched, sql.true_or_false(click(flag))) if flag else matched

    return _finish(op, target.clicks(on_click))


def viewed_condition(
    op: str, items: list[Text], field: Field, key: str, target: Target
) -> exp.Expression:
    """Over the stored views: `viewed_by_me:true` is `viewed_by_id:<me>`, false
    its negation (rewritten at any depth, not only at the top level as Sentry does)."""
    if target.source is None:
        raise SearchError(f"Unsupported search field: {key}")
    if field.kind == "viewed_by_me":
        answer = items[0].text.lower()
        if answer not in ("true", "false"):
            raise SearchError(f"Could not parse value for `{key}`")
        ids = [target.viewer] if target.viewer is not None else []
        seen = viewed_by(ids, target.source)
        return seen if answer == "true" else sql.not_(seen)
    for item in items:
        if not re.fullmatch(r"[+-]?[0-9]{1,30}", item.text.strip()):
            raise values.could_not_parse(key, "Failed to parse int.")
    return _finish(op, viewed_by([int(i.text) for i in items], target.source))


def has_condition(node: Has, target: Target) -> exp.Expression:
    field = resolve(node.key)
    key = key_label(node.key)
    if field.kind == "selector":
        raise invalid_operator(key)
    if target.click is not None and field.click is None:
        raise SearchError(f"Unsupported search field: {key}")
    if field.kind in ("number", "duration"):
        raise values.could_not_parse(key, "Failed to parse float.")
    if field.kind not in ("string", "uuid", "ipv4"):
        raise invalid_operator(key)
    present = target.some(field, key)(Match())
    return sql.not_(present) if node.negated else present


def free_text_condition(node: FreeText, target: Target) -> exp.Expression:
    if target.click is not None:
        raise SearchError("Unsupported search field: message")
    match = Match(patterns=(values.contains_pattern(node.text),))
    fields = [lookup(name) for name in FREE_TEXT_FIELDS]
    return sql.any_of(*(target.some(f, f.name)(match) for f in fields if f is not None))


def condition(node: Node, target: Target) -> exp.Expression:
    if isinstance(node, And):
        return sql.all_of(*(condition(child, target) for child in node.children))
    if isinstance(node, Or):
        return sql.any_of(*(condition(child, target) for child in node.children))
    if isinstance(node, Has):
        return has_condition(node, target)
    if isinstance(node, FreeText):
        return free_text_condition(node, target)
    try:
        return filter_condition(node, target)
    except SearchError as error:
        if error.position is None:
            error.position = node.pos
        raise


def _compile(text: str, target: Target) -> exp.Expression:
    tree = parse(text)
    if tree is None:
        return exp.true()
    try:
        return condition(tree, target)
    except RecursionError:  # bounded by MAX_DEPTH; a backstop, never a 500
        raise SearchError("The query is too complex.") from None


def compile_replay_search(
    text: str, *, source: Source = "summary", viewer: int | None = None
) -> exp.Expression:
    """A condition selecting the replays that match `text`.

    For "summary": over the unqualified columns of the `replays` view. For "raw": over the
    raw rows, to be used with `raw_replays_query`. `viewer` is the requesting user's id
    (`viewed_by_me`; None: nobody, so `viewed_by_me:true` matches nothing).

    >>> compile_replay_search("count_errors:>2").sql("duckdb")
    'COALESCE("count_errors" > 2, FALSE)'
    """
    if source not in ("summary", "raw"):
        raise ValueError(f"unknown source {source!r}")
    return _compile(text, Target(source, viewer=viewer))


def compile_click_search(text: str) -> exp.Expression:
    """A condition over the unqualified columns of the raw `clicks` table, per click row."""
    return _compile(text, Target(None, click=lambda name: sql.col(name)))
