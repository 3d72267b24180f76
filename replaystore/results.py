"""The answer of `store.sql(...)`: one fetched Arrow table, handed out in the form asked for.

In the style of DuckDB's relation API (`.arrow()`, `.df()`, `.pl()`, `.fetchall()`), but
fetched once, when `sql` runs: an error in the query is raised by `sql` itself, and every
conversion reads the same rows. It is also a sequence of row dicts (`result[0]["n"]`,
`for row in result`), the form `store.sql` has always returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import pyarrow as pa

from replaystore.errors import MissingDependency

if TYPE_CHECKING:
    import pandas
    import polars


class SqlResult(Sequence[dict[str, Any]]):
    """Rows of one query over a store's snapshot."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._rows: list[dict[str, Any]] | None = None

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self._table.column_names)

    def arrow(self) -> pa.Table:
        """The rows as a `pyarrow.Table` (no copy)."""
        return self._table

    def df(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (needs the `pandas` extra)."""
        _require("pandas")
        return self._table.to_pandas()

    def pl(self) -> polars.DataFrame:
        """The rows as a polars DataFrame (needs the `polars` extra)."""
        polars = _require("polars")
        return polars.from_arrow(self._table)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple, as DuckDB's `fetchall`."""
        columns = [column.to_pylist() for column in self._table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row as a tuple, or None when there are no rows."""
        rows = self._table.slice(0, 1)
        return tuple(column[0].as_py() for column in rows.columns) if len(rows) else None

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every row as a dict of column name to value."""
        if self._rows is None:
            self._rows = self._table.to_pylist()
        return self._rows

    def __len__(self) -> int:
        return self._table.num_rows

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self.to_dicts()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_dicts())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SqlResult):
            return self._table.equals(other._table)
        if isinstance(other, list):
            return self.to_dicts() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking and compared by value

    def __repr__(self) -> str:
        shown = self._table.slice(0, 10).to_pylist()
        more = f", ... {len(self) - 10} more" if len(self) > 10 else ""
        return f"SqlResult({len(self)} rows, columns={self.columns}: {shown}{more})"


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise MissingDependency(
            f"{module} is not installed: pip install 'replaystore[{module}]'"
        ) from None
