"""Search query text -> node tree (grammar in `grammar.md`), or `SearchError`.

A hand-written PEG descent: each rule saves the position, tries its alternatives and restores
on failure. Errors the grammar itself cannot decide (an empty value, a stray quote, an empty
list slot) are collected while parsing and raised only if the whole query parses, so a branch
that is later abandoned never reports one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from replaystore.errors import SearchError
from replaystore.search.nodes import (
    And,
    Filter,
    FreeText,
    Has,
    Key,
    ListValue,
    Node,
    Or,
    Text,
    Value,
)

MAX_LENGTH = 10_000
MAX_DEPTH = 64

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_XNAME = re.compile(r"[A-Za-z0-9_.:\-]+")
_TAG_KEY = re.compile(r"tags\[([A-Za-z0-9_.:\-]+)(?: *, *(?:string|number))?\]")
_QUOTED_KEY = re.compile(r'"([A-Za-z0-9_.:\-]+)"')
_OP = re.compile(r">=|<=|>|<|=|!=")
_BOOL_OP = re.compile(r"(OR|AND)(?=[\t\n )]|\Z)", re.IGNORECASE)
_BARE = re.compile(r"[^()\t\n ]*")
_WORD_CHARS = re.compile(r"[^()\n ]+")
_BARE_ITEM = re.compile(r"[^(), ]+")
_LIST_SEP = re.compile(r" *, *")
_COMMA_NEXT = re.compile(r" *,")
_UNESCAPED_QUOTE = re.compile(r'(?<!\\)"')
_END = frozenset("\t\n )")


@dataclass(frozen=True)
class _Op:
    """An `AND`/`OR` keyword in a flat term sequence."""

    word: str
    pos: int


def column(text: str, pos: int) -> int:
    """1-based column of `pos` within its line."""
    return pos - (text.rfind("\n", 0, pos) + 1) + 1


def parse_error(text: str, pos: int) -> SearchError:
    """Sentry's unconsumed-input message, its context reproduced literally."""
    n = column(text, pos)
    context = text[max(0, n - 5) : n] + text[n : n + 5]
    return SearchError(
        f"Parse error at '{context}' (column {n}). This is commonly caused by unmatched "
        "parentheses. Enclose any text in double quotes.",
        position=pos,
    )


