"""Hostile strings: SQL injection, path traversal, and values that break naive parsers.

Shared by the CI tests and `scripts/fuzz_long.py`. Each string is sent as-is (percent-encoded
on the wire) in every parameter and path segment.
"""

from __future__ import annotations

SQL_INJECTION: tuple[str, ...] = (
    "'",
    '"',
    "' OR '1'='1",
    "' OR 1=1 --",
    '" OR ""="',
    "1; DROP TABLE replays; --",
    "'; DROP TABLE segments; --",
    "x'); DELETE FROM segments; --",
    "1 UNION SELECT * FROM segments",
    "' UNION SELECT user_email FROM segments --",
    "-1 OR 1=1",
    "1) OR (1=1",
    "`; ATTACH '/tmp/evil.db' AS evil; --",
    "'; COPY segments TO '/tmp/leak.csv'; --",
    "'; INSTALL httpfs; LOAD httpfs; --",
    "' || (SELECT current_setting('memory_limit')) || '",
    "read_parquet('/etc/passwd')",
    "'; SELECT * FROM read_text('/etc/passwd'); --",
    "*/ SELECT 1 /*",
    "$$; SELECT 1; $$",
    "\\'; SELECT 1; --",
    "%' AND 1=1 AND '%'='",
    "user.email:' OR 1=1 --",
    'user.email:"\\" OR 1=1 --"',
    "tags[x'] OR 1=1 --]:y",
    "count_errors:>0) OR (1=1",
    "id:[', ']",
    "replay_id",
    "started_at; DROP TABLE replays",
    "-started_at, (SELECT 1)",
    "0:0:0; DROP TABLE replays",
    "1e309",
    "-9223372036854775809",
    "99999999999999999999999999999",
    "NaN",
)

PATH_TRAVERSAL: tuple[str, ...] = (
    "..",
    "../..",
    "../../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f",
    "....//....//etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\win.ini",
    "~/.ssh/id_rsa",
    "file:///etc/passwd",
    "s3://bucket/key",
    "memory://x",
    "blobs/1/../../manifest.json",
    "../manifest.json",
    "../../catalog.json",
    "00000000000000000000000000000001/../../..",
    "\x00",
    "a\x00b",
    "%00",
    "\u202e",
    "\ud800",
    "CON",
)

ODD: tuple[str, ...] = (
    "",
    " ",
    "\t\n",
    "-",
    "*",
    "%",
    "\\",
    "[]",
    "{}",
    "()",
    "((((((((((",
    "null",
    "true",
    "0",
    "-1",
    "2147483648",
    "1.5",
    "１２",  # full-width digits: str.isdigit() says yes, int() agrees, regexes may not
    "٣",
    "é" * 3,
    "\U0001f600",
    "\ufeff1",
    "a" * 5000,
)

CORPUS: tuple[str, ...] = SQL_INJECTION + PATH_TRAVERSAL + ODD
