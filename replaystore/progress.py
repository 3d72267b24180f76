"""Progress bars for the long commands (ingest, import, export, demo build, benchmark data).

One helper so every command shows progress the same way, on stderr, drawn with `rich`:

    with progress("ingest", total=len(files), unit="files") as bar:
        for chunk in chunks:
            ...
            bar.advance(len(chunk))

On a terminal the bar redraws in place; elsewhere (a pipe, a CI log) rich prints it once, when
the work ends, as one summary line (`ingest ━━━━ 593/593 files 0:00:04`). A command that fails
prints no bar, only its `error:` line. `REPLAYSTORE_PROGRESS=0` turns every bar off.

The library itself never draws: its long calls take a plain callback (`on_progress`), and the
CLI passes `bar.advance`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

ENV_SWITCH = "REPLAYSTORE_PROGRESS"


class Bar:
    """One task of a progress display; `advance` and `set_total` are safe from any thread."""

    def __init__(self, display=None, task=None) -> None:
        self._display = display
        self._task = task

    def advance(self, amount: int = 1) -> None:
        """Count `amount` more units done."""
        if self._display is not None:
            self._display.advance(self._task, amount)

    def set_completed(self, done: int) -> None:
        """Set how many units are done (for callbacks that report a running count)."""
        if self._display is not None:
            self._display.update(self._task, completed=done)

    def set_total(self, total: int | None) -> None:
        """Set (or correct) how many units there are; None draws an open-ended bar."""
        if self._display is not None:
            self._display.update(self._task, total=total)

    def set_description(self, description: str) -> None:
        """Change the label in front of the bar (e.g. the stage a command is in)."""
        if self._display is not None:
            self._display.update(self._task, description=description)


def enabled() -> bool:
    """False when REPLAYSTORE_PROGRESS is 0/false/no/off."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


@contextmanager
def progress(description: str, total: int | None = None, *, unit: str = "") -> Iterator[Bar]:
    """A progress bar on stderr for the duration of the `with` block."""
    if not enabled():
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    display = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = display.add_task(description, total=total)
    with display:
        try:
            yield Bar(display, task)
        except BaseException:
            # A failed command prints its one `error:` line, not a half-done bar.
            display.update(task, visible=False)
            raise
