"""SQL for the quarantine's life after ingest: following archived files, and retrying rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store.db import Store
from store.text_forms import like_any, search_forms


def relocate_batch_file(store: Store, batch_id: int, new_path: str) -> int:
    """Point a batch and its quarantined rows at the file's new place (processed/ or failed/)."""
    with store.transaction():
        store.execute("UPDATE ingest_batches SET file_path = ? WHERE batch_id = ?", [new_path, batch_id])
        count = int(store.scalar("SELECT count(*) FROM quarantine WHERE batch_id = ?", [batch_id]))
        store.execute("UPDATE quarantine SET file_path = ? WHERE batch_id = ?", [new_path, batch_id])
    return count


def rows_to_retry(
    store: Store, batch_id: int | None = None, quarantine_ids: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Quarantined rows with their batch's preset, in batch and row order."""
    where, params = [], []
    if batch_id is not None:
        where.append("q.batch_id = ?")
        params.append(batch_id)
    if quarantine_ids:
        where.append(f"q.quarantine_id IN ({', '.join('?' for _ in quarantine_ids)})")
        params.extend(quarantine_ids)
    condition = f"WHERE {' AND '.join(where)}" if where else ""
    return store.rows(
        f"""SELECT q.quarantine_id, q.batch_id, q.kind, q.file_path, q.row_number, q.reason, q.raw_row,
                   json_extract_string(b.validation, '$.input.preset') AS preset
            FROM quarantine q LEFT JOIN ingest_batches b USING (batch_id)
            {condition} ORDER BY q.batch_id, q.row_number""",
        params,
    )


def delete_quarantined(store: Store, quarantine_ids: Sequence[int]) -> int:
    """Remove rows that a retry loaded or quarantined again (in its own batch); returns how many."""
    if not quarantine_ids:
        return 0
    marks = ", ".join("?" for _ in quarantine_ids)
    count = int(
        store.scalar(
            f"SELECT count(*) FROM quarantine WHERE quarantine_id IN ({marks})", list(quarantine_ids)
        )
    )
    store.execute(f"DELETE FROM quarantine WHERE quarantine_id IN ({marks})", list(quarantine_ids))
    return count


def delete_holding(store: Store, values: Sequence[str]) -> int:
    """Erase quarantined rows whose raw row holds any of the values (an erasure); returns how many."""
    forms = search_forms(values)
    if not forms:
        return 0
    condition = like_any("raw_row", len(forms))
    count = int(store.scalar(f"SELECT count(*) FROM quarantine WHERE {condition}", forms))
    if count:
        store.execute(f"DELETE FROM quarantine WHERE {condition}", forms)
    return count
