"""The grammar, one case a line: query -> canonical text of its tree (`str(parse(q))`)."""

from __future__ import annotations

import pytest

from replaystore.search import parse
from replaystore.search.nodes import And, FreeText, Has, Key, ListValue, Or, Text
from replaystore.search.nodes import Filter as F

CANONICAL = [
    # key:value, operators, negation
    ("a:b", "a:b"),
    ("  a:b  ", "a:b"),
    ("browser.name:Chrome", "browser.name:Chrome"),
    ("user.email:foo@example.com", "user.email:foo@example.com"),
    ("!browser.name:Chrome", "!browser.name:Chrome"),
    ("count_errors:>2", "count_errors:>2"),
    ("count_errors:>=2", "count_errors:>=2"),
    ("count_errors:<2", "count_errors:<2"),
    ("count_errors:<=2", "count_errors:<=2"),
    ("count_errors:=2", "count_errors:=2"),
    ("count_errors:!=2", "count_errors:!=2"),
    ("!count_errors:>2", "!count_errors:>2"),
    ("a:!b", "a:!b"),
    ("a:b:c", "a:b:c"),
    ("transaction:/a/:b/", "transaction:/a/:b/"),
    ("a:<>b", "a:<>b"),
    ("a:=>b", "a:=>b"),
    ("a-b_c.d:e", "a-b_c.d:e"),
    ("a:b,c", "a:b,c"),
    ("a:b]", "a:b]"),
    # quoted values and escapes
    ('a:"b c"', 'a:"b c"'),
    ('a:""', 'a:""'),
    ('a:"b\\"c"', 'a:"b\\"c"'),
    ('a:b\\"c', 'a:b\\"c'),
    ('a:"(b)"', 'a:"(b)"'),
    ('a:"b:c"', 'a:"b:c"'),
    ('a:"tab\there"', 'a:"tab\there"'),
    ('a:"new\nline"', 'a:"new\nline"'),
    ('a:>"b c"', 'a:>"b c"'),
    ('url:"te"st', 'url:"te" AND st'),
    ('!a:"b c"', '!a:"b c"'),
    # quoted keys and tags[key]
    ('"a.b":c', '"a.b":c'),
    ('"a:b":c', '"a:b":c'),
    ("tags[foo]:bar", "tags[foo]:bar"),
    ("tags[foo.bar:baz]:x", "tags[foo.bar:baz]:x"),
    ("tags[foo,string]:bar", "tags[foo]:bar"),
    ("tags[foo, number]:1", "tags[foo]:1"),
    ("!tags[foo]:bar", "!tags[foo]:bar"),
    ("tags[foo]:[a, b]", "tags[foo]:[a, b]"),
    # lists
    ("a:[b, c]", "a:[b, c]"),
    ("a:[b,c]", "a:[b, c]"),
    ("a:[b ,  c]", "a:[b, c]"),
    ('a:[b, "c d"]', 'a:[b, "c d"]'),
    ('a:["", b]', 'a:["", b]'),
    ("!a:[b, c]", "!a:[b, c]"),
    ("count_errors:[1, 2, 3]", "count_errors:[1, 2, 3]"),
    ("a:[[h]]", "a:[[h]]"),
    ("a:[a, [h]]", "a:[a, [h]]"),
    ("a:[a]b]", "a:[a]b]"),
    ("a:[x,,y]", "a:[x,,y]"),
    ("a:[]", "a:[]"),
    ("a:[h", "a:[h"),
    ("user.email:[a@b.c]user.email:x", "user.email:[a@b.c]user.email:x"),
    ("a:[b*, c]", "a:[b*, c]"),
    ("a:[b] c:d", "a:[b] AND c:d"),
    ("(a:[b])", "a:[b]"),
    # wildcards
    ("a:*b*", "a:*b*"),
    ("a:b\\*c", "a:b\\*c"),
    ('a:"*b c*"', 'a:"*b c*"'),
    ("has:foo*", "has:foo AND *"),
    # has / !has
    ("has:user.email", "has:user.email"),
    ("!has:user.email", "!has:user.email"),
    ("has:tags[foo]", "has:tags[foo]"),
    ('has:"a.b"', 'has:"a.b"'),
    ("HAS:foo", "HAS:foo"),
    # free text
    ("foo", "foo"),
    ("foo bar", "foo AND bar"),
    ('"foo bar"', '"foo bar"'),
    ('"foo bar" baz', '"foo bar" AND baz'),
    ('""', "None"),
    ('a:b ""', "a:b"),
    ("", "None"),
    ("   ", "None"),
    ("foo(bar)", "foo(bar)"),
    ("foo(bar)baz", "foo(bar)baz"),
    ("foo()", "foo()"),
    ("foo(a:b)", "foo AND a:b"),
    ("!foo", "!foo"),
    ("a :b", "a AND :b"),
    ('foo"bar', 'foo"bar'),
    ("*", "*"),
    ("release:a\trelease", "release:a AND \trelease"),
    ("ORder", "ORder"),
    ("ANDroid", "ANDroid"),
    # boolean operators and precedence
    ("a:b OR c:d", "a:b OR c:d"),
    ("a:b AND c:d", "a:b AND c:d"),
    ("a:b c:d", "a:b AND c:d"),
    ("a:b or c:d", "a:b OR c:d"),
    ("a:b Or c:d", "a:b OR c:d"),
    ("a:b and c:d", "a:b AND c:d"),
    ("a OR b AND c", "a OR b AND c"),
    ("a AND b OR c", "a AND b OR c"),
    ("a b OR c", "a AND b OR c"),
    ("a OR b c", "a OR b AND c"),
    ("a OR b OR c", "a OR b OR c"),
    ("(a OR b) c", "(a OR b) AND c"),
    ("a (b OR c)", "a AND (b OR c)"),
    ("a OR (b c)", "a OR b AND c"),
    ("a OR (b) c", "a OR b AND c"),
    ("((a))", "a"),
    ("(a:b)", "a:b"),
    ("( a:b )", "a:b"),
    ("(a OR b) AND (c OR d)", "(a OR b) AND (c OR d)"),
    ("((a OR b) c) OR d", "(a OR b) AND c OR d"),
    ("release:foo(bar)", "release:foo AND bar"),
    ("(a)(b)", "a AND b"),
    ("a:b(c OR d)", "a:b AND (c OR d)"),
    ("a OR(b)", "a AND OR(b)"),
    ("foo or bar", "foo OR bar"),
    # typed-looking values stay text in the tree
    ("duration:>1.5m", "duration:>1.5m"),
    ("duration:1004ms", "duration:1004ms"),
    ("count_errors:5k", "count_errors:5k"),
    ("count_errors:-5", "count_errors:-5"),
    ("id:c3a6a5a7-4f29-4b6b-8a6a-f46e2b7d1c2a", "id:c3a6a5a7-4f29-4b6b-8a6a-f46e2b7d1c2a"),
    ("user.ip:127.0.0.1", "user.ip:127.0.0.1"),
    ("is_archived:true", "is_archived:true"),
    ("click.selector:div#a.b", "click.selector:div#a.b"),
    ("click.selector:\"div[role='button']\"", "click.selector:\"div[role='button']\""),
]


