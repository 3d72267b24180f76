"""The search query tree: frozen dataclasses, each with its source position.

`str(node)` gives a canonical query text that parses back to an equal tree (positions are
not compared). Values stay text here: what a value means (number, duration, UUID...) is
decided per field by the compiler with the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

KeyKind = Literal["plain", "quoted", "tag"]


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Key:
    """A filter key: `name`, `"name"` or `tags[name]`."""

    name: str
    kind: KeyKind = "plain"
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        if self.kind == "tag":
            return f"tags[{self.name}]"
        return f'"{self.name}"' if self.kind == "quoted" else self.name


@dataclass(frozen=True)
class Text:
    """One value as written, with `\\"` already unescaped; `quoted` if it was in quotes."""

    text: str
    quoted: bool = False
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return _quote(self.text) if self.quoted else self.text.replace('"', '\\"')


@dataclass(frozen=True)
class ListValue:
    """`[a, "b c"]`: the IN form of a filter."""

    items: tuple[Text, ...]
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return "[" + ", ".join(str(item) for item in self.items) + "]"


Value = Text | ListValue


@dataclass(frozen=True)
class Filter:
    """`[!]key:[op]value`; `op` is the comparison operator as typed ("" when none)."""

    key: Key
    op: str
    value: Value
    negated: bool = False
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{'!' if self.negated else ''}{self.key}:{self.op}{self.value}"


@dataclass(frozen=True)
class Has:
    """`has:key` (some non-empty value) or `!has:key` (none)."""

    key: Key
    negated: bool = False
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{'!' if self.negated else ''}has:{self.key}"


@dataclass(frozen=True)
class FreeText:
    """A bare word or a quoted phrase: a substring search."""

    text: str
    quoted: bool = False
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return _quote(self.text) if self.quoted else self.text


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return " AND ".join(f"({c})" if isinstance(c, Or) else str(c) for c in self.children)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return " OR ".join(str(c) for c in self.children)


Leaf = Filter | Has | FreeText
Node = Filter | Has | FreeText | And | Or
