"""replaystore: Sentry session replays as partitioned Parquet, queried with embedded DuckDB.

>>> import replaystore
>>> store = replaystore.open("replays-data")          # doctest: +SKIP
>>> store.ingest_files("segments/")                   # doctest: +SKIP
>>> store.sql("SELECT count(*) AS n FROM replays").df()  # doctest: +SKIP

The guide is docs/python.md.
"""

from __future__ import annotations

from replaystore.errors import (
    ApiError,
    CatalogError,
    IngestError,
    MissingDependency,
    NotFound,
    QueryLimitError,
    ReplayStoreError,
    SearchError,
    SqlError,
    StaleSnapshot,
    StoreClosed,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from replaystore.facade import ReplayStore, open
    from replaystore.results import SqlResult
    from replaystore.storage.lock import StoreLocked
    from replaystore.storage.store import StoreNotFound

# The facade pulls in DuckDB, deltalake and the ingest stack: load it on first use only.
_LAZY = {
    "ReplayStore": "replaystore.facade",
    "open": "replaystore.facade",
    "SqlResult": "replaystore.results",
    "StoreLocked": "replaystore.storage.lock",
    "StoreNotFound": "replaystore.storage.store",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'replaystore' has no attribute {name!r}")


__all__ = [
    "ApiError",
    "CatalogError",
    "IngestError",
    "MissingDependency",
    "NotFound",
    "QueryLimitError",
    "ReplayStore",
    "ReplayStoreError",
    "SearchError",
    "SqlError",
    "SqlResult",
    "StaleSnapshot",
    "StoreClosed",
    "StoreLocked",
    "StoreNotFound",
    "open",
]
__version__ = "0.1.0"
