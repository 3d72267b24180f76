"""Which files the process opens, through a PEP 578 audit hook (installed once, switchable).

Python-level opens (the app, fsspec blob reads, catalog reads) raise the `open` audit event;
the `os.*` events cover files created, renamed or removed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

_EVENTS = ("open", "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.symlink", "os.link")
_lock = threading.Lock()
_active: list[list[tuple[str, str]]] = []
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _active or event not in _EVENTS or not args:
        return
    path = args[0]
    if isinstance(path, int):
        return
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    if not isinstance(path, str):
        path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    with _lock:
        for seen in _active:
            seen.append((event, os.path.abspath(path)))


@contextlib.contextmanager
def file_events() -> Iterator[list[tuple[str, str]]]:
    """Collect (event, absolute path) of every file event while the block runs."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    seen: list[tuple[str, str]] = []
    with _lock:
        _active.append(seen)
    try:
        yield seen
    finally:
        with _lock:
            _active.remove(seen)


def outside(events: list[tuple[str, str]], allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """The events on paths under none of the `allowed` folders."""
    roots = tuple(os.path.join(os.path.realpath(a), "") for a in allowed)
    return [(e, p) for e, p in events if not os.path.realpath(p).startswith(roots)]
