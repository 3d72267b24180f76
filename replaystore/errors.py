"""Every exception replaystore raises, in one small module.

Each error carries the HTTP `status` it becomes; `wsgi.py` turns any `ReplayStoreError` into
`{"detail": str(error)}` with that status.
"""

from __future__ import annotations


class ReplayStoreError(Exception):
    """Base of every error a caller can provoke; never a server fault."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class IngestError(ReplayStoreError):
    """A batch could not be ingested; names the item and field. Nothing was written."""

    def __init__(
        self,
        detail: str,
        *,
        item: str | None = None,
        field: str | None = None,
        status: int = 400,
    ) -> None:
        super().__init__(detail)
        self.item = item
        self.field = field
        self.status = status  # 413 for an envelope past a size limit


class SearchError(ReplayStoreError):
    """A search query string could not be parsed or compiled (always a 400)."""

    def __init__(self, detail: str, *, position: int | None = None) -> None:
        super().__init__(detail)
        self.position = position


class QueryError(ReplayStoreError):
    """A question the query stage cannot answer as asked (a malformed tag key, an unknown
    sort): always a 400. The query stage raises this, never `ApiError`."""


class ApiError(ReplayStoreError):
    """A request was refused; `status` says how (400, 401, 403, 404, 405, 413, 503)."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.status = status


class QueryLimitError(ReplayStoreError):
    """A query ran past the engine's time or memory cap: the request asked for too much."""

    status = 503


class NotFound(ApiError):
    def __init__(self, detail: str = "The requested resource does not exist") -> None:
        super().__init__(detail, 404)


class CatalogError(ReplayStoreError):
    """An organization, project or token operation was refused (bad slug, duplicate id...)."""


class SqlError(ReplayStoreError):
    """`store.sql` / `replaystore sql` was given a query DuckDB refused (syntax, unknown
    column, wrong parameters...); the detail is DuckDB's own message."""


class StaleSnapshot(ReplayStoreError):
    """A Python store's pinned snapshot lost files to maintenance (past the writer's file
    retention): call `store.refresh()` and ask again."""

    status = 409


class StoreClosed(ReplayStoreError):
    """A method was called on a store after `close()` (or after its `with` block)."""


class MissingDependency(ReplayStoreError, ImportError):
    """An optional extra (pandas, polars) is needed for this call and is not installed."""


class EngineError(ReplayStoreError):
    """A query engine was misconfigured or named wrongly (`--engine`, a dialect, a cluster)."""