def parse(text: str) -> Node | None:
    """Parse a query; None for an empty one (only spaces or empty quoted phrases)."""
    if len(text) > MAX_LENGTH:
        raise SearchError(
            f"Query is too long: {len(text)} characters, at most {MAX_LENGTH} are allowed.",
            position=MAX_LENGTH,
        )
    parser = _Parser(text)
    items = parser.sequence()
    if parser.pos != len(text):
        raise parse_error(text, parser.pos)
    if parser.errors:
        raise parser.errors[0]
    return fold(text, items)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.errors: list[SearchError] = []

    # ---- helpers

    def _peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def _match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def _skip_spaces(self) -> None:
        while self._peek() == " ":
            self.pos += 1

    def _at_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] in _END

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SearchError(
                f"Parentheses are nested too deeply (more than {MAX_DEPTH} levels) "
                f"at column {column(self.text, self.pos)}.",
                position=self.pos,
            )

    def _fail(self, message: str, pos: int) -> None:
        self.errors.append(SearchError(message, position=pos))

    def _restore(self, pos: int, errors: int) -> None:
        self.pos = pos
        del self.errors[errors:]

    # ---- sequences and groups

    def sequence(self) -> list[Node | _Op]:
        """Seq <- (Item SP*)*: stops at `)`, at the end, or at what no item can start."""
        items: list[Node | _Op] = []
        self._skip_spaces()
        while self.pos < len(self.text) and self._peek() != ")":
            start = self.pos
            item = self.item()
            if self.pos == start:
                break
            if item is not None:
                items.append(item)
            self._skip_spaces()
        return items

    def item(self) -> Node | _Op | None:
        start = self.pos
        found = self._match(_BOOL_OP)
        if found:
            return _Op(found.group(1).upper(), start)
        if self._peek() == "(":
            group = self.group()
            if self.pos != start:
                return group
        node = self.filter()
        if node is not None:
            return node
        return self.free_text()

    def group(self) -> Node | None:
        start, errors = self.pos, len(self.errors)
        self._enter()
        self.pos += 1
        items = self.sequence()
        self.depth -= 1
        if self._peek() != ")":
            self._restore(start, errors)
            return None
        self.pos += 1
        if not items and self.text[start + 1 : self.pos - 1].strip(" ") == "":
            self._fail(f"Empty parentheses at column {column(self.text, start)}.", start)
            return None
        try:
            return fold(self.text, items)
        except SearchError as error:
            self.errors.append(error)
            return None

    # ---- filters

    def filter(self) -> Node | None:
        start, errors = self.pos, len(self.errors)
        negated = self._peek() == "!"
        if negated:
            self.pos += 1
        if self.text.startswith("has:", self.pos):
            return self._has(start, negated)
        if self.text.startswith("is:", self.pos):
            return self._is(start, negated)
        key = self.key()
        if key is None or self._peek() != ":":
            self._restore(start, errors)
            return None
        self.pos += 1
        if self._peek() == "[":
            items = self.list_value()
            if items is not None:
                return Filter(key, "", items, negated, pos=start)
        op_match = self._match(_OP)
        op = op_match.group(0) if op_match else ""
        value = self.value()
        if not value.quoted and value.text == "":
            self._fail(f"Empty string after '{key}:'", start)
        return Filter(key, op, value, negated, pos=start)

    def _has(self, start: int, negated: bool) -> Node:
        self.pos += len("has:")
        key = self.key()
        if key is None:
            value = self.value()
            self._fail(
                'Invalid format for "has" search: was expecting a field or tag instead',
                value.pos,
            )
            return Has(Key(value.text), negated, pos=start)
        return Has(key, negated, pos=start)

    def _is(self, start: int, negated: bool) -> Node:
        self.pos += len("is:")
        value = self.value()
        self._fail('"is:" queries are not supported in this search.', start)
        return Filter(Key("is"), "", value, negated, pos=start)

    def key(self) -> Key | None:
        start = self.pos
        for pattern, kind in ((_TAG_KEY, "tag"), (_NAME, "plain"), (_QUOTED_KEY, "quoted")):
            found = self._match(pattern)
            if found:
                name = found.group(1) if found.groups() else found.group(0)
                return Key(name, kind, pos=start)  # type: ignore[arg-type]
        return None

    # ---- values

    def value(self) -> Text:
        """Value <- Quoted / Bare."""
        quoted = self.quoted()
        if quoted is not None:
            return quoted
        start = self.pos
        found = self._match(_BARE)
        raw = found.group(0) if found else ""
        return self._bare(raw, start)

    def _bare(self, raw: str, start: int) -> Text:
        if raw.startswith('"') or _UNESCAPED_QUOTE.search(raw):
            self._fail(f"Invalid quote at '{raw}': quotes must enclose text or be escaped.", start)
        return Text(raw.replace('\\"', '"'), False, pos=start)

    def quoted(self) -> Text | None:
        """Quoted <- '"' ('\\"' / [^"])* '"'."""
        if self._peek() != '"':
            return None
        start = self.pos
        i = start + 1
        chars: list[str] = []
        while i < len(self.text):
            if self.text.startswith('\\"', i):
                chars.append('"')
                i += 2
            elif self.text[i] == '"':
                self.pos = i + 1
                return Text("".join(chars), True, pos=start)
            else:
                chars.append(self.text[i])
                i += 1
        return None

    def list_value(self) -> ListValue | None:
        """List <- "[" Item (SP* "," SP* Item)* "]" End; None (nothing consumed) if not one."""
        start, errors = self.pos, len(self.errors)
        self.pos += 1
        items: list[Text] = []
        while True:
            item = self._list_item()
            if item is None:
                self._restore(start, errors)
                return None
            items.append(item)
            if self._peek() == "]":
                self.pos += 1
                if self._at_end():
                    return ListValue(tuple(items), pos=start)
                self._restore(start, errors)
                return None
            if not self._match(_LIST_SEP):
                self._restore(start, errors)
                return None
            if self._peek() == "]":
                self._fail("Lists should not have empty values", self.pos)
                self.pos += 1
                if self._at_end():
                    return ListValue(tuple(items), pos=start)
                self._restore(start, errors)
                return None

    def _list_item(self) -> Text | None:
        quoted = self.quoted()
        if quoted is not None:
            return quoted
        found = _BARE_ITEM.match(self.text, self.pos)
        if not found:
            return None
        run = found.group(0)
        rest = self.text[found.end() :]
        # The item ends before the last `]` of the run, unless the run is followed by a comma.
        if _COMMA_NEXT.match(rest):
            end = len(run)
        else:
            end = run.rfind("]")
            if end <= 0:
                return None
        start = self.pos
        self.pos += end
        return self._bare(run[:end], start)

    # ---- free text

    def free_text(self) -> Node | None:
        start = self.pos
        quoted = self.quoted()
        if quoted is not None:
            return FreeText(quoted.text, True, pos=start) if quoted.text else None
        if not self._word():
            return None
        return FreeText(self.text[start : self.pos], False, pos=start)

    def _word(self) -> bool:
        """Word <- (WordParens / WordChars)+, each glued chunk not starting a filter."""
        start = self.pos
        while self.pos < len(self.text):
            if self.pos != start and self._starts_filter():
                break
            if self._peek() == "(":
                if not self._word_parens():
                    break
            elif not self._match(_WORD_CHARS):
                break
        return self.pos != start

    def _word_parens(self) -> bool:
        """WordParens <- "(" FreeText? ")", the inner words not starting a filter or AND/OR."""
        start, errors = self.pos, len(self.errors)
        self._enter()
        self.pos += 1
        if self.quoted() is None:
            while self._peek() not in ("", ")"):
                if self._starts_filter() or _BOOL_OP.match(self.text, self.pos):
                    break
                chunk_start = self.pos
                if self._peek() == "(":
                    self._word_parens()
                else:
                    self._match(_WORD_CHARS)
                if self.pos == chunk_start:
                    break
                self._skip_spaces()
        self.depth -= 1
        if self._peek() != ")":
            self._restore(start, errors)
            return False
        self.pos += 1
        return True

    def _starts_filter(self) -> bool:
        start, errors = self.pos, len(self.errors)
        found = self.filter() is not None
        self._restore(start, errors)
        return found


