"""CSS selectors (`click.selector` etc.) -> a condition on one click.

Parsed with cssselect. A comma list is ORed; each alternative is one compound selector of a
tag name, `#id`, `.class`es and the allowed `[attribute=value]`s, all matched exactly. A
selector cssselect cannot parse matches nothing (Sentry's behaviour, for `=` and `!=` alike).
"""

from __future__ import annotations

from collections.abc import Callable

import cssselect
from cssselect import parser as css
from sqlglot import exp

from replaystore.errors import SearchError
from replaystore.fields import sql
from replaystore.fields.clicks import CSS_ATTRIBUTES
from replaystore.fields.sources import Accessor, ClickCondition

NESTED = "Nested selectors are not supported."
PSEUDO_ELEMENT = "Pseudo-elements are not supported."
UNSUPPORTED = "Only attribute, class, id, and tag name selectors are supported."
BAD_ATTRIBUTE = (
    "Invalid attribute specified. Only alt, aria-label, role, data-testid, data-test-id, "
    "data-sentry-component, and title are supported."
)
BAD_OPERATOR = "Only the '=' operator is supported."


def selector_condition(text: str) -> ClickCondition | None:
    """The condition on a click, or None for a selector with a syntax error."""
    try:
        selectors = cssselect.parse(text)
    except cssselect.SelectorSyntaxError:
        return None
    alternatives = [_compound(selector) for selector in selectors]
    if not alternatives:
        return None

    def condition(click: Accessor) -> exp.Expression:
        return sql.any_of(*(sql.true_or_false(alt(click)) for alt in alternatives))

    return condition


def _compound(selector: css.Selector) -> ClickCondition:
    if selector.pseudo_element is not None:
        raise SearchError(PSEUDO_ELEMENT)
    equals: list[tuple[str, str]] = []
    classes: list[str] = []
    node = selector.parsed_tree
    while not isinstance(node, css.Element):
        node = _part(node, equals, classes)
    if node.element not in (None, "*"):
        equals.append(("tag", node.element))
    return _click_condition(tuple(equals), tuple(classes))


def _part(node: object, equals: list[tuple[str, str]], classes: list[str]) -> object:
    """Record one simple selector of a compound and return the rest of it."""
    if isinstance(node, css.CombinedSelector):
        raise SearchError(NESTED)
    if isinstance(node, css.Hash):
        equals.append(("id", node.id))
        return node.selector
    if isinstance(node, css.Class):
        classes.append(node.class_name)
        return node.selector
    if isinstance(node, css.Attrib):
        if node.operator != "=":
            raise SearchError(BAD_OPERATOR)
        if node.namespace or node.attrib not in CSS_ATTRIBUTES:
            raise SearchError(BAD_ATTRIBUTE)
        value = node.value.value if node.value is not None else ""
        equals.append((CSS_ATTRIBUTES[node.attrib], str(value)))
        return node.selector
    raise SearchError(UNSUPPORTED)


def _click_condition(
    equals: tuple[tuple[str, str], ...], classes: tuple[str, ...]
) -> Callable[[Accessor], exp.Expression]:
    def condition(click: Accessor) -> exp.Expression:
        parts: list[exp.Expression] = [
            exp.EQ(this=click(column), expression=sql.string(value)) for column, value in equals
        ]
        if classes:
            parts.append(exp.ArrayContainsAll(this=click("class"), expression=sql.strings(classes)))
        return sql.all_of(*parts) if parts else exp.true()

    return condition
