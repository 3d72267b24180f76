"""The import client's pure parts: Link cursors, Retry-After, splitting a download."""

from __future__ import annotations

import email.utils

import orjson
import pytest

from replaystore.transfer.client import MAX_WAIT, TransferError, next_cursor, retry_after
from replaystore.transfer.split import split_array

LINK = (
    '<http://h/api/0/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
    '<http://h/api/0/x/?cursor=0:100:0>; rel="next"; results="{more}"; cursor="0:100:0"'
)


@pytest.mark.parametrize(
    ("link", "cursor"),
    [(LINK.format(more="true"), "0:100:0"), (LINK.format(more="false"), None), (None, None)],
    ids=["more", "last", "none"],
)
def test_next_cursor_follows_rel_next_only_with_results(link, cursor):
    assert next_cursor(link) == cursor


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (email.utils.formatdate(1_000_007, usegmt=True), 7.0),
        (email.utils.formatdate(999_000, usegmt=True), 0.0),  # in the past: go now
        ("100000", MAX_WAIT),
        ("soon", None),
        (None, None),
    ],
    ids=["seconds", "http-date", "past-date", "capped", "garbage", "absent"],
)
def test_retry_after_reads_seconds_and_http_dates(value, seconds):
    assert retry_after(value, now=1_000_000.0) == seconds


def test_split_keeps_each_segments_bytes_exactly():
    segments = [b'[{"a": "]}[{\\"", "b": [1, 2.50]}]', b"[]", b'[ {"x":{"y":[["z"]]}} ]']
    body = b"[" + b",".join(segments) + b"]"
    assert split_array(body) == segments
    assert [orjson.loads(s) for s in split_array(body)] == orjson.loads(body)
    assert split_array(b"[]") == []


@pytest.mark.parametrize("body", [b'{"detail": "x"}', b"[[1, 2]", b"nope"])
def test_split_refuses_what_is_not_an_array_of_arrays(body):
    with pytest.raises(TransferError):
        split_array(body)