def _flatten(cls: type[And] | type[Or], nodes: list[Node], pos: int) -> Node:
    children: list[Node] = []
    for node in nodes:
        children.extend(node.children if isinstance(node, cls) else (node,))
    return children[0] if len(children) == 1 else cls(tuple(children), pos=pos)


def fold(text: str, items: list[Node | _Op]) -> Node | None:
    """Flat terms and operators -> tree: AND binds tighter than OR, adjacency is AND."""
    _check_operators(text, items)
    chunks: list[list[Node]] = [[]]
    for item in items:
        if isinstance(item, _Op):
            if item.word == "OR":
                chunks.append([])
        else:
            chunks[-1].append(item)
    ands = [_flatten(And, chunk, _pos(chunk[0])) for chunk in chunks if chunk]
    if not ands:
        return None
    return _flatten(Or, ands, _pos(ands[0]))


def _pos(node: Node) -> int:
    return node.pos


def _check_operators(text: str, items: list[Node | _Op]) -> None:
    for index, item in enumerate(items):
        if not isinstance(item, _Op):
            continue
        where = f"(column {column(text, item.pos)})"
        if index == 0:
            raise SearchError(
                f"Condition is missing on the left side of '{item.word}' operator {where}.",
                position=item.pos,
            )
        if index == len(items) - 1:
            raise SearchError(
                f"Condition is missing on the right side of '{item.word}' operator {where}.",
                position=item.pos,
            )
        after = items[index + 1]
        if isinstance(after, _Op):
            raise SearchError(
                "Missing condition in between two condition operators: "
                f"'{item.word} {after.word}' {where}.",
                position=item.pos,
            )


__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Value", "column", "parse", "parse_error"]
