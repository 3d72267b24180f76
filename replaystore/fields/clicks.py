"""The attributes of a clicked element, once: stored column, search name, response key, CSS
selector names, and their part in the selector ranking."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class ClickAttribute:
    """One attribute of a clicked element, as stored on a click row.

    `search` and `aliases` are its `click.*` search names; `response` its key in a replay's
    `clicks` field; `css` the selector attribute names that match it (`[alt=x]`); `display`
    its name in a ranking row's `dom_element` text (None: tag, id and class have their own
    syntax); `in_element` says it is part of the ranking's group key.
    """

    column: str
    search: str
    doc: str
    response: str
    aliases: tuple[str, ...] = ()
    css: tuple[str, ...] = ()
    display: str | None = None
    in_element: bool = True
    is_list: bool = False

    @property
    def type(self) -> pa.DataType:
        return pa.list_(pa.string()) if self.is_list else pa.string()


# In stored order (the click rows', the summary's click structs' and the ranking key's).
ATTRIBUTES: tuple[ClickAttribute, ...] = (
    ClickAttribute("tag", "click.tag", "Tag name of a clicked element.", "click.tag"),
    ClickAttribute("id", "click.id", "id of a clicked element.", "click.id"),
    ClickAttribute(
        "class", "click.class", "A class of a clicked element.", "click.classes", is_list=True
    ),
    ClickAttribute(
        "text",
        "click.textContent",
        "Text of a clicked element.",
        "click.text",
        aliases=("click_text",),
        in_element=False,
    ),
    ClickAttribute(
        "role",
        "click.role",
        "role of a clicked element.",
        "click.role",
        css=("role",),
        display="role",
    ),
    ClickAttribute(
        "alt", "click.alt", "alt of a clicked element.", "click.alt", css=("alt",), display="alt"
    ),
    ClickAttribute(
        "testid",
        "click.testid",
        "data-testid of a clicked element.",
        "click.testid",
        css=("data-testid", "data-test-id"),
        display="testid",
    ),
    ClickAttribute(
        "aria_label",
        "click.label",
        "aria-label of a clicked element.",
        "click.label",
        aliases=("click_aria_label",),
        css=("aria-label",),
        display="aria",
    ),
    ClickAttribute(
        "title",
        "click.title",
        "title of a clicked element.",
        "click.title",
        css=("title",),
        display="title",
    ),
    ClickAttribute(
        "component_name",
        "click.component_name",
        "data-sentry-component of a clicked element.",
        "click.component_name",
        css=("data-sentry-component",),
        display="component_name",
    ),
)

# The flags a click row carries beside its attributes (dead and rage clicks).
FLAGS = ("is_dead", "is_rage")

COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple((a.column, a.type) for a in ATTRIBUTES)
# The ranking's group key (with the project), in ATTRIBUTES order.
ELEMENT = tuple(a.column for a in ATTRIBUTES if a.in_element)
# Selector attribute name -> column (`[data-testid=x]` matches `testid`).
CSS_ATTRIBUTES = {name: a.column for a in ATTRIBUTES for name in a.css}
# Response key -> column, in the response's (alphabetical) key order.
RESPONSE_KEYS = tuple(sorted((a.response, a.column) for a in ATTRIBUTES))
# `dom_element`'s display name -> column, in ATTRIBUTES order.
DISPLAYED = tuple((a.display, a.column) for a in ATTRIBUTES if a.display is not None)
