"""replaystore: Sentry session replays as partitioned Parquet, queried with embedded DuckDB.

>>> import replaystore
>>> store = replaystore.open("replays-data")          # doctest: +SKIP
>>> store.ingest_files(["segment.envelope"])          # doctest: +SKIP
>>> store.connect().sql("SELECT count(*) FROM replays").fetchall()  # doctest: +SKIP
"""

from __future__ import annotations

from replaystore.errors import (
    ApiError,
    CatalogError,
    IngestError,
    NotFound,
    ReplayStoreError,
    SearchError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from replaystore.facade import ReplayStore, open


def __getattr__(name: str):
    # The facade pulls in DuckDB, deltalake and the ingest stack: load it on first use only.
    if name in ("ReplayStore", "open"):
        from replaystore import facade

        return getattr(facade, name)
    raise AttributeError(f"module 'replaystore' has no attribute {name!r}")


__all__ = [
    "ApiError",
    "CatalogError",
    "IngestError",
    "NotFound",
    "ReplayStore",
    "ReplayStoreError",
    "SearchError",
    "open",
]
__version__ = "0.1.0"
