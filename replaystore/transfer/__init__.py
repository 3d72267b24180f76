"""Data in and out of a store: `import_from` a Replays API server, `export_jsonl`,
`export_parquet`."""

from replaystore.transfer.client import TransferError
from replaystore.transfer.export import ExportError, export_jsonl, export_parquet
from replaystore.transfer.importer import ImportResult, import_from

__all__ = [
    "ExportError",
    "ImportResult",
    "TransferError",
    "export_jsonl",
    "export_parquet",
    "import_from",
]
