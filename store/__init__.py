"""The customer store: the only package that talks to DuckDB."""

from store.db import Store, StoreBusyError, StoreError, connect, open_store, utcnow

__all__ = ["Store", "StoreBusyError", "StoreError", "connect", "open_store", "utcnow"]