@pytest.mark.parametrize(("query", "expected"), CANONICAL, ids=[c[0] for c in CANONICAL])
def test_canonical_text(query: str, expected: str) -> None:
    assert str(parse(query)) == expected


@pytest.mark.parametrize(("query", "_"), CANONICAL, ids=[c[0] for c in CANONICAL])
def test_canonical_text_reparses_to_the_same_tree(query: str, _: str) -> None:
    tree = parse(query)
    assert tree is None or parse(str(tree)) == tree


NODES = [
    ("a:b", F(Key("a"), "", Text("b"))),
    ("!a:>b", F(Key("a"), ">", Text("b"), negated=True)),
    ('"a.b":"c d"', F(Key("a.b", "quoted"), "", Text("c d", quoted=True))),
    ("tags[x]:y", F(Key("x", "tag"), "", Text("y"))),
    ('a:[b, "c"]', F(Key("a"), "", ListValue((Text("b"), Text("c", quoted=True))))),
    ("!has:a", Has(Key("a"), negated=True)),
    ('"a b"', FreeText("a b", quoted=True)),
    ("a b", And((FreeText("a"), FreeText("b")))),
    ("a OR b c", Or((FreeText("a"), And((FreeText("b"), FreeText("c")))))),
]


@pytest.mark.parametrize(("query", "node"), NODES, ids=[c[0] for c in NODES])
def test_tree(query: str, node: object) -> None:
    assert parse(query) == node


@pytest.mark.parametrize(
    ("query", "positions"),
    [("a:b c:d", [0, 4]), ("  x  (y:z)", [2, 6]), ('a "b c"', [0, 2])],
    ids=["filters", "group", "quoted"],
)
def test_positions(query: str, positions: list[int]) -> None:
    tree = parse(query)
    assert isinstance(tree, And)
    assert [child.pos for child in tree.children] == positions
